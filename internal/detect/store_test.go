package detect

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// TestStoreSuppressedHeldBack: the evaluating node's store writes a
// detection's suppression count at once, then at most once per
// suppressedWriteInterval while firings keep being suppressed, and
// everything held back when called with none; a triage update made on
// another node in between is kept (compare-and-set), and an older count
// (a replay) never lowers the stored one.
func TestStoreSuppressedHeldBack(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, BucketDetections)
	owner, other := NewStore(kv), NewStore(kv)
	clock := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	owner.now = func() time.Time { return clock }
	ctx := t.Context()
	d := correlate.Detection{ID: "5f0c8d3e-6f5b-5a43-9c55-0d6e8f9b1a27", Org: "acme", Time: clock}
	if err := owner.Record(ctx, []Raised{{Detection: d, Info: Info{ID: "r1", Title: "R1"}}}); err != nil {
		t.Fatal(err)
	}
	supp := func(n int) correlate.Suppression {
		return correlate.Suppression{Rule: "r1", Org: "acme", OpenID: d.ID, Count: n, LastUID: "e" + string(rune('0'+n)), Time: clock}
	}
	stored := func(want int, wantLast, wantStatus string) {
		t.Helper()
		got, _, err := other.Get(ctx, "acme", d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.SuppressedCount != want || got.LastEvent != wantLast || got.Status != wantStatus {
			t.Fatalf("got suppressed %d last %q status %s, want %d %q %s", got.SuppressedCount, got.LastEvent, got.Status, want, wantLast, wantStatus)
		}
	}
	for _, step := range []struct {
		name       string
		advance    time.Duration
		call       []correlate.Suppression // nil: the flush call
		triage     bool                    // acknowledge on the other node first
		want       int
		wantLast   string
		wantStatus string
	}{
		{"first firing written at once", 0, []correlate.Suppression{supp(1)}, false, 1, "e1", TriageOpen},
		{"next within the interval held back", 100 * time.Millisecond, []correlate.Suppression{supp(2), supp(3)}, false, 1, "e1", TriageOpen},
		{"flush writes it", 0, nil, false, 3, "e3", TriageOpen},
		{"held back again", 200 * time.Millisecond, []correlate.Suppression{supp(4)}, false, 3, "e3", TriageOpen},
		{"after the interval, written over a triage update", time.Second, []correlate.Suppression{supp(5)}, true, 5, "e5", TriageAcknowledged},
		{"a replayed older count changes nothing", 2 * time.Second, []correlate.Suppression{supp(2)}, false, 5, "e5", TriageAcknowledged},
		{"nor does a flush of it", 0, nil, false, 5, "e5", TriageAcknowledged},
	} {
		clock = clock.Add(step.advance)
		if step.triage {
			if _, err := other.Update(ctx, "acme", d.ID, TriageAcknowledged, "looking", "admin", clock); err != nil {
				t.Fatal(err)
			}
		}
		if err := owner.Suppressed(ctx, step.call); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		t.Run(step.name, func(t *testing.T) { stored(step.want, step.wantLast, step.wantStatus) })
	}
}
