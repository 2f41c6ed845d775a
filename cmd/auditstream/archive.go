package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/lambda"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/s3"
)

const lambdaUsage = `usage: auditstream lambda

Runs as an AWS Lambda function (runtime provided.al2023; the binary named
bootstrap also starts this mode when AWS_LAMBDA_RUNTIME_API is set). Each
invocation takes EventBridge events (Okta's log stream) and writes them to
S3 in the archive's layout, or forwards them to an auditstream server.
It takes no flags; the environment configures it:

  AUDITSTREAM_S3_BUCKET          bucket to write to (or AUDITSTREAM_FORWARD_URL)
  AUDITSTREAM_S3_PREFIX          key prefix
  AUDITSTREAM_S3_REGION          bucket region (default AWS_REGION)
  AUDITSTREAM_S3_ENDPOINT        S3-compatible endpoint URL instead of AWS
  AUDITSTREAM_S3_FORCE_PATH_STYLE  true: bucket in the path
  AUDITSTREAM_S3_FORMAT          object format (see the README's S3 archive)
  AUDITSTREAM_S3_COMPRESSION     object compression
  AUDITSTREAM_S3_COLUMNS         CSV columns, comma-separated
  AUDITSTREAM_S3_KEY_TEMPLATE    object key template
  AUDITSTREAM_ORG                org of the events (default from the Okta source name)
  AUDITSTREAM_FORWARD_URL        instead of S3: post events to this ingest URL
  AUDITSTREAM_FORWARD_TOKEN      SSWS token for AUDITSTREAM_FORWARD_URL
  AWS_LAMBDA_RUNTIME_API         set by Lambda; without it the command stops

Credentials are the function's execution role.
`

// runLambda is `auditstream lambda`, the AWS Lambda handler. It is
// configured by environment variables (internal/lambda) and serves
// invocations from the Lambda runtime API until the runtime stops it.
func runLambda(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprint(stdout, lambdaUsage)
			return 0
		}
		fmt.Fprintf(stderr, "lambda: unexpected argument %q (configure with environment variables)\n\n%s", args[0], lambdaUsage)
		return 2
	}
	cfg, err := lambda.ConfigFromEnv(env)
	if err != nil {
		fmt.Fprintf(stderr, "lambda: %v\n", err)
		return 2
	}
	h, err := lambda.New(cfg, lambda.Deps{})
	if err != nil {
		fmt.Fprintf(stderr, "lambda: %v\n", err)
		return 2
	}
	if env("AWS_LAMBDA_RUNTIME_API") == "" {
		fmt.Fprintln(stderr, "lambda: AWS_LAMBDA_RUNTIME_API is not set: run this inside AWS Lambda (provided.al2023)")
		return 2
	}
	awslambda.StartWithOptions(func(ctx context.Context, payload json.RawMessage) (lambda.Response, error) {
		return h.Invoke(ctx, payload)
	}, awslambda.WithContext(ctx))
	return 0
}

const importUsage = `usage: auditstream import s3://BUCKET/PREFIX [--since T] [--until T] [flags]

Reads the objects an S3 archive stream (or the lambda command) wrote under
s3://BUCKET/PREFIX back into the journal; events already there (same uuid)
are skipped. It opens the journal directly, as serve does: stop serve first,
or use --nats-url with a NATS cluster. Credentials: the AWS SDK's default
chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role...).
It prints what it read, stored and skipped.

flags:
%s`

// runImport is `auditstream import`, rehydration from an S3 archive: it
// reads archived objects back into the journal, which it opens directly
// like serve does (stop serve first, or use --nats-url with a cluster).
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	since := fs.String("since", "", "import events published at or after `T` (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "import events published before `T` (RFC 3339 or YYYY-MM-DD)")
	org := fs.String("org", config.DefaultOrg, "`org` of events whose archive object does not name one")
	jf := addJournalFlags(fs, "", "serve's, for the journal settings")
	region := fs.String("region", "", "the bucket's region (default $AWS_REGION, else us-east-1)")
	endpoint := fs.String("endpoint", "", "S3-compatible endpoint URL instead of AWS")
	pathStyle := fs.Bool("force-path-style", false, "address the bucket in the path (most S3-compatible servers)")
	roleARN := fs.String("role-arn", "", "role to assume for reading the bucket")
	var target string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		target, args = args[0], args[1:]
	}
	if target == "-h" || target == "--help" || target == "-help" {
		target, args = "", append([]string{"-h"}, args...)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, importUsage, flagList(fs))
			return 0
		}
		fmt.Fprintf(stderr, "import: %v\n\n"+importUsage, err, flagList(fs))
		return 2
	}
	if target == "" && fs.NArg() > 0 {
		target = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "import: unexpected argument %q\n\n"+importUsage, fs.Arg(0), flagList(fs))
		return 2
	}
	bucket, prefix, err := archive.ParseURL(target)
	if err != nil {
		fmt.Fprintf(stderr, "import %q: %v\n\n"+importUsage, target, err, flagList(fs))
		return 2
	}
	opts := archive.ImportOptions{Bucket: bucket, Prefix: prefix, Org: *org}
	if opts.Since, err = parseTime(*since); err != nil {
		fmt.Fprintf(stderr, "import: --since: %v\n", err)
		return 2
	}
	if opts.Until, err = parseTime(*until); err != nil {
		fmt.Fprintf(stderr, "import: --until: %v\n", err)
		return 2
	}
	if *region == "" {
		*region = env("AWS_REGION")
	}
	if *region == "" {
		*region = "us-east-1"
	}
	cfg, err := jf.load()
	if err != nil {
		fmt.Fprintf(stderr, "import: %v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.Log)
	opts.Log = log
	client, err := s3.NewClient(ctx, s3.Config{Config: awsconf.Config{Region: *region, Endpoint: *endpoint,
		Credentials: awsconf.Credentials{RoleARN: *roleARN}}, ForcePathStyle: *pathStyle}, nil)
	if err != nil {
		fmt.Fprintf(stderr, "import: %v\n", err)
		return 1
	}
	j, err := journal.Open(ctx, journal.Options{
		DataDir: cfg.DataDir, URL: cfg.Journal.NatsURL, MaxAge: time.Duration(cfg.Journal.MaxAge),
		MaxBytes: cfg.Journal.MaxBytes, DuplicateWindow: time.Duration(cfg.Journal.DuplicateWindow),
		SyncAlways: cfg.Journal.SyncAlways, SyncInterval: time.Duration(cfg.Journal.SyncInterval), Replicas: cfg.Journal.Replicas,
		DeadLetterMaxBytes: cfg.Journal.DeadLetters.MaxBytes,
	}, log.With("component", "journal"))
	if err != nil {
		fmt.Fprintf(stderr, "import: %v\n", err)
		return 1
	}
	defer j.Close()
	res, err := archive.Import(ctx, client, j, opts)
	fmt.Fprintf(stdout, "import s3://%s/%s: %d objects read, %d pruned; %d stored, %d duplicates, %d out of range, %d invalid\n",
		bucket, prefix, res.Objects, res.Pruned, res.Stored, res.Duplicates, res.OutOfRange, res.Invalid)
	if err != nil {
		log.Error("import", "err", err)
		return 1
	}
	return 0
}

// parseTime reads RFC 3339 or a date (midnight UTC); "" is the zero time.
func parseTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2024-08-13T15:00:00Z) or a date (2024-08-13)", v)
}
