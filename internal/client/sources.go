package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/auditstream/auditstream/internal/wire"
)

// Source is a source (an Okta System Log poller, an EventBridge receiver)
// as /api/v1/sources shows it. Secrets in Settings are write-only: the
// server answers with them removed. Status is StatusActive or
// StatusInactive.
type Source = wire.Source

// sources is the collection of sources.
func (c *Client) sources() resource[Source] { return resource[Source]{c, "/api/v1/sources"} }

// sourceBody is what create and replace send: only the writable fields.
func sourceBody(s Source) any {
	return struct {
		Type     string          `json:"type"`
		Name     string          `json:"name"`
		Org      string          `json:"org,omitempty"`
		Settings json.RawMessage `json:"settings,omitempty"`
	}{s.Type, s.Name, s.Org, s.Settings}
}

// ListSources returns every source the token may see.
func (c *Client) ListSources(ctx context.Context) ([]Source, error) {
	return c.sources().list(ctx)
}

// GetSource returns the source id.
func (c *Client) GetSource(ctx context.Context, id string) (Source, error) {
	return c.sources().get(ctx, id)
}

// CreateSource creates a source from s's Type, Name, Org and Settings and
// returns it as stored. It is not retried after connection errors.
func (c *Client) CreateSource(ctx context.Context, s Source) (Source, error) {
	return c.sources().create(ctx, sourceBody(s))
}

// UpdateSource replaces the source id with s's Type, Name, Org and
// Settings (a PUT) and returns it as stored.
func (c *Client) UpdateSource(ctx context.Context, id string, s Source) (Source, error) {
	return c.sources().replace(ctx, id, sourceBody(s))
}

// DeleteSource deletes the source id.
func (c *Client) DeleteSource(ctx context.Context, id string) error {
	return c.sources().delete(ctx, id)
}

// ActivateSource starts the source id and returns it.
func (c *Client) ActivateSource(ctx context.Context, id string) (Source, error) {
	return c.sources().lifecycle(ctx, id, "activate")
}

// DeactivateSource stops the source id and returns it.
func (c *Client) DeactivateSource(ctx context.Context, id string) (Source, error) {
	return c.sources().lifecycle(ctx, id, "deactivate")
}

// SourceStatus returns the status document of the source id as the server
// sent it (state, counters, cursor, last error, rate limit, backfill).
func (c *Client) SourceStatus(ctx context.Context, id string) (json.RawMessage, error) {
	return call[json.RawMessage](ctx, c, http.MethodGet, c.sources().item(id, "status"), safeToResend, nil)
}
