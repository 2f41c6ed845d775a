package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Log stream statuses (Stream.Status).
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// maxPages bounds how many Link rel="next" pages a list follows, so a
// server that links a page to itself cannot keep the client forever.
const maxPages = 10000

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
	aux := struct {
		*plain
		LastErrorAt   flexTime `json:"lastErrorAt"`
		LastSuccessAt flexTime `json:"lastSuccessAt"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.LastErrorAt, s.LastSuccessAt = time.Time(aux.LastErrorAt), time.Time(aux.LastSuccessAt)
	return nil
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
	aux := struct {
		*plain
		At flexTime `json:"at"`
	}{plain: (*plain)(d)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	d.At = time.Time(aux.At)
	return nil
}

// flexTime is an RFC 3339 time that may also be "" or null (unset).
type flexTime time.Time

func (t *flexTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil || *s == "" {
		*t = flexTime{}
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return err
	}
	*t = flexTime(v)
	return nil
}

// streamBody is what create and replace send: only the writable fields.
type streamBody struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	Settings json.RawMessage `json:"settings,omitempty"`
	Filter   json.RawMessage `json:"filter,omitempty"`
}

func bodyOf(s Stream) ([]byte, error) {
	b, err := json.Marshal(streamBody{Type: s.Type, Name: s.Name, Settings: s.Settings, Filter: s.Filter})
	if err != nil {
		return nil, fmt.Errorf("encode stream %q: %w", s.Name, err)
	}
	return b, nil
}

func streamPath(id string, rest ...string) string {
	p := "/api/v1/logStreams/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// ListStreams returns every log stream, following Okta's Link rel="next"
// pagination when the server pages.
func (c *Client) ListStreams(ctx context.Context) ([]Stream, error) {
	return getAll[Stream](ctx, c, "/api/v1/logStreams")
}

// GetStream returns the stream with id.
func (c *Client) GetStream(ctx context.Context, id string) (Stream, error) {
	var s Stream
	_, err := c.do(ctx, request{method: http.MethodGet, url: c.url(streamPath(id)), idempotent: true}, &s)
	return s, err
}

// CreateStream creates a stream from s's Type, Name, Settings and Filter
// and returns it as stored. It is not retried after connection errors: the
// lost request may have created the stream.
func (c *Client) CreateStream(ctx context.Context, s Stream) (Stream, error) {
	return c.sendStream(ctx, http.MethodPost, "/api/v1/logStreams", s, false)
}

// UpdateStream replaces the stream id with s's Type, Name, Settings and
// Filter (a PUT: an absent Filter removes the filter) and returns it as
// stored. Status is not changed; use Activate or Deactivate.
func (c *Client) UpdateStream(ctx context.Context, id string, s Stream) (Stream, error) {
	return c.sendStream(ctx, http.MethodPut, streamPath(id), s, true)
}

func (c *Client) sendStream(ctx context.Context, method, path string, s Stream, idempotent bool) (Stream, error) {
	b, err := bodyOf(s)
	if err != nil {
		return Stream{}, err
	}
	var out Stream
	_, err = c.do(ctx, request{
		method: method, url: c.url(path), body: b,
		contentType: "application/json", idempotent: idempotent,
	}, &out)
	return out, err
}

// DeleteStream deletes the stream id.
func (c *Client) DeleteStream(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, url: c.url(streamPath(id)), idempotent: true}, nil)
	return err
}

// Activate starts delivery of the stream id and returns it.
func (c *Client) Activate(ctx context.Context, id string) (Stream, error) {
	return c.lifecycle(ctx, id, "activate")
}

// Deactivate stops delivery of the stream id and returns it. Its position
// is kept; activating it again resumes from there.
func (c *Client) Deactivate(ctx context.Context, id string) (Stream, error) {
	return c.lifecycle(ctx, id, "deactivate")
}

func (c *Client) lifecycle(ctx context.Context, id, op string) (Stream, error) {
	var s Stream
	_, err := c.do(ctx, request{method: http.MethodPost, url: c.url(streamPath(id, "lifecycle", op)), idempotent: true}, &s)
	return s, err
}

// Status returns the delivery status of the stream id.
func (c *Client) Status(ctx context.Context, id string) (StreamStatus, error) {
	var s StreamStatus
	_, err := c.do(ctx, request{method: http.MethodGet, url: c.url(streamPath(id, "status")), idempotent: true}, &s)
	return s, err
}

// Replay makes the stream id deliver again every event the journal still
// holds from since on. Delivery is at-least-once, so destinations see
// those events a second time.
func (c *Client) Replay(ctx context.Context, id string, since time.Time) error {
	b, err := json.Marshal(struct {
		Since string `json:"since"`
	}{since.UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{
		method: http.MethodPost, url: c.url(streamPath(id, "replay")), body: b,
		contentType: "application/json", idempotent: true,
	}, nil)
	return err
}

// DeadLetters returns the dead letters of the stream id.
func (c *Client) DeadLetters(ctx context.Context, id string) ([]DeadLetter, error) {
	return getAll[DeadLetter](ctx, c, streamPath(id, "deadLetters"))
}

// Redrive hands the dead letters of the stream id back to its runner and
// returns how many. It is not retried after connection errors, so the
// count it reports is never that of a second, empty redrive.
func (c *Client) Redrive(ctx context.Context, id string) (int, error) {
	var out struct {
		Redriven int `json:"redriven"`
	}
	_, err := c.do(ctx, request{method: http.MethodPost, url: c.url(streamPath(id, "deadLetters", "redrive"))}, &out)
	return out.Redriven, err
}

// getAll GETs a JSON array, following Link rel="next" to the same server.
func getAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	all := []T{}
	next := c.url(path)
	for range maxPages {
		var page []T
		h, err := c.do(ctx, request{method: http.MethodGet, url: next, idempotent: true}, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		link := nextLink(h)
		if link == "" || len(page) == 0 {
			return all, nil
		}
		u, err := c.sameServer(next, link)
		if err != nil {
			return nil, err
		}
		next = u
	}
	return nil, fmt.Errorf("GET %s: more than %d pages", path, maxPages)
}

// sameServer resolves link against cur and refuses links to another
// server, which would be sent the token.
func (c *Client) sameServer(cur, link string) (string, error) {
	base, err := url.Parse(cur)
	if err != nil {
		return "", err
	}
	u, err := base.Parse(link)
	if err != nil {
		return "", fmt.Errorf("next link %q: %w", link, err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return "", fmt.Errorf("next link %q leaves %s", link, base.Host)
	}
	return u.String(), nil
}

// nextLink returns the target of a Link header entry with rel="next".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for entry := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(entry, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}
