package app

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/query"
)

// newQuery builds the System Log query engine (GET /api/v1/logs); its
// index runs in app.Run's lifecycle.
func newQuery(ctx context.Context, cfg config.Config, j *journal.Journal, log *slog.Logger) (*query.Engine, error) {
	return query.New(ctx, j, query.Config{
		BaseURL:    publicURL(cfg),
		Timeout:    time.Duration(cfg.Query.Timeout),
		RateLimit:  cfg.Query.RateLimitPerMinute,
		ClampLimit: cfg.Query.ClampLimit,
	}, log)
}

// publicURL is the base URL clients reach the API at: query.publicUrl, else
// http://<listen>. Links in answers are built from it.
func publicURL(cfg config.Config) string {
	if cfg.Query.PublicURL != "" {
		return cfg.Query.PublicURL
	}
	return "http://" + publicHost(cfg.Listen)
}

// publicHost turns a listen address into one a client can reach: an
// unspecified host becomes loopback.
func publicHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
