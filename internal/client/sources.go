package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Source is a source (an Okta System Log poller, an EventBridge receiver)
// as /api/v1/sources shows it. Secrets in Settings are write-only: the
// server answers with them removed.
type Source struct {
	ID string `json:"id,omitempty"`
	// Type is e.g. "okta" or "eventbridge".
	Type string `json:"type"`
	Name string `json:"name"`
	// Status is StatusActive or StatusInactive.
	Status   string          `json:"status,omitempty"`
	Org      string          `json:"org,omitempty"`
	Settings json.RawMessage `json:"settings,omitempty"`
	// ReadOnly sources come from the configuration file.
	ReadOnly    bool      `json:"readOnly,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	LastUpdated time.Time `json:"lastUpdated,omitzero"`
	// Links is the HAL _links object.
	Links json.RawMessage `json:"_links,omitempty"`
}

// UnmarshalJSON decodes a source, taking empty or null times as unset.
func (s *Source) UnmarshalJSON(b []byte) error {
	type plain Source
	aux := struct {
		*plain
		Created     flexTime `json:"created"`
		LastUpdated flexTime `json:"lastUpdated"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.Created, s.LastUpdated = time.Time(aux.Created), time.Time(aux.LastUpdated)
	return nil
}

func sourcePath(id string, rest ...string) string {
	p := "/api/v1/sources/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// ListSources returns every source the token may see.
func (c *Client) ListSources(ctx context.Context) ([]Source, error) {
	return getAll[Source](ctx, c, "/api/v1/sources")
}

// GetSource returns the source id.
func (c *Client) GetSource(ctx context.Context, id string) (Source, error) {
	var s Source
	_, err := c.do(ctx, request{method: http.MethodGet, url: c.url(sourcePath(id)), idempotent: true}, &s)
	return s, err
}

// CreateSource creates a source from s's Type, Name, Org and Settings and
// returns it as stored. It is not retried after connection errors.
func (c *Client) CreateSource(ctx context.Context, s Source) (Source, error) {
	return c.sendSource(ctx, http.MethodPost, "/api/v1/sources", s, false)
}

// UpdateSource replaces the source id with s's Type, Name, Org and
// Settings (a PUT) and returns it as stored.
func (c *Client) UpdateSource(ctx context.Context, id string, s Source) (Source, error) {
	return c.sendSource(ctx, http.MethodPut, sourcePath(id), s, true)
}

func (c *Client) sendSource(ctx context.Context, method, path string, s Source, idempotent bool) (Source, error) {
	b, err := json.Marshal(struct {
		Type     string          `json:"type"`
		Name     string          `json:"name"`
		Org      string          `json:"org,omitempty"`
		Settings json.RawMessage `json:"settings,omitempty"`
	}{s.Type, s.Name, s.Org, s.Settings})
	if err != nil {
		return Source{}, fmt.Errorf("encode source %q: %w", s.Name, err)
	}
	var out Source
	_, err = c.do(ctx, request{method: method, url: c.url(path), body: b, contentType: "application/json", idempotent: idempotent}, &out)
	return out, err
}

// DeleteSource deletes the source id.
func (c *Client) DeleteSource(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, url: c.url(sourcePath(id)), idempotent: true}, nil)
	return err
}

// ActivateSource starts the source id and returns it.
func (c *Client) ActivateSource(ctx context.Context, id string) (Source, error) {
	return c.sourceLifecycle(ctx, id, "activate")
}

// DeactivateSource stops the source id and returns it.
func (c *Client) DeactivateSource(ctx context.Context, id string) (Source, error) {
	return c.sourceLifecycle(ctx, id, "deactivate")
}

func (c *Client) sourceLifecycle(ctx context.Context, id, op string) (Source, error) {
	var s Source
	_, err := c.do(ctx, request{method: http.MethodPost, url: c.url(sourcePath(id, "lifecycle", op)), idempotent: true}, &s)
	return s, err
}

// SourceStatus returns the status document of the source id as the server
// sent it (state, counters, cursor, last error, rate limit, backfill).
func (c *Client) SourceStatus(ctx context.Context, id string) (json.RawMessage, error) {
	var raw json.RawMessage
	_, err := c.do(ctx, request{method: http.MethodGet, url: c.url(sourcePath(id, "status")), idempotent: true}, &raw)
	return raw, err
}
