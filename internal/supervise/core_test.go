package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.DiscardHandler)

// def is a definition of the fake kind.
type def struct {
	ID   string
	Gen  int
	Off  bool
	Conf string
}

func (d def) EntryKey() string        { return d.ID }
func (d def) EntryCreated() time.Time { return time.Time{} }
func (d def) EntryReadOnly() bool     { return false }

// catalog is an in-memory Catalog.
type catalog struct {
	mu      sync.Mutex
	defs    []def
	changes chan struct{}
}

func newCatalog(defs ...def) *catalog {
	return &catalog{defs: defs, changes: make(chan struct{}, 1)}
}

func (c *catalog) List() []def {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.defs)
}

func (c *catalog) Changes() <-chan struct{} { return c.changes }

func (c *catalog) set(defs ...def) {
	c.mu.Lock()
	c.defs = defs
	c.mu.Unlock()
	select {
	case c.changes <- struct{}{}:
	default:
	}
}

// snap is the saved form of a stat.
type snap struct {
	ID    string `json:"id"`
	N     int    `json:"n"`
	State State  `json:"state"`
}

// stat is the fake kind's live status.
type stat struct {
	mu    sync.Mutex
	n     int
	state State
}

func (s *stat) Record(id string, _ time.Time) snap {
	s.mu.Lock()
	defer s.mu.Unlock()
	return snap{ID: id, N: s.n, State: s.state}
}

func (s *stat) Restore(p snap) {
	s.mu.Lock()
	s.n = p.N
	s.mu.Unlock()
}

func (s *stat) add(n int) {
	s.mu.Lock()
	s.n += n
	s.mu.Unlock()
}

// kind records what the Core asks of it, in order.
type kind struct {
	mu   sync.Mutex
	log  []string
	away map[string]bool // Start returns nil: another node runs it
	lose map[string]bool // Keep reports false
}

func (k *kind) record(format string, args ...any) {
	k.mu.Lock()
	k.log = append(k.log, fmt.Sprintf(format, args...))
	k.mu.Unlock()
}

// take returns what was recorded since the last take.
func (k *kind) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.log
	k.log = nil
	return out
}

func (k *kind) Same(a, b def) bool { return a.Conf == b.Conf && a.Gen == b.Gen }
func (k *kind) Active(d def) bool  { return !d.Off }

func (k *kind) Start(_ context.Context, d def, st *stat) Work {
	k.mu.Lock()
	away := k.away[d.ID]
	k.mu.Unlock()
	if away {
		k.record("away %s", d.ID)
		return nil
	}
	st.mu.Lock()
	st.state = StateActive
	st.mu.Unlock()
	k.record("start %s/%s", d.ID, d.Conf)
	return &work{k: k, d: d}
}

func (k *kind) Idle(d def, st *stat) {
	st.mu.Lock()
	st.state = StateInactive
	st.mu.Unlock()
	k.record("idle %s", d.ID)
}

func (k *kind) Forget(_ context.Context, d def) { k.record("forget %s", d.ID) }
func (k *kind) Tick(context.Context)            {}

// retiring is a kind with generations.
type retiring struct{ *kind }

func (k retiring) Generation(d def) int                       { return d.Gen }
func (k retiring) Retire(_ context.Context, old def)          { k.record("retire %s/%d", old.ID, old.Gen) }
func (k retiring) Keep(_ context.Context, d def, _ Work) bool { return !k.lose[d.ID] }
func (k retiring) Drain()                                     { k.record("drain") }

type work struct {
	k *kind
	d def
}

func (w *work) Stop(context.Context) { w.k.record("stop %s/%s", w.d.ID, w.d.Conf) }

// statusBucket opens the status bucket of a fresh journal.
func statusBucket(t *testing.T) StatusStore[snap] {
	t.Helper()
	return StatusStore[snap]{KV: journaltest.KV(t, journaltest.Open(t), journal.BucketStatus), Prefix: "fake."}
}

func newCore(cat *catalog, k Kind[def, *stat], statuses StatusStore[snap]) *Core[def, *stat, snap] {
	return New(Deps[def, *stat, snap]{Catalog: cat, Kind: k, NewStatus: func() *stat { return &stat{} },
		Statuses: statuses, Log: discard, Noun: "fake", Interval: time.Hour})
}

