// Package app wires auditstream together and runs it: journal, retention,
// log stream runners, query index, sources (pollers), then the API; on
// the way down, the API stops taking events first, pollers finish their
// page, runners finish their batches, and the journal closes last (see
// the lifecycle list in Run).
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/console"
	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/sink/outbound"
	"github.com/auditstream/auditstream/internal/source"
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
//
// It first checks everything it can without touching the journal, then
// builds the components (constructors start nothing), then runs them as
// one ordered list (see the list below for the reason of each place) and
// stops them in reverse under one deadline, cfg.ShutdownTimeout.
func Run(ctx context.Context, cfg config.Config, opts Options, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	// Every default is resolved here, once; below, cfg is the effective
	// configuration (serve --print-config shows it).
	cfg = cfg.WithDefaults()
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
	// A default publicUrl of a listen address with port 0 names port 0:
	// the links in answers (Okta's Link paging) name the bound port.
	if _, port, err := net.SplitHostPort(cfg.Listen); err == nil && port == "0" && cfg.Query.PublicURL == config.DefaultPublicURL(cfg.Listen) {
		cfg.Query.PublicURL = config.DefaultPublicURL(ln.Addr().String())
	}

	// The secret keys are read before the journal is touched, so a bad key
	// file changes nothing.
	keys, err := secretKeys(cfg, opts.SecretKey)
	if err != nil {
		return err
	}
	// The config file's streams and sources are checked through their
	// type tables before the journal is touched, as the API checks them.
	dcl, err := declare(cfg, ln.Addr().String(), log)
	if err != nil {
		return err
	}
	typ, srcTypes := dcl.types, dcl.sourceTypes
	// So are the integrity keys that sign the trail's digests; a key is
	// generated into the data directory only once the rest checked out.
	ikeys, err := integrityKeys(cfg, log)
	if err != nil {
		return err
	}
	// S3 and file streams sign the digests of what they export with them.
	typ.signer = ikeys

	jopts := journalOptions(cfg)
	jopts.Health = board
	j, err := journal.Open(ctx, jopts, log)
	if err != nil {
		return err
	}
	// closers release the journal and the stores on it, in reverse; the
	// lifecycle's "journal" item runs them, or, when the start fails
	// before the lifecycle exists, the deferred call below.
	closers := []func(){func() { j.Close() }}
	closeAll := func(context.Context) error {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		closers = nil
		return nil
	}
	defer func() { _ = closeAll(ctx) }() // a no-op once the lifecycle closed them
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
	closers = append(closers, tokens.Close)
	if opts.AdminToken != "" {
		if err := setAdminToken(ctx, tokens, j, cfg.Ingest.DefaultOrg, opts.AdminToken, log); err != nil {
			return err
		}
	}
	if opts.AdminToken == "" && len(tokens.List(auth.AllOrgs)) == 0 {
		log.Warn("no API token exists, so nothing can use the API: stop, then start again with " +
			"AUDITSTREAM_ADMIN_TOKEN set to a long random value, e.g. " +
			"export AUDITSTREAM_ADMIN_TOKEN=$(openssl rand -hex 24); that creates an all-orgs admin token " +
			"with which `auditstream tokens create` makes narrower ones")
	}

	lsKV, err := j.KV(ctx, journal.BucketStreams)
	if err != nil {
		return err
	}
	streams, err := stream.NewStore(ctx, lsKV, dcl.streams, log, kvstore.WithCodec(keys))
	if err != nil {
		return err
	}
	closers = append(closers, streams.Close)
	// statusKV holds the streams' and the sources' last statuses.
	statusKV, err := j.KV(ctx, journal.BucketStatus)
	if err != nil {
		return err
	}
	// clusterKV holds the nodes' heartbeats and the log streams' leases:
	// each stream runs on one node of those sharing the journal.
	clusterKV, err := j.KV(ctx, lease.Bucket)
	if err != nil {
		return err
	}
	nodes := lease.NewNodes(lease.NodesConfig{KV: clusterKV, Node: cfg.Cluster.NodeID, Version: buildVersion(), Log: log})
	// The first heartbeat before any supervisor runs, so that their first
	// choices see this node.
	if err := nodes.Announce(ctx); err != nil {
		return fmt.Errorf("node heartbeat: %w", err)
	}
	sup := stream.NewSupervisor(stream.SupervisorConfig{
		Store: streams, Journal: j, Build: typ.Build, Log: log, Metrics: stream.NewMetrics(reg),
		StopTimeout: time.Duration(cfg.ShutdownTimeout) / 2, StatusKV: statusKV,
		LeaseKV: clusterKV, Nodes: nodes, Runner: stream.RunnerConfig{SystemOrg: cfg.Ingest.DefaultOrg},
	})
	// Retention keeps the journal under maxBytes without losing what an
	// active stream has not delivered (journal.whenFull).
	retention := stream.NewRetention(stream.RetentionConfig{Journal: j, Supervisor: sup, WhenFull: cfg.Journal.WhenFull,
		Health: board, Log: log, Registry: reg, SystemOrg: cfg.Ingest.DefaultOrg})
	integ, err := newIntegrity(ctx, cfg, j, ikeys, clusterKV, reg, log)
	if err != nil {
		return err
	}
	// The followers of the journal (the query index, the activity fold,
	// the detection runtime) read it through one shared reader per
	// partition (docs/journal.md, "One reader for the followers"), which
	// takes the batches this process stored from its writer ("The feed
	// takes what this process stored").
	readers := journal.NewFanout(j, journal.FanoutConfig{Log: log})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "auditstream_journal_followers_detached_total",
		Help: "Times a journal follower (query index, activity, detections) was left behind by the shared reader (too slow, or the reader failed) and read on its own consumer until it caught up (nothing is lost).",
	}, func() float64 { return float64(readers.Detached()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "auditstream_journal_feed_read_from_server_total",
		Help: "Journal messages the followers' shared reader read from nats-server: what this process's writer did not store (another node's writes) or did not hand over (the reader fell behind). On one node it stays near 0: the reader takes the writer's batches (docs/journal.md).",
	}, func() float64 { return float64(readers.FromServer()) }))
	queries, err := newQuery(ctx, cfg, j, readers, keys, board, log)
	if err != nil {
		return err
	}
	act, err := newActivity(ctx, cfg, j, readers, queries, reg, log)
	if err != nil {
		return err
	}
	limits := ingestLimits(cfg)
	sources, err := newSources(ctx, sourceDeps{cfg: cfg, journal: j, log: log, registry: reg, keys: keys,
		types: srcTypes, fixed: dcl.sources, statusKV: statusKV, limits: limits})
	if err != nil {
		return err
	}
	closers = append(closers, sources.store.Close)

	dets, err := newDetections(ctx, detectionsDeps{cfg: cfg, journal: j, fanout: readers, leaseKV: clusterKV, registry: reg, log: log, activity: act.store, health: board})
	if err != nil {
		return err
	}

	srv := api.New(api.Deps{Journal: j, Tokens: tokens, Streams: streams, Supervisor: sup, Types: typ,
		ValidateFilter: typ.validateFilter, Log: log, Registry: reg, DefaultOrg: cfg.Ingest.DefaultOrg, Limits: limits,
		Routes: append(append(append(append(extraRoutes(queries, sources, routeDeps{cfg: cfg, journal: j, log: log}), act.routes...),
			api.ClusterRoute(clusterDeps(cfg, j, clusterKV, sources.stateKV))), integ.api.Routes()...), dets.routes()...), Health: board,
		PublicURL: publicURL(cfg), Retention: retention})
	handler, err := withConsole(ctx, cfg, j, srv, tokens, typ, log, console.Deps{Log: log, Sources: srcTypes})
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// The lifecycle, in start order; it stops in reverse. Consumers of the
	// journal start before its producers and stop after them (OTel's
	// order), so nothing appends to a journal that is closing and nothing
	// stops reading while events still come in.
	lc := newLifecycle(log,
		// The journal (and the stores on it) first and last: every other
		// item reads or writes it. It is already open; its stop closes
		// the stores, then the journal.
		component{name: "journal", stop: closeAll},
		// Retention before the runners and after them on the way down: it
		// keeps room in the journal for everything that writes after it
		// (runners' dead letters and status events, sources, ingest). It
		// reads the streams' state from the store and the supervisor's
		// statuses, which answer before the supervisor runs.
		component{name: "retention", run: func(ctx context.Context) error { retention.Run(ctx); return nil }},
		// The log stream runners consume the journal: up before anything
		// appends, so no event waits for a runner; on the way down they
		// finish their batches (StopTimeout) after intake has stopped.
		component{name: "streams", run: func(ctx context.Context) error { sup.Run(ctx); return nil }},
		// The heartbeat after the runners, so that on the way down this
		// node leaves first (the others stop preferring it) and its
		// runners then finish their batches and give their leases up.
		component{name: "heartbeat", run: func(ctx context.Context) error { nodes.Run(ctx); return nil }},
		// The followers' shared reader of the journal: up before the query
		// index, the activity fold and the detection runtime, which read
		// through it, and down after them (one reading on its own when it
		// is not running loses nothing).
		component{name: "journal readers", run: readers.Run},
		// The query index follows the journal (Engine.Run); it runs before
		// the API so /api/v1/logs answers from it (queries wait for it to
		// catch up), and stops after the API so no query waits on it.
		component{name: "query index", run: queries.Run},
		// The activity fold is a consumer of the journal like the index:
		// up before the sources and the API append (so it follows from
		// its checkpoint without waiting), down after them so it folds
		// and stores what they appended last; its stop stores the
		// profiles and the checkpoint. Its events endpoint answers from
		// the query index, started just before.
		component{name: "activity", run: act.run},
		// Sources append what they poll: after the runners (consumers
		// first), before the API; on the way down each poller finishes
		// its page after the API (receivers) stopped.
		component{name: "sources", run: sources.run},
		// The digester reads the journal and appends signed digests: a
		// producer, like the sources.
		component{name: "integrity", run: integ.run},
		// Detections read the journal and append detection events, like
		// sources: after the log stream runners and the query index (which
		// deliver and serve the detections) and before the API; on the way
		// down they stop after intake (the API) and save their checkpoint,
		// so the next start resumes exactly where they stopped.
		component{name: "detections", run: dets.run},
		//
		// The API last: it takes events in (ingest, receivers) and serves
		// everything above. Its stop refuses new events (503), then lets
		// requests in flight finish within half the deadline, so the
		// runners keep the other half for their batches.
		component{name: "http",
			run: func(context.Context) error {
				if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			},
			stop: func(ctx context.Context) error {
				srv.Drain()
				sctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.ShutdownTimeout)/2)
				defer cancel()
				return hs.Shutdown(sctx)
			}},
	)
	lc.start(ctx)
	log.Info("auditstream is serving", "addr", ln.Addr().String(), "data", cfg.DataDir)
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-lc.exited:
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	if err := lc.stop(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("stopped")
	return runErr
}

