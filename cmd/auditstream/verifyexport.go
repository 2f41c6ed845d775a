package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/filesink"
	"github.com/auditstream/auditstream/internal/sink/s3"
)

const verifyExportUsage = `usage: auditstream verify s3 --bucket B [--prefix P] --keys FILE|URL [flags]
       auditstream verify dir PATH --keys FILE|URL

Checks what an S3 or file stream exported against the signed digests it
wrote next to the data (docs/integrity-exports.md): every digest's
signature and its link to the previous one, and every listed object's size
and SHA-256. It names each modified or missing object, a missing or
replaced digest (the first broken link), and objects no digest lists
(written after the newest digest: information; older: a warning). A clean
trail ends with "verified N objects, M events from T1 to T2".

--keys is a public keys file (a JSON list, as GET /api/v1/integrity/keys
answers) or that URL itself (sent with $AUDITSTREAM_TOKEN, else
$AUDITSTREAM_ADMIN_TOKEN). S3 credentials: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), else the AWS SDK's default
chain (AWS_PROFILE, a role...).

Exit status: 0 verified (warnings allowed), 1 a failure, 2 a usage error.

flags:
%s`

type verifyOpts struct {
	keys, bucket, prefix, region, endpoint string
	pathStyle                              bool
	quiet, asJSON                          bool
}

func verifyFlags(o *verifyOpts) *flag.FlagSet {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.keys, "keys", "", "public keys `FILE`, or the server's /api/v1/integrity/keys URL (required)")
	fs.StringVar(&o.bucket, "bucket", "", "s3: the `bucket` (required)")
	fs.StringVar(&o.prefix, "prefix", "", "s3: the stream's `prefix`")
	fs.StringVar(&o.region, "region", "", "s3: the bucket's region (default $AWS_REGION, else us-east-1)")
	fs.StringVar(&o.endpoint, "endpoint", "", "s3: S3-compatible endpoint `URL` instead of AWS")
	fs.BoolVar(&o.pathStyle, "force-path-style", false, "s3: address the bucket in the path (most S3-compatible servers; on with --endpoint)")
	fs.BoolVar(&o.quiet, "quiet", false, "print failures and the summary only")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON (failures, warnings, infos, counts, ok)")
	return fs
}

// parseVerify parses args and loads the keys. check reports what is
// wrong with the subcommand's flags and positional arguments (the
// arguments that are not flags), "" when nothing. code is the exit status
// when the command ends here, -1 when it goes on.
func parseVerify(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string,
	check func(o verifyOpts, positional []string) string) (o verifyOpts, positional []string, keys exportdigest.KeyLookup, code int) {
	fs := verifyFlags(&o)
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stdout, verifyExportUsage, flagList(fs))
				return o, nil, nil, 0
			}
			fmt.Fprintf(stderr, "verify: %v\n\n"+verifyExportUsage, err, flagList(fs))
			return o, nil, nil, 2
		}
		args = fs.Args()
		if len(args) > 0 {
			positional, args = append(positional, args[0]), args[1:]
		}
	}
	if o.keys == "" {
		fmt.Fprintf(stderr, "verify: --keys is required\n\n"+verifyExportUsage, flagList(fs))
		return o, nil, nil, 2
	}
	if problem := check(o, positional); problem != "" {
		fmt.Fprintf(stderr, problem+"\n\n"+verifyExportUsage, flagList(verifyFlags(new(verifyOpts))))
		return o, nil, nil, 2
	}
	keys, err := loadKeys(ctx, o.keys, env)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return o, nil, nil, 2
	}
	return o, positional, keys, -1
}

