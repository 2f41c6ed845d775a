package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/query"
)

// activityRuntime is the per-user activity profiles: the store that folds
// the journal (run in app.Run's lifecycle) and its endpoints. Both are
// empty when activity.enabled is false.
type activityRuntime struct {
	store  *activity.Store
	routes []httpapi.Route
}

// run folds the journal until ctx ends (nothing when disabled).
func (a activityRuntime) run(ctx context.Context) error {
	if a.store == nil {
		<-ctx.Done()
		return nil
	}
	return a.store.Run(ctx)
}

// newActivity opens the profiles' bucket and store; it starts nothing.
func newActivity(ctx context.Context, cfg config.Config, j *journal.Journal, fo *journal.Fanout, q *query.Engine, reg prometheus.Registerer, log *slog.Logger) (activityRuntime, error) {
	if !*cfg.Activity.Enabled {
		return activityRuntime{}, nil
	}
	kv, err := j.KV(ctx, activity.Bucket)
	if err != nil {
		return activityRuntime{}, err
	}
	s, err := activity.Open(ctx, activity.Config{
		Limits: activity.Limits{Items: cfg.Activity.MaxItems, Actions: cfg.Activity.MaxActions,
			Detections: cfg.Activity.MaxDetections},
		MaxCached: cfg.Activity.MaxCachedProfiles,
	}, activity.Deps{KV: kv, Journal: j, Fanout: fo, Log: log, Registry: reg})
	if err != nil {
		return activityRuntime{}, err
	}
	api := activity.API{Store: s, Events: q, BaseURL: publicURL(cfg)}
	return activityRuntime{store: s, routes: api.Routes()}, nil
}
