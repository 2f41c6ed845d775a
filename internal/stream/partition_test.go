package stream_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// byOrg splits delivered records by org, keeping their order.
func byOrg(recs []event.Record) map[string][]string {
	out := map[string][]string{}
	for _, r := range recs {
		out[r.Org] = append(out[r.Org], r.UUID)
	}
	return out
}

// On a journal of 3 partitions (acme in partition 2, other in 0, org3 in
// 1) a log stream of acme reads partition 2 only and delivers acme's
// events in order; a stream of every org has a consumer in each partition
// and delivers every org's events, each org's in order; a replay of it
// from a time delivers them again.
func TestLogStreamsOnPartitionedJournal(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, journal.Options{Partitions: 3})
	orgs := []string{"other", "org3", "acme"} // partitions 0, 1, 2
	for k, org := range orgs {
		if got := journal.PartitionOfOrg(org, 3); got != k {
			t.Fatalf("org %s: partition %d, want %d", org, got, k)
		}
	}
	start := time.Now().Add(-time.Second)
	for i := range 6 {
		for _, org := range orgs {
			var evs []event.Record
			for n := range 40 {
				evs = append(evs, mkEvent(t, org, "x", fmt.Sprintf("%s-%03d", org, i*40+n), 0))
			}
			e.appendAll(evs)
		}
	}
	want := map[string][]string{}
	for _, org := range orgs {
		for n := range 240 {
			want[org] = append(want[org], fmt.Sprintf("%s-%03d", org, n))
		}
	}
	fAcme := newFakeSink(sink.Limits{MaxEvents: 50}, nil)
	fAll := newFakeSink(sink.Limits{MaxEvents: 70}, nil)
	e.setSink("acme", fAcme)
	e.setSink("all", fAll)
	d := def("acme")
	d.Org = "acme"
	e.put(d)
	all := def("all")
	e.put(all)
	e.start(time.Second)

	fAcme.waitDelivered(t, 240)
	if got := byOrg(fAcme.deliveredRecords()); len(got) != 1 || !slices.Equal(got["acme"], want["acme"]) {
		t.Errorf("stream of acme: got orgs %d, acme %d events, want acme's 240 in order", len(got), len(got["acme"]))
	}
	for _, r := range fAcme.deliveredRecords() {
		if journal.PartitionOf(r.Seq) != 2 {
			t.Fatalf("stream of acme: event %s at position %x, want partition 2", r.UUID, r.Seq)
		}
	}
	js := e.j.JetStream()
	for _, p := range e.j.Partitions() {
		_, err := js.Consumer(t.Context(), p.Stream(), d.ConsumerName())
		if (p.Index() == 2) != (err == nil) {
			t.Errorf("consumer of acme's stream in %s: got %v", p.Stream(), err)
		}
		if _, err := js.Consumer(t.Context(), p.Stream(), all.ConsumerName()); err != nil {
			t.Errorf("consumer of every org's stream in %s: %v", p.Stream(), err)
		}
	}
	fAll.waitDelivered(t, 720)
	got := byOrg(fAll.deliveredRecords())
	for _, org := range orgs {
		if !slices.Equal(got[org], want[org]) {
			t.Errorf("stream of every org, org %s: got %d events, want its 240 in order", org, len(got[org]))
		}
	}
	wait.Eventually(t, "every org's stream acknowledged everything", func() bool {
		floors, err := e.j.Partitions()[1].AckFloors(t.Context())
		return err == nil && floors[all.ConsumerName()].Pending == 0
	})

	// A replay from a time: a new consumer in every partition, the old
	// ones retired.
	old := all.ConsumerName()
	all.Epoch++
	all.StartTime = start
	e.put(all)
	fAll.waitDelivered(t, 1440)
	got = byOrg(fAll.deliveredRecords()[720:])
	for _, org := range orgs {
		if !slices.Equal(got[org], want[org]) {
			t.Errorf("replay, org %s: got %d events, want its 240 in order", org, len(got[org]))
		}
	}
	wait.Eventually(t, "the old consumers removed", func() bool {
		for _, p := range e.j.Partitions() {
			if _, err := js.Consumer(t.Context(), p.Stream(), old); !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return false
			}
		}
		return true
	})
}

// Retention on a partitioned journal purges each partition against its
// share of journal.maxBytes and reports the loss of a lagging stream of
// one org, while the stream of every org, which keeps up, loses nothing.
func TestRetentionPerPartition(t *testing.T) {
	re := newRetEnv(t, journal.Options{MaxBytes: 3 * 256 << 10, Partitions: 3}, stream.WhenFullDropOldest)
	_, _, fOK := re.downAndOK("acme")
	for range 50 {
		if _, err := re.ingest("acme", 10); err != nil {
			t.Fatalf("ingest acme: %v", err)
		}
		if _, err := re.ingest("other", 10); err != nil {
			t.Fatalf("ingest other: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, p := range re.j.Partitions() {
		u, err := p.Usage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if u.MaxBytes != 256<<10 {
			t.Errorf("partition %d: cap %d, want a third of journal.maxBytes (%d)", p.Index(), u.MaxBytes, 256<<10)
		}
	}
	wait.Eventually(t, "the lagging stream's loss reported", func() bool {
		dr := re.sup.StatusOf("down").Snapshot().DroppedByRetention
		return dr != nil && dr.Events > 0 && dr.Last.Cause == stream.GapDropOldest
	})
	if dr := re.sup.StatusOf("down").Snapshot().DroppedByRetention; journal.PartitionOf(journal.Position(dr.FromSeq, 0)) != 2 {
		t.Errorf("gap from %x: want a sequence of acme's partition 2", dr.FromSeq)
	}
	if s := re.sup.StatusOf("ok").Snapshot(); s.DroppedByRetention != nil {
		t.Errorf("got stream ok dropped %+v, want nothing: it kept up", s.DroppedByRetention)
	}
	// Purging acme's partition left other's events alone.
	wait.Eventually(t, "the stream of every org delivered other's 500 events", func() bool {
		other := 0
		for _, r := range fOK.deliveredRecords() {
			if r.Org == "other" {
				other++
			}
		}
		return other >= 500
	})
}