// TestReconcile drives passes one at a time: what each change of the
// catalog starts, stops, idles, retires and forgets, and in which order.
func TestReconcile(t *testing.T) {
	statuses := statusBucket(t)
	cat := newCatalog(def{ID: "a", Conf: "1"}, def{ID: "b", Conf: "1"})
	k := &kind{away: map[string]bool{}, lose: map[string]bool{}}
	c := newCore(cat, retiring{k}, statuses)
	ctx := t.Context()

	steps := []struct {
		name string
		set  func()
		want []string
	}{
		{"start every active definition", func() {}, []string{"start a/1", "start b/1"}},
		{"nothing changed: nothing happens", func() {}, nil},
		{"a changed: restart it", func() { cat.set(def{ID: "a", Conf: "2"}, def{ID: "b", Conf: "1"}) },
			[]string{"stop a/1", "start a/2"}},
		{"a deactivated: stop it, then idle on every pass", func() { cat.set(def{ID: "a", Conf: "2", Off: true}, def{ID: "b", Conf: "1"}) },
			[]string{"stop a/2", "idle a"}},
		{"a stays inactive", func() {}, []string{"idle a"}},
		{"b gets a new generation: stop, retire the old one once, start", func() {
			cat.set(def{ID: "a", Conf: "2", Off: true}, def{ID: "b", Conf: "1", Gen: 1})
		}, []string{"idle a", "stop b/1", "retire b/0", "start b/1"}},
		{"b runs on in its generation", func() {}, []string{"idle a"}},
		{"a deleted: forgotten once", func() { cat.set(def{ID: "b", Conf: "1", Gen: 1}) }, []string{"forget a"}},
		{"b loses its lease: stopped, then started again when it may", func() { k.lose["b"] = true; k.away["b"] = true },
			[]string{"stop b/1", "away b"}},
		{"b away: asked again on the next pass", func() {}, []string{"away b"}},
		{"b back", func() { k.lose["b"] = false; k.away["b"] = false }, []string{"start b/1"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.set()
			c.reconcile(ctx)
			slices.Sort(s.want)
			got := k.take()
			slices.Sort(got)
			if !slices.Equal(got, s.want) {
				t.Errorf("got %q, want %q", got, s.want)
			}
		})
	}
}

// TestDeletedStatusIsRemoved: a deleted definition's saved status goes,
// in memory and in the bucket, and a new definition of the same id starts
// from zero.
func TestDeletedStatusIsRemoved(t *testing.T) {
	statuses := statusBucket(t)
	cat := newCatalog(def{ID: "a"})
	k := &kind{}
	c := newCore(cat, k, statuses)
	c.reconcile(t.Context())
	c.StatusOf("a").add(3)
	if err := c.SaveStatus(t.Context(), "a"); err != nil {
		t.Fatalf("save: %v", err)
	}
	if got, ok := statuses.Load("a"); !ok || got.N != 3 || got.ID != "a" {
		t.Fatalf("saved: got %+v %v, want n 3 for a", got, ok)
	}
	if _, err := statuses.KV.Get(t.Context(), "fake.a"); err != nil {
		t.Fatalf("saved key: %v, want fake.a (the kind's prefix)", err)
	}
	cat.set()
	c.reconcile(t.Context())
	if _, ok := statuses.Load("a"); ok {
		t.Error("saved status after delete: got one, want none")
	}
	if got := c.StatusOf("a").Record("a", time.Now()).N; got != 0 {
		t.Errorf("status of a new a: got n %d, want 0", got)
	}
}

// TestCurrent: the live status where the work runs, else the saved one.
func TestCurrent(t *testing.T) {
	statuses := statusBucket(t)
	k := &kind{away: map[string]bool{"b": true}}
	c := newCore(newCatalog(def{ID: "a"}, def{ID: "b"}), k, statuses)
	if err := statuses.Save(t.Context(), "a", snap{ID: "a", N: 7}); err != nil {
		t.Fatal(err)
	}
	if err := statuses.Save(t.Context(), "b", snap{ID: "b", N: 9, State: StateRetrying}); err != nil {
		t.Fatal(err)
	}
	c.reconcile(t.Context())
	c.StatusOf("a").add(1)
	if got := c.Current("a"); got.N != 8 || got.State != StateActive {
		t.Errorf("a runs here: got %+v, want the live status (n 8, active)", got)
	}
	if got := c.Current("b"); got.N != 9 || got.State != StateRetrying {
		t.Errorf("b runs elsewhere: got %+v, want the saved one (n 9, retrying)", got)
	}
}

// TestRunStopsDrainsThenSaves: on the way down every work stops, the kind
// drains, and then the statuses of the stopped work are saved (before any
// tick did).
func TestRunStopsDrainsThenSaves(t *testing.T) {
	statuses := statusBucket(t)
	cat := newCatalog(def{ID: "a", Conf: "1"}, def{ID: "b", Conf: "1", Off: true})
	k := &kind{}
	c := newCore(cat, retiring{k}, statuses)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	wait.Eventually(t, "a to start", func() bool { _, w, ok := c.Running("a"); return ok && w != nil }, wait.Within(5*time.Second))
	c.StatusOf("a").add(5)
	c.StatusOf("b").add(2)
	cancel()
	<-done
	got := k.take()
	if want := []string{"idle b", "start a/1", "stop a/1", "drain"}; !slices.Equal(sorted(got[:2]), want[:2]) || !slices.Equal(got[2:], want[2:]) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, ok := statuses.Load("a"); !ok || got.N != 5 {
		t.Errorf("a saved on stop: got %+v %v, want n 5", got, ok)
	}
	if got, ok := statuses.Load("b"); ok {
		t.Errorf("b (not running here) saved: got %+v, want nothing", got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestNoBucket: without a status bucket the Core keeps statuses in
// memory only.
func TestNoBucket(t *testing.T) {
	k := &kind{}
	c := newCore(newCatalog(def{ID: "a"}), k, StatusStore[snap]{})
	c.reconcile(t.Context())
	c.StatusOf("a").add(1)
	if err := c.SaveStatus(t.Context(), "a"); err != nil {
		t.Errorf("save without a bucket: got %v, want nil", err)
	}
	if got := c.Current("a").N; got != 1 {
		t.Errorf("current: got n %d, want 1", got)
	}
}
