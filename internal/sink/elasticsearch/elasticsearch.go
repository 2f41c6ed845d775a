package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

const (
	// maxAnswerBytes bounds a _bulk answer read: about 200 bytes per item.
	maxAnswerBytes = 64 << 20
)

// Sink delivers batches to an Elasticsearch or OpenSearch cluster with
// _bulk. Build it with New.
type Sink struct {
	cfg    Config
	urls   []*url.URL
	http   *sink.HTTP
	deps   sink.Deps
	next   atomic.Int64 // the node to try first
	closed sink.Closed
}

var _ sink.Sink = (*Sink)(nil)

// Type is the "elasticsearch" row of the stream type table.
func Type() sink.Type {
	return sink.NewType("elasticsearch", prepare, build).WithDestination("urls")
}

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to test the cluster.
func New(cfg Config, deps sink.Deps) (*Sink, error) { return sink.Build(cfg, deps, prepare, build) }

func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg, err := sink.Checked("elasticsearch", cfg, Config.withDefaults)
	if err != nil {
		return cfg, err
	}
	for _, u := range nodes(cfg) {
		if err := deps.CheckURL(u, sink.ShowURL(u)); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// nodes are the cluster's URLs (Validate parsed them).
func nodes(cfg Config) []*url.URL {
	var urls []*url.URL
	for _, raw := range cfg.URLs {
		u, _ := url.Parse(strings.TrimSuffix(raw, "/"))
		urls = append(urls, u)
	}
	return urls
}

func build(cfg Config, deps sink.Deps) (*Sink, error) {
	return &Sink{cfg: cfg, urls: nodes(cfg), deps: deps, http: sink.NewHTTP(deps, cfg.Timeout.D())}, nil
}

// Limits are the configured request size and document count.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: s.cfg.MaxEvents, MaxBytes: s.cfg.MaxBytes, MaxEventBytes: s.cfg.MaxBytes}
}

// EncodedSize is the record's action and source lines with their newlines.
func (s *Sink) EncodedSize(r event.Record) int {
	return len(s.action(r)) + 1 + len(source(r)) + 1
}

// action is the create action line: create-only with the event's uuid as
// _id, so a replay never duplicates (409 counts as delivered), and the
// only action data streams accept.
func (s *Sink) action(r event.Record) []byte {
	meta, _ := json.Marshal(map[string]map[string]string{"create": {"_index": s.cfg.Index, "_id": r.UUID}})
	return meta
}

// source is the event with @timestamp (= published) added first.
func source(r event.Record) []byte {
	ts := r.Published.UTC().Format(event.TimeFormat)
	data := bytes.TrimSpace(r.Data)
	body := bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimPrefix(data, []byte("{")), []byte("}")))
	out := make([]byte, 0, len(data)+40)
	out = append(out, `{"@timestamp":"`...)
	out = append(out, ts...)
	out = append(out, '"')
	if len(body) > 0 {
		out = append(out, ',')
		out = append(out, body...)
	}
	return append(out, '}')
}

// Write sends b with one _bulk request. Items are classified one by one:
// 409 on create is already delivered, 429 is throttled, mapping errors are
// permanent, and 403/404 (closed, missing or blocked index) hold the
// stream.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), "elasticsearch"); skip {
		return err
	}
	var body bytes.Buffer
	for _, r := range b.Records {
		body.Write(s.action(r))
		body.WriteByte('\n')
		body.Write(source(r))
		body.WriteByte('\n')
	}
	resp, err := s.do(ctx, http.MethodPost, "/"+url.PathEscape(s.cfg.Index)+"/_bulk", body.Bytes(), maxAnswerBytes)
	if err != nil {
		return err
	}
	if err := sink.Classify(resp, s.deps.Now()); err != nil {
		return err
	}
	var out struct {
		Errors bool                         `json:"errors"`
		Items  []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return fmt.Errorf("bulk answer: %w", err)
	}
	if !out.Errors {
		return nil
	}
	if len(out.Items) != len(b.Records) {
		return fmt.Errorf("bulk answer has %d items for %d documents", len(out.Items), len(b.Records))
	}
	failed := make(map[int]error)
	for i, item := range out.Items {
		var res struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
			Error  *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		for _, v := range item { // one key: the action
			_ = json.Unmarshal(v, &res)
		}
		if res.Status < 300 || res.Status == http.StatusConflict {
			continue // created, or already there from an earlier attempt
		}
		err := &ItemError{ID: res.ID, Status: res.Status}
		if res.Error != nil {
			err.Type, err.Reason = res.Error.Type, res.Error.Reason
		}
		failed[i] = itemClass(err)
	}
	if len(failed) == 0 {
		return nil
	}
	return &sink.PartialError{Failed: failed}
}

// ItemError is one document the cluster refused.
type ItemError struct {
	ID     string
	Status int
	Type   string
	Reason string
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("document %s: %d %s: %s", e.ID, e.Status, e.Type, e.Reason)
}

func itemClass(e *ItemError) error {
	switch st := e.Status; {
	case st == http.StatusTooManyRequests:
		return sink.Throttled(e, 0)
	case st == http.StatusUnauthorized, st == http.StatusForbidden, st == http.StatusNotFound:
		return sink.Misconfigured(e)
	case st >= 500:
		return e
	case st >= 400:
		return sink.Permanent(e)
	default:
		return e
	}
}

// do sends a request to the first node that answers (sink.HTTP.Do:
// egress check, timeout, drained answer), keeping at most keep bytes of
// the answer. Whole-request answers are classified with the default
// table, sink.StatusClass (DESTINATIONS.md §6): 413 is permanent, so the
// runner splits the batch.
func (s *Sink) do(ctx context.Context, method, path string, body []byte, keep int64) (sink.Response, error) {
	var lastErr error
	start := int(s.next.Load())
	for k := range s.urls {
		i := (start + k) % len(s.urls)
		u := *s.urls[i]
		u.Path = strings.TrimSuffix(u.Path, "/") + path
		h := http.Header{"Accept": {"application/json"}}
		if body != nil {
			h.Set("Content-Type", "application/x-ndjson")
		}
		switch s.cfg.Auth.Type {
		case AuthBasic:
			r := http.Request{Header: h}
			r.SetBasicAuth(s.cfg.Auth.Username, s.cfg.Auth.Password.Reveal())
		case AuthAPIKey:
			h.Set("Authorization", "ApiKey "+s.cfg.Auth.APIKey.Reveal())
		}
		resp, err := s.http.Do(ctx, sink.Request{Method: method, URL: &u, Header: h, Body: body, Keep: keep})
		if err == nil {
			s.next.Store(int64(i))
			return resp, nil
		}
		if ctx.Err() != nil {
			return sink.Response{}, ctx.Err()
		}
		if errors.Is(err, sink.ErrForbiddenTarget) {
			return sink.Response{}, err
		}
		s.deps.Logger.DebugContext(ctx, "node unreachable, trying the next", "url", sink.ShowURL(&u), "err", err)
		lastErr = err
	}
	s.next.Store(int64((start + 1) % len(s.urls)))
	return sink.Response{}, lastErr
}

// Verify asks the cluster's root endpoint with the credentials: an answer
// proves the node reachable and the credentials accepted. It writes
// nothing.
func (s *Sink) Verify(ctx context.Context) error {
	resp, err := s.do(ctx, http.MethodGet, "/", nil, 0)
	if err != nil {
		return err
	}
	return sink.Classify(resp, s.deps.Now())
}

// Close releases idle connections of the sink's own client. It may be
// called more than once.
func (s *Sink) Close(context.Context) error { return s.closed.Close(s.http.Close) }