// declared is what Run builds from the config file before it touches the
// journal: the type tables, and the declared streams and sources checked
// through them.
type declared struct {
	types       *destinations
	sourceTypes map[string]source.Type
	streams     []stream.Definition
	sources     []source.Definition
}

// declare builds the type tables for a service listening on listen and
// checks the config file's streams and sources with them. cfg has its
// defaults resolved.
func declare(cfg config.Config, listen string, log *slog.Logger) (*declared, error) {
	// out is where streams and sources connect from: the egress policy
	// and the own-API guard, in the dialer.
	policy, err := egress.New(cfg.Egress.Allow, cfg.Egress.Deny)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	out := outbound.New(outbound.Config{Policy: policy, DataDir: cfg.DataDir, FileRoots: cfg.FileRoots,
		TenantAWSCredentials: cfg.Egress.TenantAWSCredentials})
	out.SetListen(listen)
	typ := newDestinations(log, out, envelopeDefaults{account: cfg.Envelope.Account, region: cfg.Envelope.Region})
	typ.patterns = patternOptions(cfg.Patterns)

	d := &declared{types: typ, sourceTypes: sourceTypes(out, publicURL(cfg))}
	if d.streams, err = configStreams(cfg, typ); err != nil {
		return nil, err
	}
	if d.sources, err = configSources(cfg, d.sourceTypes); err != nil {
		return nil, err
	}
	return d, nil
}

