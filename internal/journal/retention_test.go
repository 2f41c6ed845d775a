package journal

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
)

func padded(t *testing.T, org string, i int) event.Record {
	t.Helper()
	ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"u-%d","eventType":"t.x","pad":%q}`, i, eventtest.Noise(fmt.Sprint(org, i), 900)), org, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestCapRefusesNewEventsAndKeepsOld checks that at journal.maxBytes the
// journal refuses the new event with ErrFull instead of deleting the oldest
// (DiscardOld deleted undelivered events silently), and that Purge removes
// exactly what it is told and counts it per subject.
func TestCapRefusesNewEventsAndKeepsOld(t *testing.T) {
	j, err := Open(t.Context(), Options{DataDir: t.TempDir(), MaxBytes: 64 << 10}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	stored := 0
	var appendErr error
	for i := range 200 {
		org := "a"
		if i%2 == 1 {
			org = "b"
		}
		if _, appendErr = j.Append(t.Context(), []event.Record{padded(t, org, i)}); appendErr != nil {
			break
		}
		stored++
	}
	if !errors.Is(appendErr, ErrFull) || !errors.Is(appendErr, ErrUnavailable) {
		t.Fatalf("got append error %v after %d events, want ErrFull (and ErrUnavailable)", appendErr, stored)
	}
	select {
	case <-j.Full():
	default:
		t.Errorf("got no Full signal, want one after a refused append")
	}
	u, err := j.Usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if u.FirstSeq != 1 || u.Msgs != uint64(stored) || u.MaxBytes != 64<<10 {
		t.Fatalf("got usage %+v, want first seq 1 and all %d stored events kept", u, stored)
	}
	if r := u.Ratio(); r < 0.9 || r > 1 {
		t.Errorf("got ratio %.2f, want 0.9..1", r)
	}
	// Org b's events below 11 are 2, 4, 6, 8, 10: five.
	n, err := j.Purge(t.Context(), "b", 11)
	if err != nil || n != 5 {
		t.Fatalf("purge b below 11: got %d, %v, want 5", n, err)
	}
	n, err = j.Purge(t.Context(), "", 11)
	if err != nil || n != 5 {
		t.Fatalf("purge all below 11: got %d, %v, want 5", n, err)
	}
	u, _ = j.Usage(t.Context())
	if u.FirstSeq != 11 {
		t.Errorf("got first seq %d, want 11", u.FirstSeq)
	}
	if _, err := j.Append(t.Context(), []event.Record{padded(t, "a", 1000)}); err != nil {
		t.Errorf("append after purge: %v", err)
	}
}
