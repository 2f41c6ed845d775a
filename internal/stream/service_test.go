package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/sysevent"
	"github.com/auditstream/auditstream/internal/wait"
)

var caller = sysevent.Ref{ID: "tok1", Type: "Token", AlternateID: "ci", DisplayName: "ci"}

func (e *env) service(sup *stream.Supervisor) *stream.Service {
	return stream.NewService(stream.ServiceDeps{Journal: e.j, Store: e.store, Supervisor: sup, SystemOrg: "default", Log: discard})
}

// TestServiceCreatePinsConsumer creates a stream of every org through the
// service: it delivers exactly the events stored after Create returns,
// not those before and not its own creation event, which is in the
// journal (a replay from the start finds it, with the caller as actor).
func TestServiceCreatePinsConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, acceptAll)
	e.setSink("s1", f)
	sup := e.start(time.Second)
	svc := e.service(sup.Supervisor)
	e.appendEvents("acme", "x", 0, 3)

	d, err := svc.Create(t.Context(), caller, def("s1"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if d.StartSeq == 0 {
		t.Fatalf("got StartSeq 0, want the consumer pinned")
	}
	if got, ok := svc.Get("s1"); !ok || got.StartSeq != d.StartSeq {
		t.Fatalf("stored: got %+v, %v, want StartSeq %d", got, ok, d.StartSeq)
	}
	e.appendEvents("acme", "x", 3, 5)
	if got := f.waitDelivered(t, 2); !slices.Equal(got, ids(3, 5)) {
		t.Fatalf("delivered: got %v, want %v", got, ids(3, 5))
	}
	wait.Never(t, "more deliveries", 200*time.Millisecond, func() bool { return len(f.deliveredIDs()) > 2 })

	// The creation event sits between the old and the new events.
	if _, err := svc.Replay(t.Context(), d, time.Now().Add(-time.Hour)); err != nil {
		t.Fatalf("replay: %v", err)
	}
	wait.Eventually(t, "replayed", func() bool { return len(f.deliveredIDs()) >= 2+6 })
	recs := f.deliveredRecords()[2:]
	var types []string
	for _, r := range recs {
		types = append(types, r.EventType)
	}
	want := []string{"x", "x", "x", stream.EventCreate, "x", "x"}
	if !slices.Equal(types, want) {
		t.Fatalf("replayed event types: got %v, want %v", types, want)
	}
	var ev struct {
		Actor  sysevent.Ref   `json:"actor"`
		Target []sysevent.Ref `json:"target"`
	}
	if err := json.Unmarshal(recs[3].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Actor != caller || len(ev.Target) != 1 || ev.Target[0].ID != "s1" || ev.Target[0].Type != "LogStream" {
		t.Errorf("creation event: got actor %+v targets %+v, want the caller and stream s1", ev.Actor, ev.Target)
	}
	if recs[3].Org != "default" {
		t.Errorf("creation event of an all-orgs stream: got org %q, want the system org", recs[3].Org)
	}
}

// TestServiceChanges covers what the service does to a definition on each
// change, and that a stream declared in the config file is refused.
func TestServiceChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(nil)
	ctx := t.Context()
	d := def("s1")
	d.Org = "acme"
	d.Status = stream.StatusInactive
	e.put(d)

	same := d
	same.Name = "renamed"
	got, err := svc.Update(ctx, caller, d, same)
	if err != nil || got.Epoch != d.Epoch || got.Name != "renamed" {
		t.Fatalf("update in the same org: got epoch %d name %q (%v), want epoch %d kept", got.Epoch, got.Name, err, d.Epoch)
	}
	moved := got
	moved.Org = "other"
	got2, err := svc.Update(ctx, caller, got, moved)
	if err != nil || got2.Epoch != got.Epoch+1 || got2.StartSeq != 0 || got2.StartTime.IsZero() {
		t.Fatalf("update to another org: got %+v (%v), want a new epoch starting now", got2, err)
	}
	act, err := svc.SetStatus(ctx, caller, got2, stream.StatusActive)
	if err != nil || act.Status != stream.StatusActive || act.Resume != got2.Resume+1 {
		t.Fatalf("activate: got status %q resume %d (%v), want ACTIVE and resume %d", act.Status, act.Resume, err, got2.Resume+1)
	}
	if stored, _ := svc.Get("s1"); stored.Status != stream.StatusActive || stored.Org != "other" {
		t.Fatalf("stored: got %+v, want the active stream of org other", stored)
	}
	if err := svc.Delete(ctx, caller, act); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, ok := svc.Get("s1"); ok {
		t.Fatalf("got s1 after delete, want it gone")
	}

	ro := def("ro")
	ro.ReadOnly = true
	changes := []struct {
		name string
		do   func() error
	}{
		{"update", func() error { _, err := svc.Update(ctx, caller, ro, ro); return err }},
		{"status", func() error { _, err := svc.SetStatus(ctx, caller, ro, stream.StatusInactive); return err }},
		{"delete", func() error { return svc.Delete(ctx, caller, ro) }},
		{"replay", func() error { _, err := svc.Replay(ctx, ro, time.Now()); return err }},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			if err := c.do(); !errors.Is(err, stream.ErrReadOnly) {
				t.Errorf("got %v, want ErrReadOnly", err)
			}
		})
	}
}

// TestServiceRedrive redrives through a fresh sink of the stream's
// destination, and reports how many went before the destination refused.
func TestServiceRedrive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var refuse atomic.Bool
	refuse.Store(true)
	f := newFakeSink(sink.Limits{MaxEvents: 1}, func(ctx context.Context, n int, b sink.Batch) error {
		if refuse.Load() && b.Records[0].UUID == idOf(1) {
			return sink.Permanent(errors.New("refused"))
		}
		return nil
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 3)
	e.put(def("s1"))
	sup := e.start(time.Second)
	svc := e.service(sup.Supervisor)
	wait.Eventually(t, "a dead letter", func() bool { return len(e.deadLetters("s1")) == 1 })
	d, _ := svc.Get("s1")
	dls, err := svc.DeadLetters(t.Context(), d, 10)
	if err != nil || len(dls) != 1 || dls[0].UUID != idOf(1) {
		t.Fatalf("dead letters: got %+v (%v), want e-001", dls, err)
	}

	n, err := svc.Redrive(t.Context(), d)
	var re *stream.RedriveError
	if !errors.As(err, &re) || n != 0 || re.N != 0 {
		t.Fatalf("redrive to a refusing destination: got %d, %v, want a RedriveError after 0", n, err)
	}
	refuse.Store(false)
	if n, err := svc.Redrive(t.Context(), d); err != nil || n != 1 {
		t.Fatalf("redrive: got %d, %v, want 1, nil", n, err)
	}
	if dls := e.deadLetters("s1"); len(dls) != 0 {
		t.Errorf("got %d dead letters after redrive, want 0", len(dls))
	}
	if got := svc.Status(t.Context(), d); got.ID != "s1" {
		t.Errorf("status: got id %q, want s1", got.ID)
	}
}
