package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/wait"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var discard = slog.New(slog.DiscardHandler)

// fakeRunner records its runs and backfills.
type fakeRunner struct {
	rec *recorder
	id  string
}

type recorder struct {
	mu        sync.Mutex
	running   map[string]int
	starts    map[string]int
	backfills int
	block     chan struct{}
}

func (f *fakeRunner) Run(ctx context.Context) error {
	f.rec.mu.Lock()
	f.rec.running[f.id]++
	f.rec.starts[f.id]++
	f.rec.mu.Unlock()
	<-ctx.Done()
	f.rec.mu.Lock()
	f.rec.running[f.id]--
	f.rec.mu.Unlock()
	return nil
}

func (f *fakeRunner) Backfill(ctx context.Context, since, until time.Time) error {
	f.rec.mu.Lock()
	f.rec.backfills++
	block := f.rec.block
	f.rec.mu.Unlock()
	select {
	case <-block:
	case <-ctx.Done():
	}
	return nil
}

func (r *recorder) get(id string) (running, starts int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id], r.starts[id]
}

type fixture struct {
	j     *journal.Journal
	store *source.Store
	sup   *source.Supervisor
	rec   *recorder
	srv   *httptest.Server
}

func setup(t *testing.T) *fixture {
	t.Helper()
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, journal.BucketSources)
	cp := journaltest.KV(t, j, source.BucketCheckpoints)
	statusKV := journaltest.KV(t, j, journal.BucketStatus)
	fixed := []source.Definition{{Header: kvstore.Header{ID: "fromfile", Type: "poll", Name: "file", Status: source.StatusActive, Org: "acme", Settings: json.RawMessage(`{"n":1}`)}}}
	store, err := source.NewStore(t.Context(), kv, fixed, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	rec := &recorder{running: map[string]int{}, starts: map[string]int{}, block: make(chan struct{})}
	types := map[string]source.Type{
		"poll": {
			Prepare: func(s, old json.RawMessage) (json.RawMessage, error) {
				if bytes.Contains(s, []byte("bad")) {
					return nil, errors.Join(errors.New("settings.a: bad"), errors.New("settings.b: bad too"))
				}
				return s, nil
			},
			SecretPaths: []string{"secret"},
			NewRunner: func(d source.Definition, deps source.RunnerDeps) (source.Runner, error) {
				return &fakeRunner{rec: rec, id: d.ID}, nil
			},
		},
		"push": {Prepare: func(s, old json.RawMessage) (json.RawMessage, error) { return s, nil }},
	}
	sup := source.NewSupervisor(source.SupervisorConfig{Store: store, Types: types, Journal: j, Checkpoints: cp,
		StatusKV: statusKV, Metrics: source.NewMetrics(prometheus.NewRegistry()), Log: discard})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	t.Cleanup(func() { close(rec.block); cancel(); <-done })
	a := &source.API{Store: store, Supervisor: sup, Types: types, Log: discard, DefaultOrg: "default", Journal: j,
		PublicURL: publicURL + "/"}
	mux := http.NewServeMux()
	tok := auth.Token{ID: "t1", Name: "admin", Org: auth.AllOrgs, Scopes: []auth.Scope{auth.ScopeAdmin}}
	for _, rt := range a.Routes() {
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Handle(w, r, tok); err != nil {
				httpapi.WriteError(w, discard, err)
			}
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{j: j, store: store, sup: sup, rec: rec, srv: srv}
}

func (f *fixture) call(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	}
}

type view struct {
	ID       string         `json:"id"`
	Status   string         `json:"status"`
	Org      string         `json:"org"`
	ReadOnly bool           `json:"readOnly"`
	Settings map[string]any `json:"settings"`
}

