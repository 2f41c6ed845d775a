package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/auditstream/auditstream/internal/wire"
)

// Stream is a log stream as the API shows it (Okta's LogStream shape).
// Status is StatusActive or StatusInactive; change it with Activate and
// Deactivate.
type Stream = wire.Stream

// StreamStatus is the delivery state and counters of one stream.
type StreamStatus = wire.StreamStatus

// DeadLetter is an event a stream gave up delivering.
type DeadLetter = wire.DeadLetter

// streams is the collection of log streams.
func (c *Client) streams() resource[Stream] { return resource[Stream]{c, "/api/v1/logStreams"} }

// streamBody is what create and replace send: only the writable fields.
func streamBody(s Stream) any {
	return struct {
		Type     string          `json:"type"`
		Name     string          `json:"name"`
		Settings json.RawMessage `json:"settings,omitempty"`
		Filter   json.RawMessage `json:"filter,omitempty"`
	}{s.Type, s.Name, s.Settings, s.Filter}
}

// ListStreams returns every log stream, following Okta's Link rel="next"
// pagination when the server pages.
func (c *Client) ListStreams(ctx context.Context) ([]Stream, error) {
	return c.streams().list(ctx)
}

// GetStream returns the stream with id.
func (c *Client) GetStream(ctx context.Context, id string) (Stream, error) {
	return c.streams().get(ctx, id)
}

// CreateStream creates a stream from s's Type, Name, Settings and Filter
// and returns it as stored. It is not retried after connection errors: the
// lost request may have created the stream.
func (c *Client) CreateStream(ctx context.Context, s Stream) (Stream, error) {
	return c.streams().create(ctx, streamBody(s))
}

// UpdateStream replaces the stream id with s's Type, Name, Settings and
// Filter (a PUT: an absent Filter removes the filter) and returns it as
// stored. Status is not changed; use Activate or Deactivate.
func (c *Client) UpdateStream(ctx context.Context, id string, s Stream) (Stream, error) {
	return c.streams().replace(ctx, id, streamBody(s))
}

// DeleteStream deletes the stream id.
func (c *Client) DeleteStream(ctx context.Context, id string) error {
	return c.streams().delete(ctx, id)
}

// Activate starts delivery of the stream id and returns it.
func (c *Client) Activate(ctx context.Context, id string) (Stream, error) {
	return c.streams().lifecycle(ctx, id, "activate")
}

// Deactivate stops delivery of the stream id and returns it. Its position
// is kept; activating it again resumes from there.
func (c *Client) Deactivate(ctx context.Context, id string) (Stream, error) {
	return c.streams().lifecycle(ctx, id, "deactivate")
}

// Status returns the delivery status of the stream id.
func (c *Client) Status(ctx context.Context, id string) (StreamStatus, error) {
	return call[StreamStatus](ctx, c, http.MethodGet, c.streams().item(id, "status"), safeToResend, nil)
}

// Replay makes the stream id deliver again every event the journal still
// holds from since on. Delivery is at-least-once, so destinations see
// those events a second time.
func (c *Client) Replay(ctx context.Context, id string, since time.Time) error {
	body := map[string]string{"since": since.UTC().Format(time.RFC3339Nano)}
	return c.send(ctx, http.MethodPost, c.streams().item(id, "replay"), safeToResend, body, nil)
}

// DeadLetters returns the dead letters of the stream id.
func (c *Client) DeadLetters(ctx context.Context, id string) ([]DeadLetter, error) {
	return getAll[DeadLetter](ctx, c, c.streams().item(id, "deadLetters"))
}

// Redrive hands the dead letters of the stream id back to its runner and
// returns how many. It is not retried after connection errors, so the
// count it reports is never that of a second, empty redrive.
func (c *Client) Redrive(ctx context.Context, id string) (int, error) {
	out, err := call[struct {
		Redriven int `json:"redriven"`
	}](ctx, c, http.MethodPost, c.streams().item(id, "deadLetters", "redrive"), sendOnce, nil)
	return out.Redriven, err
}
