package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/app"
	"github.com/auditstream/auditstream/internal/config"
)

const serveUsage = `usage: auditstream serve [--config FILE] [--data-dir DIR] [--listen ADDR] [--nats-url URL] [--print-config]

Runs the service: the journal (embedded NATS JetStream in --data-dir, or the
NATS server of --nats-url), log streams, sources and the API on --listen.
It prints "listening on http://ADDR" once the API answers; GET /readyz then
answers 200. Flags override the configuration file. --print-config prints
the effective configuration (every default resolved, secrets redacted) as
YAML and exits without starting anything.

flags:
%s
environment:
  AUDITSTREAM_ADMIN_TOKEN
      the secret of an all-orgs admin token, created (or kept) at start; at
      least 16 characters, e.g. export AUDITSTREAM_ADMIN_TOKEN=$(openssl rand -hex 24).
      Without it and without any token in the store, nothing can use the API.
  AUDITSTREAM_CPUPROFILE, AUDITSTREAM_MEMPROFILE
      write a CPU profile (start to stop) / a heap profile (at stop) to this file
  AUDITSTREAM_MEMPROFILE_PEAK
      set (with AUDITSTREAM_MEMPROFILE=FILE): also FILE.peak, the heap profile
      at the largest heap in use seen (checked every 250 ms)
  GOMEMLIMIT
      the Go runtime's soft memory limit, e.g. 200MiB on a small machine
`

// journalFlags are the flags of the commands that open the journal
// (serve, verify journal, import, secrets rotate): where the embedded
// journal is, the configuration file, and an external NATS server.
type journalFlags struct{ dataDir, config, natsURL *string }

// addJournalFlags adds the journal flags to fs. prefix starts each help
// text (verify's "admin: "); configHelp says what the command reads from
// the configuration file.
func addJournalFlags(fs *flag.FlagSet, prefix, configHelp string) journalFlags {
	return journalFlags{
		dataDir: fs.String("data-dir", "", prefix+"`DIR` of the embedded journal (default ./data)"),
		config:  fs.String("config", "", prefix+"YAML configuration `FILE` ("+configHelp+")"),
		natsURL: fs.String("nats-url", "", prefix+"external NATS server or cluster `URL` instead of the embedded journal"),
	}
}

// load is loadConfig with the flags' values.
func (j journalFlags) load() (config.Config, error) {
	return loadConfig(*j.config, *j.dataDir, *j.natsURL)
}

// loadConfig loads the configuration file path (the defaults when path is
// empty) and applies the --data-dir and --nats-url flags the commands
// that open the journal share, when set.
func loadConfig(path, dataDir, natsURL string) (config.Config, error) {
	cfg := config.Default()
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return cfg, err
		}
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	if natsURL != "" {
		cfg.Journal.NatsURL = natsURL
	}
	return cfg, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	jf := addJournalFlags(fs, "", "see the README's Configuration")
	listen := fs.String("listen", "", "API address `host:port` (default 127.0.0.1:8080)")
	printConfig := fs.Bool("print-config", false, "print the effective configuration (defaults resolved, secrets redacted) and exit")
	if code, done := parseFlags(fs, args, stdout, stderr, serveUsage); done {
		return code
	}
	cfg, err := jf.load()
	if err != nil {
		fmt.Fprintf(stderr, "serve: %v\n", err)
		return 2
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *printConfig {
		eff, err := app.EffectiveConfig(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "serve: %v\n", err)
			return 2
		}
		enc := yaml.NewEncoder(stdout)
		enc.SetIndent(2)
		if err := errors.Join(enc.Encode(eff), enc.Close()); err != nil {
			fmt.Fprintf(stderr, "serve: print config: %v\n", err)
			return 1
		}
		return 0
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
		// AUDITSTREAM_MEMPROFILE_PEAK=1 also writes FILE.peak, a heap
		// profile taken whenever the heap in use reaches a new maximum
		// (checked every 250 ms): what a flood's peak RSS is made of.
		if env("AUDITSTREAM_MEMPROFILE_PEAK") != "" {
			pctx, stop := context.WithCancel(ctx)
			defer stop()
			go peakHeapProfile(pctx, path+".peak", stderr)
		}
	}
	err = app.Run(ctx, cfg, app.Options{AdminToken: env("AUDITSTREAM_ADMIN_TOKEN"), SecretKey: env("AUDITSTREAM_SECRET_KEY"),
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

// peakHeapProfile writes a heap profile to path each time the heap in use
// exceeds the largest seen so far by 8 MiB, until ctx ends.
func peakHeapProfile(ctx context.Context, path string, stderr io.Writer) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var peak uint64
	var ms runtime.MemStats
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse < peak+8<<20 {
			continue
		}
		peak = ms.HeapInuse
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(stderr, "serve: heap profile: %v\n", err)
			return
		}
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		_ = f.Close()
	}
}
