// Command auditstream is a self-hosted System Log and Log Streaming service
// for audit events: it takes events in, keeps them in a durable journal and
// streams them to any number of destinations.
//
// Usage:
//
//	auditstream serve [--data-dir DIR] [--listen ADDR] [--config FILE] [--nats-url URL]
//	auditstream send [FILE]
//	auditstream streams list|get|apply|delete|activate|deactivate|status|replay|deadletters|redrive
//	auditstream sources list|get|create|update|delete|activate|deactivate|status
//	auditstream tokens list|get|create|delete
//	auditstream detections rules|upload|activate|deactivate|list|get|ack|close|backtest
//	auditstream pattern test --pattern JSON --event JSON
//	auditstream logs query|tail
//	auditstream lambda
//	auditstream import s3://bucket/prefix --since T --until T
//	auditstream verify s3 --bucket B [--prefix P] --keys FILE|URL
//	auditstream verify dir PATH --keys FILE|URL
//	auditstream secrets rotate [--data-dir DIR] [--config FILE] [--nats-url URL]
//	auditstream version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/auditstream/auditstream/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	if len(args) == 0 {
		// Run as an AWS Lambda function's bootstrap: the runtime starts the
		// binary with no arguments and AWS_LAMBDA_RUNTIME_API set.
		if env("AWS_LAMBDA_RUNTIME_API") != "" {
			return runLambda(ctx, nil, stdout, stderr, env)
		}
		cli.Usage(stderr)
		return 2
	}
	// The client commands share one signature and read their own flags.
	clientCommands := map[string]func(context.Context, []string, io.Reader, io.Writer, io.Writer, func(string) string) int{
		"send": cli.Send, "streams": cli.Streams, "sources": cli.Sources, "tokens": cli.Tokens,
		"detections": cli.Detections, "activity": cli.Activity, "logs": runLogs,
	}
	if cmd, ok := clientCommands[args[0]]; ok {
		return cmd(ctx, args[1:], stdin, stdout, stderr, env)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, env)
	case "pattern":
		return runPattern(args[1:], stdin, stdout, stderr)
	case "lambda":
		return runLambda(ctx, args[1:], stdout, stderr, env)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr, env)
	case "secrets":
		return runSecrets(ctx, args[1:], stdout, stderr, env)
	case "verify":
		return runVerify(ctx, args[1:], stdout, stderr, env)
	case "version", "--version":
		fmt.Fprintln(stdout, "auditstream", version)
		return 0
	case "help", "-h", "--help":
		cli.Usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "auditstream: unknown command %q\n\n", args[0])
		cli.Usage(stderr)
		return 2
	}
}

// parseFlags parses args into fs, which takes no positional arguments.
// usage is a format with one %s for the flag list. On -h or --help it
// prints the usage to stdout and reports exit 0; on a bad flag or an
// argument it prints the error and usage to stderr and reports exit 2.
// done is false when the command should go on.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, usage string) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, usage, flagList(fs))
		return 0, true
	case err == nil && fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n\n", fs.Name(), err)
		fmt.Fprintf(stderr, usage, flagList(fs))
		return 2, true
	}
	return 0, false
}

// flagList formats fs's flags as flag.PrintDefaults does, with "--" names.
func flagList(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&b, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(&b, " %s", name)
		}
		fmt.Fprintf(&b, "\n      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(&b, " (default %q)", f.DefValue)
		}
		b.WriteString("\n")
	})
	return b.String()
}
