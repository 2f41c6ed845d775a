package journal_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// TestTwoWritersOnAReplicatedStream: two nodes append events of one org at
// the same time to an R3 stream on a three-server cluster, so each keeps
// being fenced by the other. Every append succeeds (after fencing and
// retries), every event is stored once, and the stream stays writable.
// Fenced with Nats-Expected-Last-Msg-Id, the first mismatch was a write
// error on every replica and the stream refused everything after it.
func TestTwoWritersOnAReplicatedStream(t *testing.T) {
	t.Parallel()
	srvs := journaltest.StartNATSCluster(t)
	url := srvs[0].ClientURL() + "," + srvs[1].ClientURL() + "," + srvs[2].ClientURL()
	a := journaltest.OpenWith(t, journal.Options{URL: url, Replicas: 3})
	b := journaltest.OpenWith(t, journal.Options{URL: url, Replicas: 3})
	const rounds, per = 40, 150 // more than one record batch per append
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for w, j := range []*journal.Journal{a, b} {
		wg.Go(func() {
			for r := range rounds {
				evs := events(t, "acme", fmt.Sprintf("w%d-%03d", w, r), per, 10)
				// Fenced more often than the writer retries, an append
				// fails (ingest answers 503); the client sends it again.
				for try := 0; ; try++ {
					_, err := j.Append(t.Context(), evs)
					if err == nil {
						break
					}
					if try == 20 {
						errs <- fmt.Errorf("writer %d round %d: %w", w, r, err)
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	info, err := a.JetStream().Stream(t.Context(), a.StreamName())
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if ci := info.CachedInfo().Cluster; ci != nil {
		t.Logf("stream leader %q, replicas %d", ci.Leader, len(ci.Replicas))
	}
	// The stream still takes writes (a client sends a 503'd append again,
	// as above: the writer may first re-read the tail while leaders
	// settle).
	var err2 error
	for try := 0; try < 20; try++ {
		if _, err2 = a.Append(t.Context(), []event.Record{parse(t, "acme", "after", "x", 0)}); err2 == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err2 != nil {
		t.Fatalf("append after the race: %v", err2)
	}
	seen := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 2*rounds*per+1 && time.Now().Before(deadline) {
		clear(seen)
		err := a.Scan(t.Context(), "", journal.ScanFrom{}, func(recs []event.Record, _ uint64, _ time.Time) bool {
			for _, r := range recs {
				seen[r.UUID]++
			}
			return true
		})
		if err != nil {
			t.Logf("scan: %v", err) // a direct get may find no responder for a moment
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(seen) != 2*rounds*per+1 {
		t.Errorf("got %d events stored, want %d", len(seen), 2*rounds*per+1)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s stored %d times, want once", id, n)
		}
	}
	// The org's hash chain is one chain in journal order: no batch landed
	// after a refused predecessor of its org, or after another writer's
	// batch of the org it did not follow.
	var hs journal.Hasher
	var head journal.Head
	batches, breaks := 0, 0
	err = a.ScanMessages(t.Context(), "acme", journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		prev, chained := journal.ChainedBatch(m.Data)
		if !chained {
			return true
		}
		batches++
		if prev != head {
			breaks++
		}
		recs, err := journal.Decode(m, nil)
		if err != nil {
			t.Fatalf("decode message %d: %v", m.Seq, err)
		}
		head = prev
		for _, r := range recs {
			head = hs.Next(head, hs.Leaf(r.Data))
		}
		return true
	})
	if err != nil {
		t.Fatalf("scan messages: %v", err)
	}
	if batches == 0 || breaks != 0 {
		t.Errorf("hash chain of acme: got %d breaks in %d batches, want none", breaks, batches)
	}
}
