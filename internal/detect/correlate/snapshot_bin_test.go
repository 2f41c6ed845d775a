package correlate

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// The compact snapshot holds exactly the state the JSON one does: restored
// from it at random points of random streams (every rule type, chaining,
// suppression with summaries, ids that are not uuids), an engine encodes
// to the same JSON and the same compact bytes; it is much smaller.
func TestSnapshotCompactExact(t *testing.T) {
	rules := append(randomRules(),
		Rule{ID: "ordered", Type: TemporalOrdered, Rules: []string{"count", "spray", "fail"}, GroupBy: []string{"ip"}, Timespan: 20 * time.Minute},
		Rule{ID: "single", Type: Single, Rules: []string{"fail"}, GroupBy: []string{"user"}, Suppress: 5 * time.Minute, SuppressSummary: true},
		Rule{ID: "absent", Type: Temporal, Rules: []string{"count", "fail"}, GroupBy: []string{"user"}, Expression: "fail and not count", Timespan: 90 * time.Second},
	)
	for seed := range uint64(20) {
		ins := randomStream(seed, 400)
		for i := range ins {
			if i%7 == 0 {
				ins[i].rawID = "not-a-uuid-" + string(rune('a'+i%26))
			}
		}
		rng := rand.New(rand.NewPCG(seed, 11))
		cut := rng.IntN(len(ins))
		a := mustNew(t, Config{}, rules...)
		feed(t, a, ins[:cut], 0)
		want, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		compact := a.SnapshotCompact()
		b := mustNew(t, Config{}, rules...)
		if rep, err := b.Restore(compact); err != nil || len(rep.Discarded) > 0 {
			t.Fatalf("seed %d: restore: %v %v", seed, err, rep.Discarded)
		}
		got, err := b.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %d cut %d: restored from the compact snapshot:\n%s", seed, cut, firstDiff(string(got), string(want)))
		}
		if again := b.SnapshotCompact(); !bytes.Equal(again, compact) {
			t.Fatalf("seed %d: the compact snapshot of the restored engine differs", seed)
		}
		if seed == 0 && cut > 100 && len(compact)*2 > len(want) {
			t.Errorf("compact %d bytes, JSON %d: want less than half", len(compact), len(want))
		}
		// Both continue alike.
		wa, wb := feed(t, a, ins[cut:], 48*time.Hour), feed(t, b, ins[cut:], 48*time.Hour)
		if js(t, wa) != js(t, wb) {
			t.Fatalf("seed %d: after the restore:\n%s", seed, firstDiff(js(t, wb), js(t, wa)))
		}
	}
}

// A damaged compact snapshot is an error, never a panic or a partial state
// taken for whole.
func TestSnapshotCompactDamaged(t *testing.T) {
	a := mustNew(t, Config{}, randomRules()...)
	feed(t, a, randomStream(3, 60), 0)
	compact := a.SnapshotCompact()
	for n := len(compactMagic); n < len(compact); n++ {
		b := mustNew(t, Config{}, randomRules()...)
		if _, err := b.Restore(compact[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: got no error", n, len(compact))
		}
	}
	b := mustNew(t, Config{}, randomRules()...)
	if _, err := b.Restore(append(bytes.Clone(compact), 0)); err == nil {
		t.Errorf("trailing byte: got no error")
	}
	bad := append(bytes.Clone(compactMagic), 9)
	if _, err := b.Restore(bad); err == nil {
		t.Errorf("version 9: got no error")
	}
}
