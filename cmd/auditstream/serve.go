package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/auditstream/auditstream/internal/app"
	"github.com/auditstream/auditstream/internal/config"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "directory of the embedded journal (default ./data)")
	listen := fs.String("listen", "", "API address host:port (default 127.0.0.1:8080)")
	cfgPath := fs.String("config", "", "YAML configuration file")
	natsURL := fs.String("nats-url", "", "external NATS server or cluster instead of the embedded journal")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := config.Default()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(stderr, "serve: %v\n", err)
			return 2
		}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *natsURL != "" {
		cfg.Journal.NatsURL = *natsURL
	}
	log := newLogger(stderr, cfg.Log)
	// AUDITSTREAM_CPUPROFILE=FILE records a CPU profile from start to
	// shutdown, for performance work (see BENCHMARKS.md).
	if path := env("AUDITSTREAM_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(stderr, "serve: cpu profile: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "serve: cpu profile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	// AUDITSTREAM_MEMPROFILE=FILE writes a heap profile at shutdown.
	if path := env("AUDITSTREAM_MEMPROFILE"); path != "" {
		defer func() {
			f, err := os.Create(path)
			if err != nil {
				fmt.Fprintf(stderr, "serve: heap profile: %v\n", err)
				return
			}
			defer f.Close()
			_ = pprof.WriteHeapProfile(f)
		}()
	}
	err := app.Run(ctx, cfg, app.Options{AdminToken: env("AUDITSTREAM_ADMIN_TOKEN"), SecretKey: env("AUDITSTREAM_SECRET_KEY"),
		Ready: func(addr string) { fmt.Fprintf(stdout, "listening on http://%s\n", addr) }}, log)
	if err != nil {
		log.Error("serve", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
