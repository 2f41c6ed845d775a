// Package app wires auditstream together and runs it: journal, then log
// stream runners, then sources (Okta pollers), then the API; on the way
// down, the API stops taking events first, pollers finish their page,
// runners finish their batches, and the journal closes last.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/pattern"
	"github.com/auditstream/auditstream/internal/sink/outbound"
	"github.com/auditstream/auditstream/internal/stream"
)

// Options are the inputs of Run beyond the config file.
type Options struct {
	// AdminToken, when set, is made to exist as an all-orgs admin token.
	AdminToken string
	// Ready, when set, receives the API's address once it is serving.
	Ready func(addr string)
	// SecretKey is AUDITSTREAM_SECRET_KEY: the key that encrypts the
	// secrets of log streams and sources at rest (see secret.Keyring).
	SecretKey string
}

// Run serves until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg config.Config, opts Options, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if opts.AdminToken != "" {
		if err := checkAdminToken(opts.AdminToken); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	// board collects the conditions /readyz reports (journal appends
	// failing, events lost, retention holding ingest back).
	board := &health.Board{}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Bind the API first: a second start that fails on "address in use"
	// must not have touched the journal's files.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()

	// The secret keys are read before the journal is touched, so a bad key
	// file changes nothing.
	keys, err := secretKeys(cfg, opts.SecretKey)
	if err != nil {
		return err
	}
	jopts := journalOptions(cfg)
	jopts.Health = board
	j, err := journal.Open(ctx, jopts, log)
	if err != nil {
		return err
	}
	defer j.Close()
	reportSealing(ctx, cfg, j, keys, log)
	registerJournalMetrics(reg, j)
	reportLostEvents(ctx, j, cfg.Ingest.DefaultOrg, log)

	tokKV, err := j.KV(ctx, journal.BucketTokens)
	if err != nil {
		return err
	}
	tokens, err := auth.NewStore(ctx, tokKV, log)
	if err != nil {
		return err
	}
	defer tokens.Close()
	if opts.AdminToken != "" {
		if err := setAdminToken(ctx, tokens, j, defaultOrg(cfg), opts.AdminToken, log); err != nil {
			return err
		}
	}
	if opts.AdminToken == "" && len(tokens.List(auth.AllOrgs)) == 0 {
		log.Warn("no API token exists, so nothing can use the API: stop, then start again with " +
			"AUDITSTREAM_ADMIN_TOKEN set to a long random value, e.g. " +
			"export AUDITSTREAM_ADMIN_TOKEN=$(openssl rand -hex 24); that creates an all-orgs admin token " +
			"with which `auditstream tokens create` makes narrower ones")
	}

	fixed, err := configStreams(cfg, patternOptions(cfg.Patterns))
	if err != nil {
		return err
	}
	lsKV, err := j.KV(ctx, journal.BucketStreams)
	if err != nil {
		return err
	}
	streams, err := stream.NewStore(ctx, lsKV, fixed, log, kvstore.WithCodec(keys))
	if err != nil {
		return err
	}
	defer streams.Close()

	sources := &sourceRuntime{}
	// out is where streams and sources connect from: the egress policy
	// and the own-API guard, in the dialer.
	policy, err := egress.New(cfg.Egress.Allow, cfg.Egress.Deny)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	out := outbound.New(outbound.Config{Policy: policy, DataDir: cfg.DataDir, FileRoots: cfg.FileRoots})
	routes, err := extraRoutes(routeDeps{cfg: cfg, journal: j, log: log, registry: reg, sources: sources, outbound: out, keys: keys})
	if err != nil {
		return err
	}
	defer sources.stop() // on an early return; stop is idempotent
	statusKV, err := j.KV(ctx, journal.BucketStatus)
	if err != nil {
		return err
	}
	out.SetListen(ln.Addr().String())
	typ := newDestinations(log, out, envelopeDefaults{account: cfg.Envelope.Account, region: cfg.Envelope.Region})
	typ.patterns = patternOptions(cfg.Patterns)
	sup := stream.NewSupervisor(stream.SupervisorConfig{
		Store: streams, Journal: j, Build: typ.Build, Log: log, Metrics: stream.NewMetrics(reg),
		StopTimeout: time.Duration(cfg.ShutdownTimeout) / 2, StatusKV: statusKV,
	})
	runCtx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { sup.Run(runCtx) })
	// Retention keeps the journal under maxBytes without losing what an
	// active stream has not delivered (journal.whenFull).
	retention := stream.NewRetention(stream.RetentionConfig{Journal: j, Supervisor: sup, WhenFull: cfg.Journal.WhenFull,
		Health: board, Log: log, Registry: reg, SystemOrg: cfg.Ingest.DefaultOrg})
	wg.Go(func() { retention.Run(runCtx) })
	// Sources start after the runners and before the API, and stop after
	// the API and before the runners.
	sources.start(context.WithoutCancel(ctx))

	limits := api.DefaultLimits
	if cfg.Ingest.MaxBodyBytes > 0 {
		limits.MaxBody = cfg.Ingest.MaxBodyBytes
	}
	if cfg.Ingest.MaxEventBytes > 0 {
		limits.MaxEvent = cfg.Ingest.MaxEventBytes
	}
	if cfg.Ingest.MaxEvents > 0 {
		limits.MaxEvents = cfg.Ingest.MaxEvents
	}
	srv := api.New(api.Deps{Journal: j, Tokens: tokens, Streams: streams, Supervisor: sup, Types: typ,
		ValidateFilter: typ.validateFilter, Log: log, Registry: reg, DefaultOrg: cfg.Ingest.DefaultOrg, Limits: limits,
		Routes: routes, Health: board, PublicURL: publicURL(cfg), Retention: retention})
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("auditstream is serving", "addr", ln.Addr().String(), "data", cfg.DataDir)
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = err
	}
	log.Info("shutting down")
	// Stop intake first: new events get 503, in-flight requests finish.
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout)/2)
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	cancel()
	// Then pollers finish their page, runners their batches, then the
	// journal closes (defer).
	sources.stop()
	stopRunners()
	wg.Wait()
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	log.Info("stopped")
	return runErr
}

