package detect

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// fixedSnap is a snapshotter of given bytes (both forms).
type fixedSnap []byte

func (f fixedSnap) Snapshot() ([]byte, error) { return f, nil }
func (f fixedSnap) SnapshotCompact() []byte   { return f }

// bigEngine is a correlation engine holding groups groups of perGroup
// events each (random uuids: they do not compress), built by observing
// matches directly (no journal).
func bigEngine(t testing.TB, groups, perGroup int) *correlate.Engine {
	t.Helper()
	rules := []correlate.Rule{{ID: "spray", Type: correlate.EventCount, Rules: []string{"base:fail"},
		GroupBy: []string{"client.ipAddress"}, Timespan: time.Hour, Condition: []correlate.Cond{{Op: correlate.GTE, Value: 1000}}}}
	e, err := correlate.New(correlate.Config{MaxGroupsPerRule: groups}, rules)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var b [16]byte
	for g := range groups {
		ip := fmt.Sprintf("10.%d.%d.%d", g>>16, (g>>8)&255, g&255)
		for k := range perGroup {
			_, _ = rand.Read(b[:])
			u, _ := uuid.FromBytes(b[:])
			u[6], u[8] = u[6]&0x0f|0x40, u[8]&0x3f|0x80
			res := e.Observe(correlate.Match{Rule: "base:fail", Org: "acme", Time: t0.Add(time.Duration(g*perGroup+k) * time.Microsecond),
				UUID: u.String(), Fields: []correlate.Field{{Value: ip, Present: true}}})
			if len(res.Detections) > 0 || len(res.Late) > 0 {
				t.Fatalf("group %d: unexpected %+v", g, res)
			}
		}
	}
	if n := e.Stats()["spray"].Groups; n != groups {
		t.Fatalf("got %d groups, want %d", n, groups)
	}
	return e
}

