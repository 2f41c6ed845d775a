package supervise

import (
	"testing"
)

// fencing is a kind whose statuses only the holder of the work saves.
type fencing struct {
	*kind
	holds map[string]bool
}

func (k fencing) MaySave(id string) bool { return k.holds[id] }

// TestFencerSkipsSaves: the Core saves only the statuses MaySave allows,
// so a node that lost its work does not overwrite the new owner's status.
func TestFencerSkipsSaves(t *testing.T) {
	statuses := statusBucket(t)
	k := fencing{kind: &kind{}, holds: map[string]bool{"a": true}}
	c := newCore(newCatalog(def{ID: "a"}, def{ID: "b"}), k, statuses)
	c.reconcile(t.Context())
	c.StatusOf("a").add(2)
	c.StatusOf("b").add(3)
	c.save(t.Context(), c.localIDs())
	if got, ok := statuses.Load("a"); !ok || got.N != 2 {
		t.Errorf("a (held): got %+v %v, want n 2 saved", got, ok)
	}
	if got, ok := statuses.Load("b"); ok {
		t.Errorf("b (lost): got %+v saved, want nothing", got)
	}
}

// TestReload: Reload replaces the live status with the one saved last (by
// the node that ran the work before), and keeps it when none was saved.
func TestReload(t *testing.T) {
	statuses := statusBucket(t)
	c := newCore(newCatalog(def{ID: "a"}, def{ID: "b"}), &kind{}, statuses)
	c.StatusOf("a").add(1)
	c.StatusOf("b").add(4)
	if err := statuses.Save(t.Context(), "a", snap{ID: "a", N: 40}); err != nil {
		t.Fatal(err)
	}
	c.Reload("a")
	c.Reload("b")
	if got := c.StatusOf("a").Record("a", c.deps.Now()).N; got != 40 {
		t.Errorf("a after reload: got n %d, want 40 (the saved one)", got)
	}
	if got := c.StatusOf("b").Record("b", c.deps.Now()).N; got != 4 {
		t.Errorf("b after reload with nothing saved: got n %d, want 4", got)
	}
}

// TestSaveOnlyChanges: a tick writes a status only when it changed since
// this node last wrote it.
func TestSaveOnlyChanges(t *testing.T) {
	statuses := statusBucket(t)
	c := newCore(newCatalog(def{ID: "a"}), &kind{}, statuses)
	c.reconcile(t.Context())
	rev := func() uint64 {
		e, err := statuses.KV.Get(t.Context(), "fake.a")
		if err != nil {
			t.Fatal(err)
		}
		return e.Revision()
	}
	c.save(t.Context(), []string{"a"})
	first := rev()
	c.save(t.Context(), []string{"a"})
	if got := rev(); got != first {
		t.Errorf("revision after an unchanged save: got %d, want %d (no write)", got, first)
	}
	c.StatusOf("a").add(1)
	c.save(t.Context(), []string{"a"})
	if got := rev(); got == first {
		t.Errorf("revision after a change: got %d, want a new write", got)
	}
}
