// Command load is auditstream's end-to-end load tool: it sends generated
// Okta LogEvents to a server on this machine through POST /api/v1/events
// and measures how fast, how completely and at what CPU cost log streams
// deliver them back: http streams to a webhook receiver it runs itself,
// or an s3 stream to a versitygw it runs itself. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// mainErr parses args, runs and prints the report; it returns the exit
// code: 0 when every event was delivered, 1 otherwise, 2 for bad flags.
func mainErr(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	var asJSON bool
	fs.StringVar(&cfg.server, "server", "http://127.0.0.1:8080", "auditstream server `URL` (loopback only)")
	fs.StringVar(&cfg.token, "token", env("AUDITSTREAM_ADMIN_TOKEN"), "API `token` (default $AUDITSTREAM_ADMIN_TOKEN)")
	fs.IntVar(&cfg.events, "events", 200000, "total events to send")
	fs.IntVar(&cfg.batch, "batch", 1000, "events per request")
	fs.IntVar(&cfg.concurrency, "concurrency", 4, "concurrent senders")
	fs.Float64Var(&cfg.rate, "rate", 0, "target events/s (0: as fast as possible)")
	fs.StringVar(&cfg.receiver, "receiver", "127.0.0.1:0", "listen `address` of the webhook receiver (loopback only)")
	fs.IntVar(&cfg.pid, "pid", 0, "server `pid` whose CPU time and RSS to measure (Linux /proc)")
	fs.IntVar(&cfg.streams, "streams", 1, "`N` http streams; more than one: each filters a share of the event types; 0: none (ingest only)")
	fs.StringVar(&cfg.sink, "sink", sinkHTTP, "destination: http (webhook receiver) or s3 (a versitygw the tool runs)")
	fs.StringVar(&cfg.versitygw, "versitygw", "", "versitygw `binary` for --sink s3 (default $VERSITYGW, PATH, $GOPATH/bin)")
	fs.DurationVar(&cfg.s3MaxAge, "s3-max-age", 2*time.Second, "the s3 stream's batch.maxAge")
	fs.StringVar(&cfg.testdata, "testdata", "", "NDJSON template `file` (default testdata/okta/logevents.ndjson in the module root)")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Minute, "overall time limit")
	fs.BoolVar(&cfg.gzip, "gzip", false, "gzip request bodies")
	fs.IntVar(&cfg.noise, "noise", 0, "`N` pseudo-random characters in each event (member benchNoise), so that batches compress as real events do (the templates repeat: 400 brings a 100-event batch from 11.7x to 3.5x with S2)")
	fs.IntVar(&cfg.orgs, "orgs", 1, "spread the requests over `N` orgs (bench0 … benchN-1, ?org=; needs a token of every org)")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	// The token default comes from the environment; keep it out of -h.
	tokenFlag := fs.Lookup("token")
	tokenFlag.DefValue = ""
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "load: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if cfg.testdata == "" {
		wd, err := os.Getwd()
		if err == nil {
			cfg.testdata, err = defaultTestdata(wd)
		}
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return 2
		}
	}
	if cfg.sink == sinkS3 {
		bin, err := findVersitygw(cfg.versitygw, env)
		if err != nil {
			fmt.Fprintf(stderr, "load: %v\n", err)
			return 2
		}
		cfg.versitygw = bin
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 2
	}

	rep, err := run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.WriteText(stdout)
	}
	if !rep.OK() {
		return 1
	}
	return 0
}
