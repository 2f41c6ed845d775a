package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Stream is a log stream as the API shows it (Okta's LogStream shape).
type Stream struct {
	// ID is assigned by the server.
	ID string `json:"id,omitempty"`
	// Type is the destination type, e.g. "http".
	Type string `json:"type"`
	// Name is unique per org.
	Name string `json:"name"`
	// Status is StatusActive or StatusInactive; change it with Activate
	// and Deactivate.
	Status string `json:"status,omitempty"`
	// Settings are the destination's settings, kept as the server sent them.
	Settings json.RawMessage `json:"settings,omitempty"`
	// Filter is the optional EventBridge event pattern selecting the events.
	Filter json.RawMessage `json:"filter,omitempty"`
	// Org is the organisation the stream belongs to.
	Org string `json:"org,omitempty"`
	// Created and LastUpdated are set by the server.
	Created     time.Time `json:"created,omitzero"`
	LastUpdated time.Time `json:"lastUpdated,omitzero"`
	// Links is the HAL _links object.
	Links json.RawMessage `json:"_links,omitempty"`
}

// UnmarshalJSON decodes a stream, taking empty or null times as unset.
func (s *Stream) UnmarshalJSON(b []byte) error {
	type plain Stream
	return decodeTimes(b, (*plain)(s), map[string]*time.Time{"created": &s.Created, "lastUpdated": &s.LastUpdated})
}

// StreamStatus is the delivery state and counters of one stream.
type StreamStatus struct {
	ID string `json:"id"`
	// State is one of active, inactive, retrying, paused, error.
	State        string  `json:"state"`
	Delivered    int64   `json:"delivered"`
	Failed       int64   `json:"failed"`
	Retried      int64   `json:"retried"`
	DeadLettered int64   `json:"deadLettered"`
	LagEvents    int64   `json:"lagEvents"`
	LagSeconds   float64 `json:"lagSeconds"`
	LastError    string  `json:"lastError,omitempty"`
	// LastErrorAt and LastSuccessAt are zero when it never happened.
	LastErrorAt   time.Time `json:"lastErrorAt,omitzero"`
	LastSuccessAt time.Time `json:"lastSuccessAt,omitzero"`
}

// UnmarshalJSON decodes a status, taking empty or null times as unset.
func (s *StreamStatus) UnmarshalJSON(b []byte) error {
	type plain StreamStatus
	return decodeTimes(b, (*plain)(s), map[string]*time.Time{"lastErrorAt": &s.LastErrorAt, "lastSuccessAt": &s.LastSuccessAt})
}

// DeadLetter is an event a stream gave up delivering.
type DeadLetter struct {
	// Seq is the event's position in the journal.
	Seq    uint64 `json:"seq"`
	UUID   string `json:"uuid"`
	Reason string `json:"reason"`
	// At is when the event was dead-lettered.
	At    time.Time       `json:"at,omitzero"`
	Event json.RawMessage `json:"event,omitempty"`
}

// UnmarshalJSON decodes a dead letter, taking an empty or null time as unset.
func (d *DeadLetter) UnmarshalJSON(b []byte) error {
	type plain DeadLetter
	return decodeTimes(b, (*plain)(d), map[string]*time.Time{"at": &d.At})
}

// decodeTimes decodes the JSON object b into v, the method-less form of a
// type, and its members named in times into those times, taking an RFC
// 3339 string and "" or null (unset) alike.
func decodeTimes(b []byte, v any, times map[string]*time.Time) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	parsed := make(map[*time.Time]time.Time, len(times))
	for name, t := range times {
		raw, ok := members[name]
		if !ok {
			continue
		}
		delete(members, name)
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if s == nil || *s == "" {
			parsed[t] = time.Time{}
			continue
		}
		tv, err := time.Parse(time.RFC3339Nano, *s)
		if err != nil {
			return err
		}
		parsed[t] = tv
	}
	rest, err := json.Marshal(members)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(rest, v); err != nil {
		return err
	}
	for t, tv := range parsed {
		*t = tv
	}
	return nil
}

// streams is the collection of log streams.
func (c *Client) streams() resource[Stream] { return resource[Stream]{c, "/api/v1/logStreams"} }

// body is what create and replace send: only the writable fields.
func (s Stream) body() any {
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
	return c.streams().create(ctx, s.body())
}

// UpdateStream replaces the stream id with s's Type, Name, Settings and
// Filter (a PUT: an absent Filter removes the filter) and returns it as
// stored. Status is not changed; use Activate or Deactivate.
func (c *Client) UpdateStream(ctx context.Context, id string, s Stream) (Stream, error) {
	return c.streams().replace(ctx, id, s.body())
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
