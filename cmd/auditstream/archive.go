package main

import (
	"context"
	"encoding/json"
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

// runLambda is `auditstream lambda`, the AWS Lambda handler. It is
// configured by environment variables (internal/lambda) and serves
// invocations from the Lambda runtime API until the runtime stops it.
func runLambda(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "lambda: unexpected argument %q (configure with environment variables, see the README)\n", args[0])
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

// runImport is `auditstream import`, rehydration from an S3 archive: it
// reads archived objects back into the journal, which it opens directly
// like serve does (stop serve first, or use --nats-url with a cluster).
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.String("since", "", "import events published at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "import events published before this time (RFC 3339 or YYYY-MM-DD)")
	org := fs.String("org", config.DefaultOrg, "org of events whose archive object does not name one")
	dataDir := fs.String("data-dir", "", "directory of the embedded journal (default ./data, as serve)")
	natsURL := fs.String("nats-url", "", "external NATS server or cluster instead of the embedded journal")
	cfgPath := fs.String("config", "", "serve's YAML configuration file (journal settings)")
	region := fs.String("region", "", "the bucket's region (default $AWS_REGION, else us-east-1)")
	endpoint := fs.String("endpoint", "", "S3-compatible endpoint URL instead of AWS")
	pathStyle := fs.Bool("force-path-style", false, "address the bucket in the path (most S3-compatible servers)")
	roleARN := fs.String("role-arn", "", "role to assume for reading the bucket")
	var target string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		target, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if target == "" && fs.NArg() > 0 {
		target = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "import: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	bucket, prefix, err := archive.ParseURL(target)
	if err != nil {
		fmt.Fprintf(stderr, "import %q: %v\nusage: auditstream import s3://bucket/prefix --since T --until T\n", target, err)
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
	cfg := config.Default()
	if *cfgPath != "" {
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(stderr, "import: %v\n", err)
			return 2
		}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *natsURL != "" {
		cfg.Journal.NatsURL = *natsURL
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
