package stream_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
)

// TestRetentionOrgStreamCaughtUpDoesNotBlock: a stream of one org (its
// consumer filters the org's subject) that has delivered everything of its
// org must not hold the journal back while other orgs' events fill it:
// its ack floor stays at its org's last event, far below the journal's
// newest, yet nothing of its own is undelivered.
func TestRetentionOrgStreamCaughtUpDoesNotBlock(t *testing.T) {
	re := newRetEnv(t, journal.Options{MaxBytes: 512 << 10}, stream.WhenFullProtect)
	f := newFakeSink(sink.Limits{MaxEvents: 50}, nil)
	down := &switchable{}
	f.setAnswer(down.answer)
	down.set(true)
	re.setSink("acme", f)
	now := time.Now().UTC()
	d := stream.Definition{Header: kvstore.Header{ID: "acme", Type: "test", Name: "acme", Status: stream.StatusActive, Org: "acme",
		Settings: json.RawMessage(`{}`)}, Stamps: kvstore.Stamps{Created: now, LastUpdated: now}}
	re.put(d)
	if _, err := re.ingest("acme", 5); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(f.deliveredIDs()) < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// ~2 MiB of another org's events into a 512 KiB journal.
	total := 0
	for total < 2000 {
		got, err := re.ingest("beta", 5)
		total += len(got)
		if err != nil {
			t.Fatalf("after %d of beta's events: %v (acme's stream has delivered all of acme's)", total, err)
		}
		time.Sleep(2 * time.Millisecond)
	}

	// Once acme's stream has an event of its own undelivered, it holds
	// the journal from that event on, and only from there.
	down.set(false)
	ids, err := re.ingest("acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	var fe *stream.FullError
	for total = 0; total < 4000; {
		got, err := re.ingest("beta", 5)
		total += len(got)
		if errors.As(err, &fe) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if fe == nil || len(fe.Blockers) != 1 || fe.Blockers[0].ID != "acme" {
		t.Fatalf("got %v after %d of beta's events, want the journal held by acme's stream", fe, total)
	}
	if u, _ := re.j.Usage(t.Context()); fe.Blockers[0].OldestUndelivered != u.FirstSeq {
		t.Fatalf("oldest undelivered %d, first kept %d: want the journal kept from acme's undelivered event (%s) on",
			fe.Blockers[0].OldestUndelivered, u.FirstSeq, ids[0])
	}
}