func verifyS3(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	o, _, keys, code := parseVerify(ctx, args, stdout, stderr, env, func(o verifyOpts, pos []string) string {
		if o.bucket == "" || len(pos) > 0 {
			return "verify s3: want --bucket and no other arguments"
		}
		return ""
	})
	if code >= 0 {
		return code
	}
	region := o.region
	if region == "" {
		region = env("AWS_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	creds := awsconf.Credentials{}
	if id := env("AWS_ACCESS_KEY_ID"); id != "" {
		creds = awsconf.Credentials{AccessKeyID: id, SecretAccessKey: secret.String(env("AWS_SECRET_ACCESS_KEY")), SessionToken: secret.String(env("AWS_SESSION_TOKEN"))}
	}
	client, err := s3.NewClient(ctx, s3.Config{Config: awsconf.Config{Region: region, Endpoint: o.endpoint, Credentials: creds},
		ForcePathStyle: o.pathStyle || o.endpoint != ""}, nil)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return 1
	}
	prefix := o.prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if !o.asJSON {
		fmt.Fprintf(stdout, "verifying s3://%s/%s\n", o.bucket, prefix)
	}
	r, err := exportdigest.Verify(ctx, s3.BucketStore{Client: client, Bucket: o.bucket},
		exportdigest.VerifyOptions{Prefix: prefix, Keys: keys, Data: s3.IsData})
	return printReport(r, err, o, stdout, stderr)
}

func verifyDir(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	o, pos, keys, code := parseVerify(ctx, args, stdout, stderr, env, func(_ verifyOpts, pos []string) string {
		if len(pos) != 1 {
			return "verify dir: want one directory"
		}
		return ""
	})
	if code >= 0 {
		return code
	}
	st, err := exportdigest.OpenDir(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return 1
	}
	defer st.Close()
	if !o.asJSON {
		fmt.Fprintf(stdout, "verifying %s\n", pos[0])
	}
	r, err := exportdigest.Verify(ctx, st, exportdigest.VerifyOptions{Keys: keys, Data: filesink.IsData})
	return printReport(r, err, o, stdout, stderr)
}

// printReport writes one line per finding, then the summary; the exit
// status is 1 on any failure.
func printReport(r exportdigest.Report, err error, o verifyOpts, stdout, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return 1
	}
	if o.asJSON {
		printJSON(stdout, struct {
			OK      bool   `json:"ok"`
			Summary string `json:"summary"`
			exportdigest.Report
		}{r.OK(), r.Summary(), r})
		return verifyStatus(r.OK())
	}
	for _, f := range r.Failures {
		fmt.Fprintf(stdout, "FAIL  %s\n", f)
	}
	if !o.quiet {
		for _, f := range r.Warnings {
			fmt.Fprintf(stdout, "WARN  %s\n", f)
		}
		for _, f := range r.Infos {
			fmt.Fprintf(stdout, "INFO  %s\n", f)
		}
	}
	fmt.Fprintln(stdout, r.Summary())
	return verifyStatus(r.OK())
}

// printJSON writes v as indented JSON, the form of every --json report.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// verifyStatus is the exit status of a verification: 0 verified, 1
// problems found.
func verifyStatus(ok bool) int {
	if !ok {
		return 1
	}
	return 0
}

// loadKeys reads the trusted public keys from a keys file or the server's
// keys URL.
func loadKeys(ctx context.Context, src string, env func(string) string) (exportdigest.KeyLookup, error) {
	var body []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("--keys: %w", err)
		}
		token := env("AUDITSTREAM_TOKEN")
		if token == "" {
			token = env("AUDITSTREAM_ADMIN_TOKEN")
		}
		if token != "" {
			req.Header.Set("Authorization", "SSWS "+token)
		}
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("--keys: %w", err)
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("--keys %s: %w", src, err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("--keys %s: %s", src, resp.Status)
		}
	} else {
		var err error
		if body, err = os.ReadFile(src); err != nil {
			return nil, fmt.Errorf("--keys: %w", err)
		}
	}
	keys, err := integrity.ParseKeys(body)
	if err != nil {
		return nil, fmt.Errorf("--keys %s: %w", src, err)
	}
	kr, err := integrity.VerifyOnly(keys)
	if err != nil {
		return nil, fmt.Errorf("--keys %s: %w", src, err)
	}
	return kr.Lookup(), nil
}