// TestLifecycle drives a source through the API and checks that the
// supervisor runs exactly one runner while it is active.
func TestLifecycle(t *testing.T) {
	f := setup(t)
	wait.Eventually(t, "the config file's source running", func() bool { r, _ := f.rec.get("fromfile"); return r == 1 })

	var v view
	f.call(t, "POST", "/api/v1/sources", `{"type":"poll","name":"one","org":"acme","settings":{"secret":"s","x":1}}`, 200, &v)
	if v.Status != source.StatusActive || v.Settings["secret"] != nil || v.Settings["x"] != float64(1) {
		t.Fatalf("created: got %+v, want ACTIVE without the secret", v)
	}
	wait.Eventually(t, "the new source running", func() bool { r, _ := f.rec.get(v.ID); return r == 1 })

	f.call(t, "PUT", "/api/v1/sources/"+v.ID, `{"name":"one","settings":{"x":2}}`, 200, nil)
	wait.Eventually(t, "a restart with the new settings", func() bool { r, s := f.rec.get(v.ID); return r == 1 && s == 2 })

	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/lifecycle/deactivate", "", 200, &v)
	wait.Eventually(t, "the runner stopped", func() bool { r, _ := f.rec.get(v.ID); return r == 0 })
	var st source.Snapshot
	f.call(t, "GET", "/api/v1/sources/"+v.ID+"/status", "", 200, &st)
	if st.State != source.StateInactive {
		t.Fatalf("status: got %s, want inactive", st.State)
	}
	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/lifecycle/activate", "", 200, &v)
	wait.Eventually(t, "running again", func() bool { r, s := f.rec.get(v.ID); return r == 1 && s == 3 })

	// Backfills run one at a time.
	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/backfill", `{"since":"2024-01-01T00:00:00Z","until":"2024-01-02T00:00:00Z"}`, 202, nil)
	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/backfill", `{"since":"2024-01-01T00:00:00Z"}`, 409, nil)
	// Deactivating the source stops its backfill; a deactivated source
	// takes none.
	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/lifecycle/deactivate", "", 200, &v)
	wait.Eventually(t, "the backfill stopped", func() bool {
		var st source.Snapshot
		f.call(t, "GET", "/api/v1/sources/"+v.ID+"/status", "", 200, &st)
		return st.Backfill != nil && st.Backfill.State != "RUNNING"
	})
	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/backfill", `{"since":"2024-01-01T00:00:00Z"}`, 400, nil)
	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/lifecycle/activate", "", 200, &v)

	f.call(t, "DELETE", "/api/v1/sources/"+v.ID, "", 204, nil)
	wait.Eventually(t, "the runner stopped", func() bool { r, _ := f.rec.get(v.ID); return r == 0 })
	f.call(t, "GET", "/api/v1/sources/"+v.ID, "", 404, nil)

	var list []view
	f.call(t, "GET", "/api/v1/sources", "", 200, &list)
	if len(list) != 1 || list[0].ID != "fromfile" || !list[0].ReadOnly {
		t.Fatalf("list: got %+v, want only the read-only config file source", list)
	}
	f.call(t, "DELETE", "/api/v1/sources/fromfile", "", 403, nil)

	// Every change was recorded in the System Log, as Okta does for streams.
	types := map[string]int{}
	for _, r := range journaltest.Records(t, f.j) {
		if r.Org == "acme" {
			types[r.EventType]++
		}
	}
	for _, verb := range []string{"create", "update", "deactivate", "activate", "delete"} {
		if types["system.log_source.lifecycle."+verb] == 0 {
			t.Errorf("no system.log_source.lifecycle.%s event in the journal (got %v)", verb, types)
		}
	}
}

func TestValidation(t *testing.T) {
	f := setup(t)
	tests := []struct {
		name, body string
		want       int
		causes     []string
	}{
		{"unknown type", `{"type":"ftp","name":"x","org":"acme"}`, 400, []string{`type: "ftp" is not one of poll, push`}},
		{"no name and bad org", `{"type":"push","name":"","org":"a b"}`, 400, []string{"name:", "org:"}},
		{"settings errors joined", `{"type":"poll","name":"x","org":"acme","settings":{"bad":1}}`, 400, []string{"settings.a: bad", "settings.b: bad too"}},
		{"unknown member", `{"type":"push","name":"x","org":"acme","extra":1}`, 400, []string{"unknown field"}},
		{"all orgs", `{"type":"push","name":"x","org":"*"}`, 400, []string{"org:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e struct {
				ErrorCauses []struct{ ErrorSummary string }
			}
			f.call(t, "POST", "/api/v1/sources", tc.body, tc.want, &e)
			var all []string
			for _, c := range e.ErrorCauses {
				all = append(all, c.ErrorSummary)
			}
			joined := strings.Join(all, "\n")
			for _, c := range tc.causes {
				if !strings.Contains(joined, c) {
					t.Fatalf("causes: got %q, want one with %q", all, c)
				}
			}
		})
	}
	f.call(t, "POST", "/api/v1/sources/fromfile/backfill", `{"since":"nope"}`, 400, nil)
	f.call(t, "POST", "/api/v1/sources/fromfile/backfill", `{"since":"2024-01-02T00:00:00Z","until":"2024-01-01T00:00:00Z"}`, 400, nil)
	var v view
	f.call(t, "POST", "/api/v1/sources", `{"type":"push","name":"receiver"}`, 200, &v)
	if v.Org != "default" {
		t.Fatalf("org of an all-orgs token's source: got %q, want default", v.Org)
	}
	f.call(t, "POST", "/api/v1/sources/"+v.ID+"/backfill", `{"since":"2024-01-01T00:00:00Z"}`, 400, nil)
}

