package kvstore_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/wait"
)

type rec struct {
	Name string `json:"name"`
	Raw  string `json:"raw"`
}

func open(t *testing.T) (*journal.Journal, *kvstore.Store[rec], *kvstore.Store[rec]) {
	t.Helper()
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, "kvstore_test")
	a, err := kvstore.Open[rec](t.Context(), kv, "record", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	b, err := kvstore.Open[rec](t.Context(), kv, "record", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return j, a, b
}

func TestWritesAreLocalAtOnceAndLiveElsewhere(t *testing.T) {
	_, a, b := open(t)
	changes := b.Changes()
	if err := a.Create(t.Context(), "k1", rec{Name: "one", Raw: "<&>"}); err != nil {
		t.Fatal(err)
	}
	if got, ok := a.Get("k1"); !ok || got.Name != "one" {
		t.Fatalf("local read after create: got %+v %v, want one", got, ok)
	}
	wait.Eventually(t, "the other store to see the record", func() bool { _, ok := b.Get("k1"); return ok })
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification")
	}
	if err := a.Create(t.Context(), "k1", rec{Name: "again"}); !errors.Is(err, kvstore.ErrExists) {
		t.Fatalf("second create: got %v, want ErrExists", err)
	}
	if err := b.Delete(t.Context(), "k1"); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the delete to reach the first store", func() bool { _, ok := a.Get("k1"); return !ok })
	if n := len(a.All()); n != 0 {
		t.Fatalf("after delete: got %d records, want 0", n)
	}
}

// TestLateWatchCannotUndoDelete writes and deletes at once, before the
// store's own watch has delivered the write: the record must stay deleted.
func TestLateWatchCannotUndoDelete(t *testing.T) {
	_, a, _ := open(t)
	for range 50 {
		if err := a.Put(t.Context(), "k", rec{Name: "x"}); err != nil {
			t.Fatal(err)
		}
		if err := a.Delete(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		v := a.Version()
		time.Sleep(2 * time.Millisecond)
		if _, ok := a.Get("k"); ok {
			t.Fatalf("deleted record came back (version %d → %d)", v, a.Version())
		}
	}
}