// A snapshot of 100,000 correlation groups is larger than one KV value may
// be (8 MiB in the journal's server, even gzipped): it is saved in chunks
// with a manifest, and restores exactly (the restored engine snapshots to
// the same bytes).
func TestCheckpointChunked100kGroups(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, BucketState)
	e := bigEngine(t, 100_000, 4)
	began := time.Now()
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	encoded := time.Since(began)
	gz := gzipped(snap)
	t.Logf("snapshot: %d bytes JSON in %s, %d gzipped", len(snap), encoded, len(gz))
	if len(gz) <= 8<<20 {
		t.Fatalf("got a gzipped snapshot of %d bytes, want more than 8 MiB (the test must exceed one value)", len(gz))
	}
	st := newCheckpointStore(kv, 0)
	began = time.Now()
	saved, err := st.save(t.Context(), []uint64{42}, e)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	t.Logf("saved (compact snapshot, gzipped: %d bytes) in %d chunks in %s", saved.Bytes, saved.Chunks, time.Since(began))
	if want := (saved.Bytes + DefaultChunkSize - 1) / DefaultChunkSize; saved.Chunks != want || saved.Chunks < 2 {
		t.Errorf("got %d chunks, want %d (more than one)", saved.Chunks, want)
	}
	began = time.Now()
	cp, ok, err := loadCheckpoint(t.Context(), kv)
	if err != nil || !ok {
		t.Fatalf("load: %v %v", ok, err)
	}
	t.Logf("loaded in %s", time.Since(began))
	if cp.Seq != 42 || len(cp.Snapshot) == 0 {
		t.Fatalf("got seq %d and a %d-byte snapshot, want 42 and the saved state", cp.Seq, len(cp.Snapshot))
	}
	// A fresh engine of the same rule.
	e2, err := correlate.New(correlate.Config{MaxGroupsPerRule: 100_000}, []correlate.Rule{{ID: "spray", Type: correlate.EventCount,
		Rules: []string{"base:fail"}, GroupBy: []string{"client.ipAddress"}, Timespan: time.Hour,
		Condition: []correlate.Cond{{Op: correlate.GTE, Value: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := e2.Restore(cp.Snapshot); err != nil || len(rep.Discarded) > 0 {
		t.Fatalf("restore: %v %v", err, rep.Discarded)
	}
	again, err := e2.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, snap) {
		t.Fatalf("the restored engine snapshots to %d bytes that differ from the %d saved", len(again), len(snap))
	}
	if n := e2.Stats()["spray"].Groups; n != 100_000 {
		t.Errorf("got %d groups restored, want 100000", n)
	}
}

// failingKV fails every Put after the first ok of them (a process dying
// in the middle of a save).
type failingKV struct {
	jetstream.KeyValue
	ok   atomic.Int64
	puts atomic.Int64
}

var errInjected = errors.New("injected: process died")

func (f *failingKV) Put(ctx context.Context, key string, v []byte) (uint64, error) {
	if f.puts.Add(1) > f.ok.Load() {
		return 0, errInjected
	}
	return f.KeyValue.Put(ctx, key, v)
}

// A save that dies after writing some of its chunks (or all of them but
// not the manifest) leaves the previous checkpoint whole and restorable;
// the next save succeeds; switching between inline and chunked keeps
// working both ways. Small chunks keep it fast.
func TestCheckpointCrashMidWrite(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, BucketState)
	const chunk = 4 << 10
	snapOf := func(groups int) []byte {
		s, err := bigEngine(t, groups, 3).Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old, next := snapOf(300), snapOf(400)
	st := newCheckpointStore(kv, chunk)
	first, err := st.save(t.Context(), []uint64{1, 2}, fixedSnap(old))
	if err != nil || first.Chunks < 3 {
		t.Fatalf("first save: %+v %v, want several chunks", first, err)
	}
	nextChunks := (len(gzipped(next)) + chunk - 1) / chunk
	for _, died := range []int{0, 1, nextChunks / 2, nextChunks} { // puts that succeed; nextChunks: all chunks, no manifest
		t.Run(fmt.Sprintf("died after %d puts", died), func(t *testing.T) {
			f := &failingKV{KeyValue: kv}
			f.ok.Store(int64(died))
			// A new process: the store learns the slot from the bucket.
			if _, err := newCheckpointStore(f, chunk).save(t.Context(), []uint64{3, 4}, fixedSnap(next)); !errors.Is(err, errInjected) {
				t.Fatalf("got %v, want the injected failure", err)
			}
			cp, ok, err := loadCheckpoint(t.Context(), kv)
			if err != nil || !ok {
				t.Fatalf("load after the crash: %v %v", ok, err)
			}
			if fmt.Sprint(cp.Seqs) != "[1 2]" || !bytes.Equal(cp.Snapshot, old) {
				t.Fatalf("got seqs %v and a %d-byte snapshot, want the previous checkpoint [1 2] of %d bytes", cp.Seqs, len(cp.Snapshot), len(old))
			}
		})
	}
	// The next save (a restarted process) writes the new checkpoint whole.
	for i, snap := range [][]byte{next, old, []byte(`{"version":1,"seq":0}`), next} {
		if _, err := newCheckpointStore(kv, chunk).save(t.Context(), []uint64{uint64(10 + i), 0}, fixedSnap(snap)); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		cp, ok, err := loadCheckpoint(t.Context(), kv)
		if err != nil || !ok || cp.Seq != uint64(10+i) || !bytes.Equal(cp.Snapshot, snap) {
			t.Fatalf("save %d: got seq %d, %d bytes (%v %v), want %d and %d bytes", i, cp.Seq, len(cp.Snapshot), ok, err, 10+i, len(snap))
		}
	}
}

// A manifest whose chunks do not match (overwritten behind its back) is
// an error, not a wrong state.
func TestCheckpointChunksChecked(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, BucketState)
	st := newCheckpointStore(kv, 1<<10)
	snap, err := bigEngine(t, 50, 2).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.save(t.Context(), []uint64{5}, fixedSnap(snap)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), chunkKey(st.slot, 1), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	cp, _, err := loadCheckpoint(t.Context(), kv)
	if !errors.Is(err, errSnapshotLost) || !strings.Contains(err.Error(), "checksum") || cp.Seq != 5 || cp.Snapshot != nil {
		t.Fatalf("got %v (seq %d, %d bytes), want a checksum error with the positions only", err, cp.Seq, len(cp.Snapshot))
	}
	if err := kv.Delete(t.Context(), chunkKey(st.slot, 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadCheckpoint(t.Context(), kv); !errors.Is(err, errSnapshotLost) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("got %v, want a missing chunk", err)
	}
}

// A runtime whose checkpoint's chunks are lost starts with empty state at
// the checkpoint's positions (loudly), instead of failing to start.
func TestServiceStartsWithLostChunks(t *testing.T) {
	j := journaltest.Open(t)
	appendAll(t, j, failuresEvery("acme", "00uJANE", 3, recent(), time.Second, "f"))
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	kv := journaltest.KV(t, j, BucketState)
	snap, err := bigEngine(t, 50, 2).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	st := newCheckpointStore(kv, 1<<10)
	if _, err := st.save(t.Context(), []uint64{last}, fixedSnap(snap)); err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(t.Context(), chunkKey(st.slot, 1)); err != nil {
		t.Fatal(err)
	}
	appendAll(t, j, failuresEvery("acme", "00uJANE", 5, recent().Add(10*time.Second), time.Second, "g"))
	svc, stop := startService(t, j, nativeRegistry(t), Config{}, nil)
	defer stop()
	waitRaised(t, svc, 2) // the 5 failures after the checkpoint: brute force, then alert-on-alert
	caughtUp(t, j, svc)
	// 5 failures, the brute-force detection, the alert-on-alert one: not
	// the 3 failures before the checkpoint.
	if got := svc.events.Load(); got != 7 {
		t.Errorf("evaluated %d events, want the 7 after the checkpoint", got)
	}
}

// A checkpoint that cannot be saved is said loudly: the failure metric,
// the health condition (cleared by the next save that works).
func TestCheckpointFailureIsLoud(t *testing.T) {
	j := journaltest.Open(t)
	appendAll(t, j, failuresEvery("acme", "00uJANE", 3, recent(), time.Second, "f"))
	board := &health.Board{}
	f := &failingKV{KeyValue: journaltest.KV(t, j, BucketState)}
	svc, stop := startService(t, j, nativeRegistry(t), Config{CheckpointInterval: time.Millisecond}, func(s *Service) {
		s.deps.StateKV, s.deps.Health = f, board
	})
	defer stop()
	wait.Eventually(t, "a failed checkpoint reported", func() bool {
		for _, c := range board.Conditions() {
			if c.Name == HealthCheckpoint && strings.Contains(c.Message, "injected") {
				return svc.ckptFailed.Load() > 0
			}
		}
		return false
	}, wait.Within(15*time.Second))
	f.ok.Store(1 << 40)
	wait.Eventually(t, "the condition cleared by a saved checkpoint", func() bool {
		return len(board.Conditions()) == 0 && svc.ckptAt.Load() > 0 && svc.ckptChunks.Load() == 1
	}, wait.Within(15*time.Second))
}

// kill -9 mid-window with the state in a chunked checkpoint (tiny chunks):
// the runtime dies after 3 of 5 failures were checkpointed; a new runtime
// restores the chunks and raises exactly one detection from the next 2.
func TestServiceRestartMidWindowChunked(t *testing.T) {
	j := journaltest.Open(t)
	reg := nativeRegistry(t)
	kv := journaltest.KV(t, j, BucketState)
	evs := failuresEvery("acme", "00uJANE", 5, recent(), time.Second, "k")
	appendAll(t, j, evs[:3])
	tiny := func(s *Service) { s.chunkSize = 64 }
	svc, stop := startService(t, j, reg, Config{CheckpointInterval: time.Millisecond}, func(s *Service) { tiny(s); s.noFinalSave = true })
	caughtUp(t, j, svc)
	wait.Eventually(t, "a chunked checkpoint covering 3 failures", func() bool {
		e, err := kv.Get(t.Context(), checkpointKey)
		if err != nil {
			return false
		}
		b, err := gunzip(e.Value())
		if err != nil || !strings.Contains(string(b), `"chunks":{`) {
			return false
		}
		cp, ok, err := loadCheckpoint(t.Context(), kv)
		return err == nil && ok && cp.Seq >= svc.Position() && len(cp.Snapshot) > 0
	}, wait.Within(15*time.Second))
	stop()
	appendAll(t, j, evs[3:])
	svc2, stop2 := startService(t, j, reg, Config{}, tiny)
	defer stop2()
	waitRaised(t, svc2, 1)
	caughtUp(t, j, svc2)
	n := 0
	for _, d := range detections(t, j) {
		if d.EventType == EventTypePrefix+"okta_brute_force_user" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("got %d brute force detections, want exactly 1 (the window's state came back from the chunks)", n)
	}
}
