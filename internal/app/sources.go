package app

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink/outbound"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/ebreceiver"
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
		ebreceiver.Type: ebreceiver.NewType(baseURL),
	}
}

// sourceRuntime is the sources' part of the service: the store of their
// definitions, the supervisor of the pollers (run by app.Run's lifecycle)
// and the endpoints of the sources API and the EventBridge receivers.
type sourceRuntime struct {
	sup    *source.Supervisor
	store  *source.Store
	routes []httpapi.Route
	// stateKV holds the sources' leases (BucketState).
	stateKV jetstream.KeyValue
}

// run runs the pollers until ctx ends; each finishes its current page.
func (r *sourceRuntime) run(ctx context.Context) error {
	r.sup.Run(ctx)
	return nil
}

// sourceDeps is what newSources builds from.
type sourceDeps struct {
	cfg      config.Config
	journal  *journal.Journal
	log      *slog.Logger
	registry prometheus.Registerer
	// keys seal the source definitions at rest (nil: in clear).
	keys *secret.Keyring
	// types is the table of source types (sourceTypes).
	types map[string]source.Type
	// fixed are the config file's sources (configSources).
	fixed []source.Definition
	// statusKV holds the sources' last statuses.
	statusKV jetstream.KeyValue
	// limits are the ingest API's, which the receiver shares.
	limits httpapi.Limits
}

// newSources builds the sources' store, supervisor and endpoints: the
// sources API (/api/v1/sources) and the EventBridge receivers
// (/api/v1/eventbridge/{sourceId}). It starts nothing.
func newSources(ctx context.Context, d sourceDeps) (*sourceRuntime, error) {
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
	key, err := ebreceiver.LoadKey(ctx, stateKV, d.keys)
	if err != nil {
		return nil, err
	}
	store, err := source.NewStore(ctx, defsKV, d.fixed, d.log, kvstore.WithCodec(d.keys))
	if err != nil {
		return nil, err
	}
	metrics := source.NewMetrics(d.registry)
	sup := source.NewSupervisor(source.SupervisorConfig{Store: store, Types: d.types, Journal: d.journal,
		Checkpoints: cpKV, StatusKV: d.statusKV, LeaseKV: stateKV, NodeID: d.cfg.Cluster.NodeID, Metrics: metrics, Log: d.log})
	a := &source.API{Store: store, Supervisor: sup, Types: d.types, Log: d.log, DefaultOrg: d.cfg.Ingest.DefaultOrg,
		Journal: d.journal, PublicURL: publicURL(d.cfg)}
	rc := ebreceiver.New(ebreceiver.Config{Store: store, Journal: d.journal, Status: sup.StatusOf,
		Metrics: metrics, Limits: d.limits, Key: key, Log: d.log})
	return &sourceRuntime{sup: sup, store: store, routes: append(a.Routes(), rc.Routes()...), stateKV: stateKV}, nil
}

// configSources turns the config file's sources into read-only
// definitions, validated and with their secrets prepared like the API's.
func configSources(cfg config.Config, types map[string]source.Type) ([]source.Definition, error) {
	var out []source.Definition
	now := time.Now().UTC()
	for _, s := range cfg.Sources {
		t, ok := types[s.Type]
		if !ok {
			return nil, fmt.Errorf("source %s: unknown type %q (known: %s)", s.ID, s.Type, strings.Join(slices.Sorted(maps.Keys(types)), ", "))
		}
		if s.Type == ebreceiver.Type && s.ID == "token" {
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
		// Org and status were resolved by config.WithDefaults.
		out = append(out, source.Definition{Header: kvstore.Header{ID: s.ID, Name: s.Name, Type: s.Type, Org: s.Org, Status: s.Status, Settings: settings},
			Stamps: kvstore.Stamps{Created: now, LastUpdated: now, ReadOnly: true}})
	}
	return out, nil
}

// ingestLimits are the ingest API's limits (resolved by
// config.WithDefaults), which the receiver shares.
func ingestLimits(cfg config.Config) httpapi.Limits {
	l := httpapi.DefaultLimits
	l.MaxBody, l.MaxEvent, l.MaxEvents = cfg.Ingest.MaxBodyBytes, cfg.Ingest.MaxEventBytes, cfg.Ingest.MaxEvents
	return l
}
