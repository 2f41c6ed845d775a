package app

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/sink/outbound"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/eventbridge"
	"github.com/auditstream/auditstream/internal/source/okta"
)

// sourceTypes is the one table of source types. Pollers connect through
// out: the egress policy for their owner and the own-API guard; baseURL is
// the API's public URL (receivers show their URL from it).
func sourceTypes(out *outbound.Guard, baseURL string) map[string]source.Type {
	if out == nil {
		out = outbound.New(outbound.Config{})
	}
	return map[string]source.Type{
		"okta": okta.NewType(okta.Options{Egress: out.Policy(),
			Transport: func(d source.Definition) http.RoundTripper { return out.Transport(outbound.TrustOf(d.ByOperator())) }}),
		eventbridge.Type: eventbridge.NewType(baseURL),
	}
}

// sourceRuntime is the sources' background work, which app.Run starts
// after the log stream runners and stops before them.
type sourceRuntime struct {
	sup   *source.Supervisor
	store *source.Store

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start runs the supervisor until stop.
func (r *sourceRuntime) start(ctx context.Context) {
	if r == nil || r.sup == nil {
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.wg.Go(func() { r.sup.Run(ctx) })
}

// stop stops the pollers (each after its current page) and the store.
func (r *sourceRuntime) stop() {
	if r == nil {
		return
	}
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	if r.store != nil {
		r.store.Close()
	}
}

// sourceRoutes serves the sources API (/api/v1/sources) and the EventBridge
// receivers (/api/v1/eventbridge/{sourceId}), and prepares the pollers in
// d.sources.
func sourceRoutes(d routeDeps) ([]api.Route, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defsKV, err := d.journal.KV(ctx, journal.BucketSources)
	if err != nil {
		return nil, err
	}
	cpKV, err := d.journal.KV(ctx, source.BucketCheckpoints)
	if err != nil {
		return nil, err
	}
	stateKV, err := d.journal.KV(ctx, source.BucketState)
	if err != nil {
		return nil, err
	}
	statusKV, err := d.journal.KV(ctx, journal.BucketStatus)
	if err != nil {
		return nil, err
	}
	key, err := eventbridge.LoadKey(ctx, stateKV)
	if err != nil {
		return nil, err
	}
	base := d.cfg.Query.PublicURL // as /api/v1/logs: never the request's Host
	if base == "" {
		base = "http://" + publicHost(d.cfg.Listen)
	}
	types := sourceTypes(d.outbound, base)
	fixed, err := configSources(d.cfg, types)
	if err != nil {
		return nil, err
	}
	store, err := source.NewStore(ctx, defsKV, fixed, d.log, kvstore.WithCodec(d.keys))
	if err != nil {
		return nil, err
	}
	metrics := source.NewMetrics(d.registry)
	sup := source.NewSupervisor(source.SupervisorConfig{Store: store, Types: types, Journal: d.journal,
		Checkpoints: cpKV, StatusKV: statusKV, LeaseKV: stateKV, Metrics: metrics, Log: d.log})
	if d.sources != nil {
		d.sources.sup, d.sources.store = sup, store
	}
	defaultOrg := d.cfg.Ingest.DefaultOrg
	if defaultOrg == "" {
		defaultOrg = config.DefaultOrg
	}
	a := &source.API{Store: store, Supervisor: sup, Types: types, Log: d.log, DefaultOrg: defaultOrg, Journal: d.journal,
		PublicURL: publicURL(d.cfg)}
	rc := eventbridge.New(eventbridge.Config{Store: store, Journal: d.journal, Status: sup.StatusOf,
		Metrics: metrics, Limits: ingestLimits(d.cfg), Key: key, Log: d.log})
	return append(a.Routes(), rc.Routes()...), nil
}

// configSources turns the config file's sources into read-only
// definitions, validated and with their secrets prepared like the API's.
func configSources(cfg config.Config, types map[string]source.Type) ([]source.Definition, error) {
	var out []source.Definition
	now := time.Now().UTC()
	for _, s := range cfg.Sources {
		t, ok := types[s.Type]
		if !ok {
			return nil, fmt.Errorf("source %s: unknown type %q", s.ID, s.Type)
		}
		if s.Type == eventbridge.Type && s.ID == "token" {
			// Its URL, /api/v1/eventbridge/token, is the shared token endpoint.
			return nil, fmt.Errorf("source %s: the id %q is reserved for eventbridge receivers; choose another", s.ID, s.ID)
		}
		raw, err := s.SettingsJSON()
		if err != nil {
			return nil, fmt.Errorf("source %s settings: %w", s.ID, err)
		}
		settings, err := t.Prepare(raw, nil)
		if err != nil {
			return nil, fmt.Errorf("source %s settings: %w", s.ID, err)
		}
		status := s.Status
		if status == "" {
			status = source.StatusActive
		}
		org := s.Org
		if org == "" {
			org = cfg.Ingest.DefaultOrg
		}
		if org == "" {
			org = config.DefaultOrg
		}
		out = append(out, source.Definition{ID: s.ID, Name: s.Name, Type: s.Type, Org: org, Status: status,
			Settings: settings, Created: now, LastUpdated: now, ReadOnly: true})
	}
	return out, nil
}

// ingestLimits are the ingest API's limits, which the receiver shares.
func ingestLimits(cfg config.Config) api.Limits {
	l := api.DefaultLimits
	if cfg.Ingest.MaxBodyBytes > 0 {
		l.MaxBody = cfg.Ingest.MaxBodyBytes
	}
	if cfg.Ingest.MaxEventBytes > 0 {
		l.MaxEvent = cfg.Ingest.MaxEventBytes
	}
	if cfg.Ingest.MaxEvents > 0 {
		l.MaxEvents = cfg.Ingest.MaxEvents
	}
	return l
}
