package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

const (
	pathLogs     = "/api/v2/logs"
	pathValidate = "/api/v1/validate"
)

// Sink delivers batches to Datadog's Logs intake. Build it with New.
type Sink struct {
	cfg      Config
	logsURL  *url.URL
	checkURL *url.URL
	http     *sink.HTTP
	deps     sink.Deps
	closed   sink.Closed
}

var _ sink.Sink = (*Sink)(nil)

// Type is the "datadog" row of the stream type table.
func Type() sink.Type {
	return sink.NewType("datadog", prepare, build).WithDestination("site", "url")
}

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to check the API key.
func New(cfg Config, deps sink.Deps) (*Sink, error) { return sink.Build(cfg, deps, prepare, build) }

func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg, err := sink.Checked("datadog", cfg, Config.withDefaults)
	if err != nil {
		return cfg, err
	}
	u, _ := url.Parse(cfg.intake() + pathLogs)
	return cfg, deps.CheckURL(u, sink.ShowURL(u))
}

func build(cfg Config, deps sink.Deps) (*Sink, error) {
	s := &Sink{cfg: cfg, deps: deps, http: sink.NewHTTP(deps, cfg.Timeout.D())}
	s.logsURL, _ = url.Parse(cfg.intake() + pathLogs)
	s.checkURL, _ = url.Parse(cfg.api() + pathValidate)
	return s, nil
}

// Limits are the intake's 1,000 items, the configured request size before
// compression (one byte kept for the array's closing bracket) and 1 MB
// per log.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: maxItems, MaxBytes: s.cfg.MaxBytes - 1, MaxEventBytes: min(maxItemBytes, s.cfg.MaxBytes-1)}
}

// EncodedSize is the record's item plus its separator (the array's
// opening bracket or a comma).
func (s *Sink) EncodedSize(r event.Record) int { return len(s.item(r)) + 1 }

// item is the LogEvent with Datadog's reserved members added at its end
// (so they win over any member of the same name): ddsource, service,
// hostname, ddtags, timestamp (= published; Datadog does not read
// "published") and message (= displayMessage, else eventType).
func (s *Sink) item(r event.Record) []byte {
	var ev struct {
		DisplayMessage string `json:"displayMessage"`
	}
	_ = json.Unmarshal(r.Data, &ev)
	msg := ev.DisplayMessage
	if msg == "" {
		msg = r.EventType
	}
	tags := "org:" + r.Org
	if len(s.cfg.Tags) > 0 {
		tags += "," + strings.Join(s.cfg.Tags, ",")
	}
	extra := map[string]string{
		"ddsource": s.cfg.Source, "service": s.cfg.Service, "hostname": r.Org, "ddtags": tags, "message": msg,
	}
	if !r.Published.IsZero() {
		extra["timestamp"] = r.Published.UTC().Format(event.TimeFormat)
	}
	add, _ := json.Marshal(extra) // sorted keys: stable sizes
	data := bytes.TrimSpace(r.Data)
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return add // not an object: cannot happen for stored events
	}
	body := bytes.TrimSpace(data[1 : len(data)-1])
	out := make([]byte, 0, len(data)+len(add)+1)
	out = append(out, '{')
	if len(body) > 0 {
		out = append(out, body...)
		out = append(out, ',')
	}
	return append(out, add[1:]...)
}

// Write sends b as one JSON array. 413 is permanent, so the runner splits
// the batch until the event that does not fit is alone.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), "datadog"); skip {
		return err
	}
	var raw bytes.Buffer
	raw.WriteByte('[')
	for i, r := range b.Records {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(s.item(r))
	}
	raw.WriteByte(']')
	body := raw.Bytes()
	h := http.Header{"Content-Type": {"application/json"}}
	if *s.cfg.Gzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		body = z.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	return s.send(ctx, http.MethodPost, s.logsURL, body, h)
}

// send sends one request with the API key and classifies the answer
// (DESTINATIONS.md §5) with the default table, sink.StatusClass: 413 is
// permanent, so the runner splits the batch until the event that does not
// fit is alone.
func (s *Sink) send(ctx context.Context, method string, u *url.URL, body []byte, h http.Header) error {
	h.Set("DD-API-KEY", s.cfg.APIKey.Reveal())
	resp, err := s.http.Do(ctx, sink.Request{Method: method, URL: u, Header: h, Body: body})
	if err != nil {
		return err
	}
	return sink.Classify(resp, s.deps.Now())
}

// Verify checks the API key with GET /api/v1/validate. It sends no log.
func (s *Sink) Verify(ctx context.Context) error {
	return s.send(ctx, http.MethodGet, s.checkURL, nil, http.Header{})
}

// Close releases idle connections of the sink's own client. It may be
// called more than once.
func (s *Sink) Close(context.Context) error { return s.closed.Close(s.http.Close) }