// TestHealthTransitions raises each health event once per episode.
func TestHealthTransitions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var st source.Status
	st.Started(t0)
	steps := []struct {
		at   time.Duration
		do   func(now time.Time)
		want string
	}{
		{0, func(now time.Time) { st.Failed(now, source.StateError, source.KindAuth, errors.New("401")) }, ""},
		{5 * time.Minute, nil, ""},
		{16 * time.Minute, nil, source.HealthFailing},
		{17 * time.Minute, func(now time.Time) { st.Failed(now, source.StateError, source.KindAuth, errors.New("401")) }, ""},
		{18 * time.Minute, func(now time.Time) { st.Polled(now, source.Page{Stored: 3, Newest: now, CaughtUp: true}) }, source.HealthRecovered},
		{19 * time.Minute, nil, ""},
		{19*time.Minute + time.Hour, nil, source.HealthSilent},
		{20*time.Minute + time.Hour, nil, ""},
		{21*time.Minute + time.Hour, func(now time.Time) { st.Polled(now, source.Page{Stored: 1, Newest: now, CaughtUp: true}) }, source.HealthRecovered},
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		if s.do != nil {
			s.do(now)
		}
		if got := st.CheckHealth(now, 15*time.Minute, time.Hour); got != s.want {
			t.Fatalf("step %d: got %q, want %q", i, got, s.want)
		}
	}
}

// TestLeaseOneNode runs two supervisors on one journal, as two nodes do:
// a polling source runs on one of them, and moves when that one stops.
func TestLeaseOneNode(t *testing.T) {
	f := setup(t)
	wait.Eventually(t, "the source running", func() bool { r, _ := f.rec.get("fromfile"); return r == 1 })
	kv, _ := f.j.KV(t.Context(), journal.BucketSources)
	state, _ := f.j.KV(t.Context(), source.BucketState)
	store2, err := source.NewStore(t.Context(), kv, []source.Definition{{Header: kvstore.Header{ID: "fromfile", Type: "poll", Name: "file", Status: source.StatusActive, Org: "acme", Settings: json.RawMessage(`{"n":1}`)}}}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	rec2 := &recorder{running: map[string]int{}, starts: map[string]int{}, block: make(chan struct{})}
	types := map[string]source.Type{"poll": {NewRunner: func(d source.Definition, deps source.RunnerDeps) (source.Runner, error) {
		return &fakeRunner{rec: rec2, id: d.ID}, nil
	}}}
	// The fixture's supervisor counts in another recorder and takes no
	// leases; these two nodes share the lease bucket.
	first := source.NewSupervisor(source.SupervisorConfig{Store: f.store, Types: types, LeaseKV: state, Log: discard})
	second := source.NewSupervisor(source.SupervisorConfig{Store: store2, Types: types, LeaseKV: state, Log: discard})
	ctx1, stop1 := context.WithCancel(t.Context())
	done1 := make(chan struct{})
	go func() { first.Run(ctx1); close(done1) }()
	wait.Eventually(t, "node one running it", func() bool { r, _ := rec2.get("fromfile"); return r == 1 })
	ctx2, stop2 := context.WithCancel(t.Context())
	done2 := make(chan struct{})
	go func() { second.Run(ctx2); close(done2) }()
	time.Sleep(3 * time.Second) // a reconcile tick or more
	if r, s := rec2.get("fromfile"); r != 1 || s != 1 {
		t.Fatalf("with two nodes: got %d running, %d starts, want 1 and 1", r, s)
	}
	stop1()
	<-done1
	wait.Eventually(t, "node two taking over", func() bool { r, s := rec2.get("fromfile"); return r == 1 && s == 2 })
	stop2()
	<-done2
	close(rec2.block)
}

// publicURL is the fixture's configured public URL (given with a trailing
// slash, which links must not double).
const publicURL = "https://audit.example.test"

// TestLinksIgnoreHostHeader checks that a source's _links are built from
// the configured public URL, never from the request's Host header.
func TestLinksIgnoreHostHeader(t *testing.T) {
	f := setup(t)
	for _, path := range []string{"/api/v1/sources", "/api/v1/sources/fromfile"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", f.srv.URL+path, nil)
			req.Host = "evil.example"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || strings.Contains(string(b), "evil.example") {
				t.Fatalf("got %d %s, want 200 and links without the request's Host", resp.StatusCode, b)
			}
			want := `"self":{"href":"` + publicURL + `/api/v1/sources/fromfile","method":"GET"}`
			if !strings.Contains(string(b), want) {
				t.Errorf("got %s, want a link %s", b, want)
			}
		})
	}
}

