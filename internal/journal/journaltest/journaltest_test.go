package journaltest_test

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

func TestOpenAppendsAndClosesAtCleanup(t *testing.T) {
	dir := t.TempDir()
	t.Run("first", func(t *testing.T) {
		j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
		ev, err := event.Parse([]byte(`{"uuid":"u1","eventType":"user.session.start"}`), "acme", t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Append(t.Context(), []event.Record{ev}); err != nil {
			t.Fatal(err)
		}
		kv := journaltest.KV(t, j, journal.BucketStatus)
		if _, err := kv.Put(t.Context(), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	})
	// The first journal was closed when its test ended: the directory's
	// lock is free and the data is there.
	j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
	n, _, err := j.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("got %d events after reopening, want 1", n)
	}
	e, err := journaltest.KV(t, j, journal.BucketStatus).Get(t.Context(), "k")
	if err != nil || string(e.Value()) != "v" {
		t.Errorf("got %v %v, want the value v kept", e, err)
	}
	// A second Close (as tests that hand the directory on do) is harmless.
	j.Close()
}

func TestOpenUsesAFreshDirectory(t *testing.T) {
	a, b := journaltest.Open(t), journaltest.Open(t)
	ev, err := event.Parse([]byte(`{"uuid":"u1","eventType":"user.session.start"}`), "acme", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(t.Context(), []event.Record{ev}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := b.Info(t.Context()); err != nil || n != 0 {
		t.Errorf("got %d events (%v) in the second journal, want 0: each Open has its own directory", n, err)
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
