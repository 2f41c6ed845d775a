package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/app"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/pattern"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
)

// TestMain checks that the server, supervisor and stores leave nothing
// running once a test's journal is closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.DiscardHandler)

var errUnknownType = errors.New("unknown log stream type")

// testSettings are the settings of the in-test stream type "test".
type testSettings struct {
	URL      string `json:"url"`
	Password string `json:"password"`
	// Region is write-once, as Okta's aws_eventbridge settings are.
	Region string `json:"region,omitempty"`
}

// testTypes is an api.StreamTypes with one type, "test", whose sink
// records what it is given. It also builds sinks for the supervisor.
type testTypes struct {
	mu    sync.Mutex
	sinks map[string]*recSink
}

var _ api.StreamTypes = (*testTypes)(nil)

func (tt *testTypes) Validate(d stream.Definition) error {
	typ, settings := d.Type, d.Settings
	if typ != "test" {
		return fmt.Errorf("type: %w %q (known: test)", errUnknownType, typ)
	}
	var s testSettings
	dec := json.NewDecoder(bytes.NewReader(settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if s.URL == "" {
		return errors.New("settings.url: is required")
	}
	return nil
}

// Verify refuses the one URL tests use for an unreachable destination.
func (tt *testTypes) Verify(ctx context.Context, d stream.Definition) error {
	var s testSettings
	if err := json.Unmarshal(d.Settings, &s); err != nil {
		return err
	}
	if s.URL == "http://unreachable.invalid" {
		return errors.New("dial tcp: no such host")
	}
	return nil
}

// WriteOnce makes the test type's "region" write-once.
func (tt *testTypes) WriteOnce(typ string) []string {
	if typ == "test" {
		return []string{"region"}
	}
	return nil
}

// DestinationPaths makes the test type's "url" say where its password goes.
func (tt *testTypes) DestinationPaths(typ string) []string {
	if typ == "test" {
		return []string{"url"}
	}
	return nil
}

func (tt *testTypes) SecretPaths(typ string) []string {
	if typ == "test" {
		return []string{"password"}
	}
	return nil
}

// build is the supervisor's BuildFunc: one recording sink per stream,
// kept across restarts, and the stream's EventBridge filter.
func (tt *testTypes) build(d stream.Definition) (sink.Sink, stream.Filter, error) {
	if d.Type != "test" {
		return nil, nil, fmt.Errorf("%w %q", errUnknownType, d.Type)
	}
	var filter stream.Filter
	if len(d.Filter) > 0 {
		p, err := pattern.Compile(d.Filter)
		if err != nil {
			return nil, nil, err
		}
		filter = func(r *event.Record) bool {
			source := r.Source
			if source == "" {
				source = "auditstream." + r.Org
			}
			return p.MatchEnvelope(&pattern.Envelope{Version: "0", ID: r.UUID, DetailType: "SystemLog", Source: source,
				Account: "000000000000", Time: r.Published.UTC().Format(time.RFC3339), Region: "us-east-1", Detail: r.Data})
		}
	}
	var set testSettings
	if err := json.Unmarshal(d.Settings, &set); err == nil && set.URL == rejectURL {
		return rejectSink{}, filter, nil
	}
	return tt.sink(d.ID), filter, nil
}

// rejectURL is the test type's URL for a destination that refuses every
// event for good, so each one is dead-lettered.
const rejectURL = "http://reject.invalid"

// rejectSink refuses every batch with a permanent error.
type rejectSink struct{}

var _ sink.Sink = rejectSink{}

func (rejectSink) Limits() sink.Limits            { return sink.Limits{MaxAge: 10 * time.Millisecond} }
func (rejectSink) EncodedSize(r event.Record) int { return len(r.Data) + 1 }
func (rejectSink) Verify(context.Context) error   { return nil }
func (rejectSink) Close(context.Context) error    { return nil }
func (rejectSink) Write(context.Context, sink.Batch) error {
	return sink.Permanent(errors.New("400 Bad Request"))
}

func (tt *testTypes) sink(id string) *recSink {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	s, ok := tt.sinks[id]
	if !ok {
		s = &recSink{}
		tt.sinks[id] = s
	}
	return s
}

// recSink records the batches it is given and accepts them all.
type recSink struct {
	mu      sync.Mutex
	batches [][]event.Record
}

var _ sink.Sink = (*recSink)(nil)

func (s *recSink) Limits() sink.Limits            { return sink.Limits{MaxAge: 10 * time.Millisecond} }
func (s *recSink) EncodedSize(r event.Record) int { return len(r.Data) + 1 }
func (s *recSink) Verify(context.Context) error   { return nil }
func (s *recSink) Close(context.Context) error    { return nil }
func (s *recSink) Write(_ context.Context, b sink.Batch) error {
	recs := make([]event.Record, len(b.Records))
	for i, r := range b.Records {
		r.Data = slices.Clone(r.Data)
		recs[i] = r
	}
	s.mu.Lock()
	s.batches = append(s.batches, recs)
	s.mu.Unlock()
	return nil
}

func (s *recSink) eventTypes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.batches {
		for _, r := range b {
			out = append(out, r.EventType)
		}
	}
	return out
}

// server is a running API over an embedded journal.
type server struct {
	t      *testing.T
	url    string
	client *http.Client
	api    *api.Server
	j      *journal.Journal
	tokens *auth.Store
	store  *stream.Store
	types  *testTypes
	// admin is an all-orgs admin token secret.
	admin string
}

const adminSecret = "test-admin-token-0123456789abcdefghijklmnopqrstuvwxyz"

func newServer(t *testing.T, limits httpapi.Limits) *server {
	t.Helper()
	s, _ := newServerWith(t, env{limits: limits})
	return s
}

// env is what tests vary in newServer's environment; the zero value is
// newServer's.
type env struct {
	limits httpapi.Limits
	// maxBytes caps the journal (0: the journal's default).
	maxBytes int64
	// gate, when set, puts every destination behind a switch: while it is
	// off each write fails as a destination answering 503 would.
	gate *atomic.Bool
	// retention wires retention as app.Run does, with its conditions on
	// the returned board.
	retention bool
	// routes, when set, adds the endpoints it returns for the server's
	// journal (as app.Run adds other packages').
	routes func(j *journal.Journal) []httpapi.Route
	// partitions is journal.partitions (0: one).
	partitions int
}

// newServerWith is the API over an embedded journal with the token and
// log stream stores, a stream supervisor whose sinks record what they
// get, and an all-orgs admin token, all stopped when the test ends.
func newServerWith(t *testing.T, e env) (*server, *health.Board) {
	t.Helper()
	ctx := t.Context()
	j := journaltest.OpenWith(t, journal.Options{MaxBytes: e.maxBytes, Partitions: e.partitions})
	tokens, err := auth.NewStore(ctx, journaltest.KV(t, j, journal.BucketTokens), discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tokens.Close)
	if _, err := tokens.Ensure(ctx, adminSecret, auth.Token{Name: "admin", Org: auth.AllOrgs, Scopes: []auth.Scope{auth.ScopeAdmin}}); err != nil {
		t.Fatal(err)
	}
	store, err := stream.NewStore(ctx, journaltest.KV(t, j, journal.BucketStreams), nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)

	reg := prometheus.NewRegistry()
	types := &testTypes{sinks: map[string]*recSink{}}
	build := types.build
	if e.gate != nil {
		build = func(d stream.Definition) (sink.Sink, stream.Filter, error) {
			s, f, err := types.build(d)
			if err != nil {
				return nil, nil, err
			}
			return gateSink{recSink: s.(*recSink), open: e.gate}, f, nil
		}
	}
	sup := stream.NewSupervisor(stream.SupervisorConfig{Store: store, Journal: j, Build: build, Log: discard,
		Metrics: stream.NewMetrics(reg), StopTimeout: time.Second,
		Runner: stream.RunnerConfig{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxAge: 10 * time.Millisecond}})
	runs := []func(context.Context){sup.Run}
	var board *health.Board
	var ret *stream.Retention
	if e.retention {
		board = &health.Board{}
		ret = stream.NewRetention(stream.RetentionConfig{Journal: j, Supervisor: sup, Health: board, Log: discard,
			Registry: reg, SystemOrg: "default", Interval: 20 * time.Millisecond})
		runs = append(runs, ret.Run)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, run := range runs {
		wg.Go(func() { run(runCtx) })
	}
	t.Cleanup(func() { stop(); wg.Wait() })

	// The public URL is the test server's, so links point where the
	// client can follow them.
	ts := httptest.NewUnstartedServer(nil)
	deps := api.Deps{Journal: j, Tokens: tokens, Streams: store, Supervisor: sup, Types: types,
		ValidateFilter: func(raw []byte) error { return app.ValidateFilter(raw) }, Log: discard, Registry: reg, DefaultOrg: "default", Limits: e.limits,
		PublicURL: "http://" + ts.Listener.Addr().String()}
	if board != nil {
		deps.Health, deps.Retention = board, ret
	}
	if e.routes != nil {
		deps.Routes = e.routes(j)
	}
	srv := api.New(deps)
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return &server{t: t, url: ts.URL, client: ts.Client(), api: srv, j: j, tokens: tokens, store: store,
		types: types, admin: adminSecret}, board
}

// token creates a token and returns its secret.
func (s *server) token(org string, scopes ...auth.Scope) string {
	s.t.Helper()
	secret, _, err := s.tokens.Create(s.t.Context(), auth.Token{Name: "t", Org: org, Scopes: scopes})
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// response is an answer with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// json decodes the body into v.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// call sends a request with "SSWS <token>" (when token is not empty) and,
// for a body, Content-Type application/json unless hdr sets one. hdr is
// key, value pairs.
func (s *server) call(method, path, token string, body any, hdr ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "SSWS "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// oktaError is Okta's error body.
type oktaError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorLink    string `json:"errorLink"`
	ErrorID      string `json:"errorId"`
	ErrorCauses  []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

func (e oktaError) causes() []string {
	var out []string
	for _, c := range e.ErrorCauses {
		out = append(out, c.ErrorSummary)
	}
	return out
}

// wantError checks status, code and the shape of Okta's error body, and
// that every wantCause is a substring of some cause.
func wantError(t *testing.T, r response, status int, code string, wantCauses ...string) oktaError {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	var shape map[string]json.RawMessage
	r.json(t, &shape)
	for _, k := range []string{"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("got body %s without %s, want Okta's error shape", r.body, k)
		}
	}
	if c := shape["errorCauses"]; len(c) == 0 || c[0] != '[' {
		t.Errorf("got errorCauses %s, want an array", c)
	}
	var e oktaError
	r.json(t, &e)
	if e.ErrorCode != code || e.ErrorLink != code || e.ErrorSummary == "" || !strings.HasPrefix(e.ErrorID, "oae") {
		t.Errorf("got %+v, want errorCode and errorLink %s, a summary and an oae… errorId", e, code)
	}
	for _, w := range wantCauses {
		if !slices.ContainsFunc(e.causes(), func(c string) bool { return strings.Contains(c, w) }) {
			t.Errorf("got causes %q, want one containing %q", e.causes(), w)
		}
	}
	return e
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
}

// journalCount is how many events the journal holds.
func (s *server) journalCount() uint64 {
	s.t.Helper()
	return uint64(len(journaltest.Records(s.t, s.j)))
}
