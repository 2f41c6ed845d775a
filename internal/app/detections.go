package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/detect"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/shipped"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
)

// detections is the detection runtime of serve: the rules (config packs
// plus uploads), the evaluating service and the API.
type detections struct {
	rules *detect.Rules
	svc   *detect.Service
	api   *detect.API
	on    bool
}

// detectionsDeps is what newDetections uses.
type detectionsDeps struct {
	cfg     config.Config
	journal *journal.Journal
	// fanout is the followers' shared reader of the journal.
	fanout   *journal.Fanout
	leaseKV  jetstream.KeyValue
	registry prometheus.Registerer
	log      *slog.Logger
	// activity, when set (activity.enabled), answers rules' firstSeen.
	activity *activity.Store
	// health reports a detections checkpoint that cannot be saved.
	health *health.Board
}

// loadPacks loads the config file's rule packs. A pack that cannot be read
// stops the start; rules it refuses are logged, one line each, and listed
// by the API with their reason.
func loadPacks(cfg config.Config, log *slog.Logger) ([]*detect.Pack, error) {
	var packs []*detect.Pack
	popts := patternOptions(cfg.Patterns)
	if cfg.Detections.ShippedOn() {
		ov, err := detect.ReadOverlay(cfg.Detections.ShippedOverlay)
		if err != nil {
			return nil, fmt.Errorf("detections shipped pack: %w", err)
		}
		p := detect.LoadPack(shipped.OktaPack, "", shipped.OktaFiles(), ov, popts...)
		logPack(log, p, "(embedded)")
		packs = append(packs, p)
	}
	for _, pc := range cfg.Detections.Packs {
		ov, err := detect.ReadOverlay(pc.Overlay)
		if err != nil {
			return nil, fmt.Errorf("detections pack %s: %w", pc.Name, err)
		}
		files, err := detect.ReadFiles(pc.Path)
		if err != nil {
			return nil, fmt.Errorf("detections pack %s: %w", pc.Name, err)
		}
		p := detect.LoadPackFormat(pc.Format, pc.Name, "", files, ov, popts...)
		logPack(log, p, pc.Path)
		packs = append(packs, p)
	}
	return packs, nil
}

// logPack logs a loaded pack: each refused rule and warning, one line each.
func logPack(log *slog.Logger, p *detect.Pack, path string) {
	loaded := 0
	for _, in := range p.Infos {
		switch in.Status {
		case detect.StatusLoaded:
			loaded++
		case detect.StatusRefused:
			log.Warn("detection rule refused", "pack", p.Name, "file", in.File, "line", in.Line, "id", in.ID, "reason", in.Reason)
		}
	}
	for _, w := range p.Warnings {
		log.Warn("detection rule", "pack", p.Name, "warning", w)
	}
	log.Info("detection pack loaded", "pack", p.Name, "path", path, "loaded", loaded, "documents", len(p.Infos))
}

func newDetections(ctx context.Context, d detectionsDeps) (*detections, error) {
	cfg := d.cfg
	packs, err := loadPacks(cfg, d.log)
	if err != nil {
		return nil, err
	}
	routes := detect.DefaultRoutes()
	for _, l := range cfg.Detections.Logsources {
		routes = append(routes, detect.Route{Product: l.Product, Service: l.Service, Sources: l.Sources})
	}
	kv := func(b string) (jetstream.KeyValue, error) { return d.journal.KV(ctx, b) }
	rulesKV, err := kv(detect.BucketRules)
	if err != nil {
		return nil, err
	}
	stateKV, err := kv(detect.BucketState)
	if err != nil {
		return nil, err
	}
	detKV, err := kv(detect.BucketDetections)
	if err != nil {
		return nil, err
	}
	engine := correlate.Config{AllowedLateness: time.Duration(cfg.Detections.AllowedLateness),
		MaxGroupsPerRule: cfg.Detections.MaxGroupsPerRule, MaxEventsPerWindow: cfg.Detections.MaxEventsPerWindow}
	rules, err := detect.OpenRules(ctx, detect.RulesConfig{Routes: routes, Packs: packs, KV: rulesKV,
		Patterns: patternOptions(cfg.Patterns), Engine: engine, FirstSeen: d.activity != nil, Log: d.log})
	if err != nil {
		return nil, err
	}
	for _, in := range rules.Registry().Infos() {
		if in.Status == detect.StatusNoSource {
			d.log.Warn("detection rule has no event source", "pack", in.Pack, "id", in.ID, "reason", in.Reason)
		}
	}
	store := detect.NewStore(detKV)
	env := detect.Envelope{Account: cfg.Envelope.Account, Region: cfg.Envelope.Region}
	log := d.log
	var firstSeen detect.FirstSeenSource
	if d.activity != nil {
		firstSeen = d.activity
	}
	svc := detect.New(detect.Config{Engine: engine, Envelope: env, CheckpointInterval: time.Duration(cfg.Detections.CheckpointInterval)},
		detect.Deps{Journal: d.journal, Fanout: d.fanout, Rules: rules, StateKV: stateKV, LeaseKV: d.leaseKV, Node: cfg.Cluster.NodeID,
			Raised: func(ctx context.Context, rs []detect.Raised) {
				if err := store.Record(ctx, rs); err != nil {
					log.Warn("detections: recording triage state", "err", err)
				}
			},
			Suppressed: func(ctx context.Context, ss []correlate.Suppression) {
				if err := store.Suppressed(ctx, ss); err != nil {
					log.Warn("detections: recording suppressed firings", "err", err)
				}
			}, FirstSeen: firstSeen, Health: d.health, Log: d.log, Registry: d.registry})
	api := &detect.API{Rules: rules, Store: store, Journal: d.journal, Engine: engine, Envelope: env,
		DefaultOrg: cfg.Ingest.DefaultOrg, BaseURL: publicURL(cfg), FirstSeen: firstSeen, Log: d.log}
	bt := cfg.Detections.Backtest
	btCfg := detect.BacktestJobsConfig{Timeout: time.Duration(bt.Timeout),
		MaxEvents: uint64(max(bt.MaxEvents, 0)), PerOrg: bt.MaxConcurrentPerOrg}
	btKV, err := d.journal.KVWithTTL(ctx, detect.BucketBacktests, detect.DefaultBacktestKeep+max(btCfg.Timeout, detect.DefaultBacktestTimeout))
	if err != nil {
		return nil, err
	}
	// The jobs' state is written until run's deferred Close (not cut off by
	// ctx), so that a stopping node records its jobs stopped.
	api.Backtests = detect.NewBacktestJobs(context.WithoutCancel(ctx), btCfg,
		detect.BacktestJobsDeps{Run: api.RunBacktest, KV: btKV, Node: cfg.Cluster.NodeID, Log: d.log})
	return &detections{rules: rules, svc: svc, api: api, on: cfg.Detections.On()}, nil
}

// run keeps the rules current and, when enabled, evaluates; backtest jobs
// are cancelled when it ends.
func (d *detections) run(ctx context.Context) error {
	defer d.api.Backtests.Close()
	if !d.on {
		return d.rules.Run(ctx)
	}
	go func() { _ = d.rules.Run(ctx) }()
	return d.svc.Run(ctx)
}

func (d *detections) routes() []httpapi.Route { return d.api.Routes() }