// TestStopSavesStatus: on the way down the supervisor saves the status of
// each source it ran, under "source."+id in the status bucket it shares
// with log streams, so a restart starts from those counters.
func TestStopSavesStatus(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, journal.BucketSources)
	statusKV := journaltest.KV(t, j, journal.BucketStatus)
	fixed := []source.Definition{{Header: kvstore.Header{ID: "s1", Type: "poll", Name: "s1", Status: source.StatusActive, Org: "acme", Settings: json.RawMessage(`{}`)}}}
	store, err := source.NewStore(t.Context(), kv, fixed, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	rec := &recorder{running: map[string]int{}, starts: map[string]int{}, block: make(chan struct{})}
	types := map[string]source.Type{"poll": {NewRunner: func(d source.Definition, _ source.RunnerDeps) (source.Runner, error) {
		return &fakeRunner{rec: rec, id: d.ID}, nil
	}}}
	newSup := func() *source.Supervisor {
		return source.NewSupervisor(source.SupervisorConfig{Store: store, Types: types, Journal: j,
			StatusKV: statusKV, Log: discard})
	}
	sup := newSup()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	wait.Eventually(t, "the runner", func() bool { n, _ := rec.get("s1"); return n == 1 })
	sup.StatusOf("s1").Polled(time.Now(), source.Page{Stored: 4, Duplicates: 1, CaughtUp: true})
	cancel() // well before the first tick (2 s) saves anything
	<-done

	entry, err := statusKV.Get(t.Context(), "source.s1")
	if err != nil {
		t.Fatalf("saved status of s1: %v, want one saved on stop", err)
	}
	var saved source.Snapshot
	if err := json.Unmarshal(entry.Value(), &saved); err != nil {
		t.Fatal(err)
	}
	if saved.ID != "s1" || saved.Events != 4 || saved.Duplicates != 1 {
		t.Errorf("saved: got id %q events %d duplicates %d, want s1, 4, 1", saved.ID, saved.Events, saved.Duplicates)
	}
	if got := newSup().StatusOf("s1").Snapshot(time.Now()).Events; got != 4 {
		t.Errorf("restored events: got %d, want 4", got)
	}
}

// TestStatusFollowsLease: when a polling source's lease moves to another
// node, that node goes on from the counters the first one saved when it
// gave the source up (the counter no longer falls on a move).
func TestStatusFollowsLease(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, journal.BucketSources)
	statusKV := journaltest.KV(t, j, journal.BucketStatus)
	state := journaltest.KV(t, j, source.BucketState)
	fixed := []source.Definition{{Header: kvstore.Header{ID: "s1", Type: "poll", Name: "s1", Status: source.StatusActive, Org: "acme", Settings: json.RawMessage(`{}`)}}}
	rec := &recorder{running: map[string]int{}, starts: map[string]int{}, block: make(chan struct{})}
	defer close(rec.block)
	types := map[string]source.Type{"poll": {NewRunner: func(d source.Definition, deps source.RunnerDeps) (source.Runner, error) {
		return &fakeRunner{rec: rec, id: d.ID}, nil
	}}}
	node := func(id string) (*source.Supervisor, func()) {
		store, err := source.NewStore(t.Context(), kv, fixed, discard)
		if err != nil {
			t.Fatal(err)
		}
		sup := source.NewSupervisor(source.SupervisorConfig{Store: store, Types: types, StatusKV: statusKV, LeaseKV: state,
			NodeID: id, Log: discard})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { sup.Run(ctx); close(done) }()
		return sup, func() { cancel(); <-done; store.Close() }
	}
	first, stop1 := node("n1")
	wait.Eventually(t, "n1 polling s1", func() bool { r, _ := rec.get("s1"); return r == 1 })
	first.StatusOf("s1").Polled(time.Now(), source.Page{Stored: 5})
	second, stop2 := node("n2")
	defer stop2()
	stop1()
	wait.Eventually(t, "n2 taking s1 over", func() bool { r, s := rec.get("s1"); return r == 1 && s == 2 })
	second.StatusOf("s1").Polled(time.Now(), source.Page{Stored: 2})
	if got := second.StatusOf("s1").Record("s1", time.Now()).Events; got != 7 {
		t.Errorf("events counted on n2 after the move: got %d, want 7 (5 from n1, 2 of its own)", got)
	}
}