// configStreams turns the config file's streams into read-only
// definitions, each checked by its type (filter and settings) as the API
// checks a stream it creates.
func configStreams(cfg config.Config, typ *destinations) ([]stream.Definition, error) {
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
			if err := typ.validateFilter(filter); err != nil {
				return nil, fmt.Errorf("stream %s filter: %w", s.ID, err)
			}
		}
		// Org and status were resolved by config.WithDefaults.
		def := stream.Definition{Header: kvstore.Header{ID: s.ID, Name: s.Name, Type: s.Type, Org: s.Org, Status: s.Status, Settings: settings},
			Filter: filter, Stamps: kvstore.Stamps{ReadOnly: true}}
		if err := typ.Validate(def); err != nil {
			return nil, fmt.Errorf("stream %s: %w", s.ID, err)
		}
		out = append(out, def)
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
	writtenBytes := func(form string, pick func(batch, stored uint64) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "auditstream_journal_written_bytes_total",
			Help:        "Bytes of the record batches this process stored, as encoded (form=batch: the events' JSON and their index) and as stored (form=stored: compressed unless journal.compression is none).",
			ConstLabels: prometheus.Labels{"form": form}},
			func() float64 { return float64(pick(j.Written())) })
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auditstream_journal_messages",
			Help: "Messages in the journal: record batches of up to 100 events of one org (one event each if written by a release before record batches)."},
			info(func(m, _ uint64) uint64 { return m })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "auditstream_journal_bytes", Help: "Bytes stored by the journal."},
			info(func(_, b uint64) uint64 { return b })),
		writtenBytes("batch", func(b, _ uint64) uint64 { return b }),
		writtenBytes("stored", func(_, s uint64) uint64 { return s }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "auditstream_journal_lost_events_total",
			Help: "Journal messages (each up to 100 events) recorded as stored that were missing when the journal started (corrupt or truncated files)."},
			func() float64 { return float64(j.LostTotal()) }),
	)
}
