package stream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// retEnv is a journal with a small cap, a supervisor and a retention
// manager checking often.
type retEnv struct {
	*env
	sup   *supervisor
	ret   *stream.Retention
	board *health.Board
	reg   *prometheus.Registry
	seq   int
}

func newRetEnv(t *testing.T, opts journal.Options, whenFull string) *retEnv {
	t.Helper()
	e := newEnvWith(t, opts)
	re := &retEnv{env: e, board: &health.Board{}, reg: e.reg}
	re.sup = e.start(time.Second)
	re.ret = stream.NewRetention(stream.RetentionConfig{Journal: e.j, Supervisor: re.sup.Supervisor, WhenFull: whenFull,
		Health: re.board, Log: discard, Registry: e.reg, SystemOrg: "ops", Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		re.ret.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return re
}

// ingest appends n events of about 1 KiB for org as the ingest API does:
// on ErrFull it asks retention for room and tries once more. It returns
// the uuids stored and the error that stopped it, if any.
// downAndOK adds two streams of 50-event batches: "down", of org (of
// every org when empty), whose destination fails until down.set(true), and
// "ok", of every org, which delivers.
func (re *retEnv) downAndOK(org string) (down *switchable, fDown, fOK *fakeSink) {
	down = &switchable{}
	fDown = newFakeSink(sink.Limits{MaxEvents: 50}, down.answer)
	fOK = newFakeSink(sink.Limits{MaxEvents: 50}, nil)
	re.setSink("down", fDown)
	re.setSink("ok", fOK)
	d := def("down")
	if org != "" {
		d.Org = org
	}
	re.put(d)
	re.put(def("ok"))
	return down, fDown, fOK
}

func (re *retEnv) ingest(org string, n int) ([]string, error) {
	var stored []string
	for range n {
		re.seq++
		ev := mkEvent(re.t, org, "test.event", fmt.Sprintf("%s-%05d", org, re.seq), 1000)
		if err := re.ret.Admit(re.t.Context()); err != nil {
			return stored, err
		}
		_, err := re.j.Append(re.t.Context(), []event.Record{ev})
		// As the ingest API does (api.makeRoomTries).
		for try := 0; try < 3 && errors.Is(err, journal.ErrFull); try++ {
			if err = re.ret.MakeRoom(re.t.Context()); err != nil {
				break
			}
			_, err = re.j.Append(re.t.Context(), []event.Record{ev})
		}
		if err != nil {
			return stored, err
		}
		stored = append(stored, ev.UUID)
	}
	return stored, nil
}

func (re *retEnv) gauge(name string, labels ...string) float64 {
	re.t.Helper()
	mfs, err := re.reg.Gather()
	if err != nil {
		re.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelsMatch(m, labels) {
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labelsMatch(m *dto.Metric, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		ok := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (re *retEnv) condition(name string) (health.Condition, bool) {
	for _, c := range re.board.Conditions() {
		if c.Name == name {
			return c, true
		}
	}
	return health.Condition{}, false
}

// switchable is a sink answer that fails until ok is set.
type switchable struct {
	mu sync.Mutex
	ok bool
}

func (s *switchable) answer(context.Context, int, sink.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok {
		return nil
	}
	return errors.New("503 destination down")
}

func (s *switchable) set(ok bool) {
	s.mu.Lock()
	s.ok = ok
	s.mu.Unlock()
}

// eventTypes lists the event types a sink delivered.
func eventTypes(f *fakeSink) []string {
	var out []string
	for _, r := range f.deliveredRecords() {
		out = append(out, r.EventType)
	}
	return out
}

func countOf(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// TestRetentionProtectsUndelivered is the reviewer's repro: the
// destination is down and ingest goes past journal.maxBytes. Ingest is
// refused naming the stream, nothing acknowledged is lost, the condition
// shows in health, status, metrics and the System Log, and once the
// destination is back every event is delivered and ingest is accepted
// again.
func TestRetentionProtectsUndelivered(t *testing.T) {
	re := newRetEnv(t, journal.Options{MaxBytes: 512 << 10}, stream.WhenFullProtect)
	down, fDown, fOK := re.downAndOK("")
	wait.Eventually(t, "consumers created", func() bool {
		_, ok1, _ := re.j.AckFloor(t.Context(), "ls_down_0")
		_, ok2, _ := re.j.AckFloor(t.Context(), "ls_ok_0")
		return ok1 && ok2
	})

	// ~2 MiB into a 512 KiB journal, at a pace retention's checks (every
	// 20 ms) notice the high-water mark before the hard cap.
	var accepted []string
	var err error
	for len(accepted) < 2000 {
		var got []string
		got, err = re.ingest("acme", 5)
		accepted = append(accepted, got...)
		if err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var fe *stream.FullError
	if !errors.As(err, &fe) || !errors.Is(err, journal.ErrFull) {
		t.Fatalf("got %d accepted and error %v, want a FullError once the journal is full", len(accepted), err)
	}
	if len(fe.Blockers) != 1 || fe.Blockers[0].ID != "down" || fe.Blockers[0].OldestUndelivered != 1 {
		t.Fatalf("got blockers %+v, want stream down, undelivered from sequence 1", fe.Blockers)
	}
	if u, _ := re.j.Usage(t.Context()); u.Ratio() < 0.9 || len(accepted) < 300 {
		t.Fatalf("got %d accepted and usage %+v, want the journal filled to 90%% first", len(accepted), u)
	}
	c, ok := re.condition(stream.ConditionRetention)
	if !ok || c.Level != health.Degraded || !strings.Contains(c.Message, "1 active log streams") || strings.Contains(c.Message, "down") {
		t.Errorf("got condition %+v (set %v), want a degraded %s counting, not naming, the stream", c, ok, stream.ConditionRetention)
	}
	if snap := re.sup.StatusOf("down").Snapshot(); !snap.RetentionBlocking || snap.DroppedByRetention != nil {
		t.Errorf("got status %+v, want retentionBlocking and nothing dropped", snap)
	}
	if g := re.gauge("auditstream_journal_retention_blocked"); g != 1 {
		t.Errorf("got auditstream_journal_retention_blocked %v, want 1", g)
	}
	if g := re.gauge("auditstream_stream_retention_blocking", "stream", "down"); g != 1 {
		t.Errorf("got auditstream_stream_retention_blocking{down} %v, want 1", g)
	}
	wait.Eventually(t, "a system.journal.retention.blocked event delivered", func() bool {
		return slices.Contains(eventTypes(fOK), "system.journal.retention.blocked")
	})
	u, err := re.j.Usage(t.Context())
	if err != nil || u.FirstSeq != 1 {
		t.Fatalf("got usage %+v, %v, want the first event kept", u, err)
	}

	down.set(true)
	wait.Eventually(t, "every accepted event delivered", func() bool {
		got := fDown.deliveredIDs()
		for _, id := range accepted {
			if !slices.Contains(got, id) {
				return false
			}
		}
		return true
	}, wait.Seen(func() string { return fmt.Sprintf("%d of %d", len(fDown.deliveredIDs()), len(accepted)) }))
	more, err := re.ingest("acme", 300)
	if err != nil {
		t.Fatalf("ingest after recovery: got %v after %d, want it accepted", err, len(more))
	}
	wait.Eventually(t, "the condition cleared", func() bool {
		_, set := re.condition(stream.ConditionRetention)
		return !set && !re.sup.StatusOf("down").Snapshot().RetentionBlocking
	})
	if g := re.gauge("auditstream_journal_retention_blocked"); g != 0 {
		t.Errorf("got auditstream_journal_retention_blocked %v, want 0", g)
	}
	wait.Eventually(t, "a system.journal.retention.unblocked event", func() bool {
		return slices.Contains(eventTypes(fOK), "system.journal.retention.unblocked")
	})
	if snap := re.sup.StatusOf("down").Snapshot(); snap.DroppedByRetention != nil {
		t.Errorf("got droppedByRetention %+v, want none", snap.DroppedByRetention)
	}
}

// TestRetentionDeactivateClearsBlock checks that deactivating the lagging
// stream lets ingest go on, and that the inactive stream then reports what
// it lost.
func TestRetentionDeactivateClearsBlock(t *testing.T) {
	re := newRetEnv(t, journal.Options{MaxBytes: 256 << 10}, stream.WhenFullProtect)
	fDown := newFakeSink(sink.Limits{MaxEvents: 50}, (&switchable{}).answer)
	re.setSink("down", fDown)
	re.put(def("down"))
	if _, err := re.ingest("acme", 2000); !errors.Is(err, journal.ErrFull) {
		t.Fatalf("got %v, want the journal full", err)
	}
	d := def("down")
	d.Status = stream.StatusInactive
	re.put(d)
	wait.Eventually(t, "the block cleared", func() bool {
		_, set := re.condition(stream.ConditionRetention)
		return !set
	})
	if _, err := re.ingest("acme", 300); err != nil {
		t.Fatalf("ingest after deactivation: %v", err)
	}
	snap := re.sup.StatusOf("down").Snapshot()
	if snap.RetentionBlocking || snap.DroppedByRetention == nil || snap.DroppedByRetention.FromSeq != 1 ||
		snap.DroppedByRetention.Events == 0 || snap.DroppedByRetention.Last.Cause != stream.GapDropOldest {
		t.Fatalf("got status %+v, dropped %+v, want not blocking and a drop from sequence 1", snap, snap.DroppedByRetention)
	}
}

// TestRetentionDropOldestReportsGaps checks journal.whenFull dropOldest:
// ingest never stops, and the lagging stream, which reads one org only,
// reports exactly what it lost: delivered plus dropped is every event of
// its org, and the gap is in its status, a metric and a
// system.log_stream.gap event in its org.
func TestRetentionDropOldestReportsGaps(t *testing.T) {
	re := newRetEnv(t, journal.Options{MaxBytes: 256 << 10}, stream.WhenFullDropOldest)
	down, fDown, _ := re.downAndOK("acme")
	// Paced so that stream ok keeps up; down is the only one lagging.
	var acme []string
	for range 50 {
		got, err := re.ingest("acme", 10)
		if err != nil {
			t.Fatalf("ingest acme: %v", err)
		}
		acme = append(acme, got...)
		if _, err := re.ingest("other", 10); err != nil {
			t.Fatalf("ingest other: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	snap := re.sup.StatusOf("down").Snapshot()
	dr := snap.DroppedByRetention
	if dr == nil || dr.FromSeq != 1 || dr.Events == 0 || dr.Last.Cause != stream.GapDropOldest {
		t.Fatalf("got status %+v, dropped %+v, want a drop from sequence 1", snap, snap.DroppedByRetention)
	}
	// The metric and the status count the same drops; retention may still
	// be purging between the two reads, so compare them once they agree
	// on a snapshot taken together.
	var g float64
	var events uint64
	wait.Eventually(t, "the dropped metric equal to the status's count", func() bool {
		events = re.sup.StatusOf("down").Snapshot().DroppedByRetention.Events
		g = re.gauge("auditstream_stream_dropped_by_retention_total", "stream", "down")
		return g == float64(events) && events == re.sup.StatusOf("down").Snapshot().DroppedByRetention.Events
	}, wait.Seen(func() string { return fmt.Sprintf("metric %v, status %d", g, events) }))
	// Recover once retention is done purging: the count is exact for
	// what was purged while the stream was down.
	wait.Eventually(t, "the journal purged below the high-water mark", func() bool {
		u, err := re.j.Usage(t.Context())
		return err == nil && u.Ratio() < stream.DefaultHighWater
	})
	time.Sleep(50 * time.Millisecond)
	down.set(true)
	wait.Eventually(t, "the gap event delivered to the lagging stream's org", func() bool {
		for _, r := range fDown.deliveredRecords() {
			if r.EventType == "system.log_stream.gap" && r.Org == "acme" && strings.Contains(string(r.Data), `"streamId":"down"`) {
				return true
			}
		}
		return false
	})
	// Every event of org acme (the test's and the gap events retention
	// wrote there) is delivered or counted as dropped. The count is an
	// upper bound: what the runner holds in memory (its batch of 50 events
	// and its read-ahead) is counted and still delivered.
	delivered := func() int {
		seen := map[uint64]bool{}
		for _, r := range fDown.deliveredRecords() {
			seen[r.Seq] = true
		}
		return len(seen)
	}
	dropped := func() *stream.Dropped { return re.sup.StatusOf("down").Snapshot().DroppedByRetention }
	total := func() int { return len(acme) + int(dropped().Gaps) }
	wait.Eventually(t, "delivered plus dropped covers every acme event", func() bool {
		return delivered()+int(dropped().Events) >= total()
	}, wait.Seen(func() string {
		return fmt.Sprintf("delivered %d, dropped %+v, total %d", delivered(), dropped(), total())
	}))
	time.Sleep(100 * time.Millisecond)
	// The runner holds its batch and reads about two batches ahead (it
	// never hands those back while it retries: see feed.go); a pull whose
	// heartbeat came late on a loaded machine is replaced by a new one
	// while the server may still answer it, so the read-ahead can double.
	if over := delivered() + int(dropped().Events) - total(); over > 5*50 {
		t.Errorf("got %d events counted as dropped and delivered, want at most the runner's batch and twice its read-ahead (250)", over)
	}
	if s := re.sup.StatusOf("ok").Snapshot(); s.DroppedByRetention != nil {
		t.Errorf("got stream ok dropped %+v, want nothing: it kept up", s.DroppedByRetention)
	}
}

// TestRetentionCapacityWarning checks the warning at 80% of the cap: one
// event and a gauge, not one per check.
func TestRetentionCapacityWarning(t *testing.T) {
	re := newRetEnv(t, journal.Options{MaxBytes: 256 << 10}, stream.WhenFullProtect)
	fOK := newFakeSink(sink.Limits{MaxEvents: 50}, nil)
	re.setSink("ok", fOK)
	re.put(def("ok"))
	for {
		if _, err := re.ingest("acme", 10); err != nil {
			t.Fatal(err)
		}
		u, err := re.j.Usage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if u.Ratio() > 0.83 {
			break
		}
		if u.Ratio() < 0.75 && slices.Contains(eventTypes(fOK), "system.journal.capacity.warning") {
			t.Fatalf("got a capacity warning at %.2f, want none below 0.80", u.Ratio())
		}
	}
	wait.Eventually(t, "a capacity warning", func() bool {
		return slices.Contains(eventTypes(fOK), "system.journal.capacity.warning")
	})
	if g := re.gauge("auditstream_journal_usage_ratio"); g < 0.8 || g > 0.9 {
		t.Errorf("got auditstream_journal_usage_ratio %v, want 0.8..0.9", g)
	}
	time.Sleep(200 * time.Millisecond) // ten checks
	if n := countOf(eventTypes(fOK), "system.journal.capacity.warning"); n != 1 {
		t.Errorf("got %d capacity warnings, want 1", n)
	}
	if g := re.gauge("auditstream_journal_capacity_warnings_total", "store", "journal"); g != 1 {
		t.Errorf("got auditstream_journal_capacity_warnings_total %v, want 1", g)
	}
}

// TestRetentionReportsMissingEvents checks gaps retention did not cause:
// events that aged out (journal.maxAge) before a stream delivered them are
// reported on that stream.
func TestRetentionReportsMissingEvents(t *testing.T) {
	re := newRetEnv(t, journal.Options{MaxAge: time.Second, DuplicateWindow: 500 * time.Millisecond}, stream.WhenFullProtect)
	fDown := newFakeSink(sink.Limits{MaxEvents: 50}, (&switchable{}).answer)
	re.setSink("down", fDown)
	d := def("down")
	d.Status = stream.StatusInactive // its consumer stays where it is
	re.put(d)
	if _, err := stream.EnsureConsumer(t.Context(), re.j, d); err != nil {
		t.Fatal(err)
	}
	if _, err := re.ingest("acme", 20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := re.ingest("acme", 1); err != nil {
		t.Fatal(err)
	}
	// Expiry may take the 20 events in more than one sweep on a loaded
	// machine (CI), and a later event may age out too before the last
	// look: each lost event is reported, once.
	wait.Eventually(t, "the aged-out events reported", func() bool {
		dr := re.sup.StatusOf("down").Snapshot().DroppedByRetention
		return dr != nil && dr.FromSeq == 1 && dr.ToSeq >= 20 && dr.Last.Cause == stream.GapMissing
	}, wait.Seen(func() string { return fmt.Sprintf("%+v", re.sup.StatusOf("down").Snapshot().DroppedByRetention) }))
	time.Sleep(100 * time.Millisecond)
	if dr := re.sup.StatusOf("down").Snapshot().DroppedByRetention; dr.Events != dr.ToSeq-dr.FromSeq+1 {
		t.Errorf("got %+v, want each of the events %d–%d counted once", dr, dr.FromSeq, dr.ToSeq)
	}
}

// TestDeadLettersFullKeepsLetters checks the dead-letter cap
// (journal.deadLetters.maxBytes): a full store drops no letter (it used to
// delete the oldest silently); the stream waits, says "dead-letter store
// full" in its status and /readyz's conditions, and goes on once letters
// are purged.
func TestDeadLettersFullKeepsLetters(t *testing.T) {
	re := newRetEnv(t, journal.Options{DeadLetterMaxBytes: 16 << 10}, stream.WhenFullProtect)
	// The destination refuses the test's events only: the stream has no
	// filter, so the service's own events (the dead-letter store's capacity
	// warning) reach it too, and they must not count as letters here.
	refuse := func(_ context.Context, _ int, b sink.Batch) error {
		for _, r := range b.Records {
			if strings.HasPrefix(r.UUID, "e-") {
				return sink.Permanent(errors.New("400 bad event"))
			}
		}
		return nil
	}
	re.setSink("s1", newFakeSink(sink.Limits{MaxEvents: 10}, refuse))
	re.put(def("s1"))
	var evs []event.Record
	for i := range 30 {
		evs = append(evs, mkEvent(t, "acme", "test.event", idOf(i), 1000))
	}
	re.appendAll(evs)
	wait.Eventually(t, "the stream waiting on a full dead-letter store", func() bool {
		snap := re.sup.StatusOf("s1").Snapshot()
		_, cond := re.condition(stream.ConditionDeadLetters)
		return strings.Contains(snap.LastError, "dead-letter store full") && snap.State == stream.StateRetrying && cond
	}, wait.Seen(func() string { return fmt.Sprintf("%+v", re.sup.StatusOf("s1").Snapshot()) }))
	dls := re.deadLetters("s1")
	if len(dls) < 5 || len(dls) >= 30 || dls[0].UUID != idOf(0) {
		t.Fatalf("got %d dead letters starting with %v, want the first ones kept", len(dls), dls[0].UUID)
	}
	time.Sleep(100 * time.Millisecond)
	if again := re.deadLetters("s1"); len(again) != len(dls) || again[0].UUID != idOf(0) {
		t.Fatalf("got %d dead letters starting with %s, want the same %d: none dropped", len(again), again[0].UUID, len(dls))
	}
	// Purging the letters (as an operator would, or redriving them) lets
	// the stream go on until every event is dead-lettered.
	wait.Eventually(t, "every event dead-lettered and the condition cleared", func() bool {
		if strings.Contains(re.sup.StatusOf("s1").Snapshot().LastError, "dead-letter store full") {
			if err := stream.PurgeDeadLetters(t.Context(), re.j, "s1"); err != nil {
				t.Fatal(err)
			}
		}
		_, cond := re.condition(stream.ConditionDeadLetters)
		return re.sup.StatusOf("s1").Snapshot().DeadLettered == 30 && !cond
	}, wait.Seen(func() string { return fmt.Sprintf("%+v", re.sup.StatusOf("s1").Snapshot()) }))
}
