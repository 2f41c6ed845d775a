package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/console"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/pattern"
)

// withConsole returns the handler serve listens with: the API, and, when
// console.enabled, the web console at /console/ (and / redirecting to
// it). Every path the API serves stays the API's.
func withConsole(ctx context.Context, cfg config.Config, j *journal.Journal, srv *api.Server, tokens *auth.Store,
	typ *destinations, log *slog.Logger, deps console.Deps) (http.Handler, error) {
	if !cfg.Console.On() {
		return srv, nil
	}
	// Sessions expire by themselves in the bucket too (its TTL is the
	// session lifetime), so abandoned ones do not pile up.
	kv, err := j.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: console.Bucket, History: 1,
		Storage: jetstream.FileStorage, Replicas: cfg.Journal.Replicas, TTL: time.Duration(cfg.Console.SessionTTL)})
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", console.Bucket, err)
	}
	deps.API, deps.Tokens, deps.Sessions = srv, tokens, kv
	deps.Destinations = destinationTypes()
	deps.Usage = j.Usage
	deps.SecureCookies = strings.HasPrefix(cfg.Query.PublicURL, "https://")
	// The preview matches as log streams do: the same compile limits and
	// the same EventBridge envelope (destinations.filter).
	deps.Match = func(raw []byte) (func(*event.Record) bool, error) {
		p, err := pattern.Compile(raw, typ.patterns...)
		if err != nil {
			return nil, err
		}
		return typ.filter(p), nil
	}
	if cfg.Console.OIDC.Issuer != "" {
		deps.OIDC = console.NewOIDC(cfg.Console.OIDC, nil)
	}
	c, err := console.New(cfg.Console, deps)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	c.Mount(mux, srv)
	log.Info("web console at /console/", "oidc", cfg.Console.OIDC.Issuer != "")
	return mux, nil
}