func configStreams(cfg config.Config, opts []pattern.Option) ([]stream.Definition, error) {
	var out []stream.Definition
	for _, s := range cfg.Streams {
		settings, err := s.SettingsJSON()
		if err != nil {
			return nil, fmt.Errorf("stream %s settings: %w", s.ID, err)
		}
		filter, err := s.FilterJSON()
		if err != nil {
			return nil, fmt.Errorf("stream %s filter: %w", s.ID, err)
		}
		if filter != nil {
			if err := ValidateFilter(filter, opts...); err != nil {
				return nil, fmt.Errorf("stream %s filter: %w", s.ID, err)
			}
		}
		status := s.Status
		if status == "" {
			status = stream.StatusActive
		}
		org := s.Org
		if org == "" {
			org = auth.AllOrgs
		}
		out = append(out, stream.Definition{ID: s.ID, Name: s.Name, Type: s.Type, Org: org, Status: status,
			Settings: settings, Filter: filter, ReadOnly: true})
	}
	return out, nil
}

func registerJournalMetrics(reg *prometheus.Registry, j *journal.Journal) {
	info := func(pick func(msgs, bytes uint64) uint64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			m, b, err := j.Info(ctx)
			if err != nil {
				return 0
			}
			return float64(pick(m, b))
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auditstream_journal_messages", Help: "Events in the journal."},
			info(func(m, _ uint64) uint64 { return m })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auditstream_journal_bytes", Help: "Bytes stored by the journal."},
			info(func(_, b uint64) uint64 { return b })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "auditstream_journal_lost_events_total",
			Help: "Events recorded as stored that were missing when the journal started (corrupt or truncated files)."},
			func() float64 { return float64(j.LostTotal()) }),
	)
}
