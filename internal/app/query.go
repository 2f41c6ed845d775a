package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/query"
	"github.com/auditstream/auditstream/internal/secret"
)

// newQuery builds the System Log query engine (GET /api/v1/logs); its
// index runs in app.Run's lifecycle.
func newQuery(ctx context.Context, cfg config.Config, j *journal.Journal, fo *journal.Fanout, keys *secret.Keyring, board *health.Board, log *slog.Logger) (*query.Engine, error) {
	return query.New(ctx, j, query.Config{
		Fanout:     fo,
		Health:     board,
		Keys:       keys,
		BaseURL:    publicURL(cfg),
		Timeout:    time.Duration(cfg.Query.Timeout),
		RateLimit:  cfg.Query.RateLimitPerMinute,
		ClampLimit: cfg.Query.ClampLimit,
	}, log)
}

// publicURL is the base URL clients reach the API at (query.publicUrl,
// resolved by config.WithDefaults). Links in answers are built from it.
func publicURL(cfg config.Config) string { return cfg.Query.PublicURL }
