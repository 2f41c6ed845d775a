package query

import (
	"bufio"
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// oktaRecords are the sample Okta LogEvents (testdata/okta) as ingest
// parses them, with positions; events Parse refuses are left out.
func oktaRecords(tb testing.TB) []event.Record {
	tb.Helper()
	f, err := os.Open("../../testdata/okta/logevents.ndjson")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []event.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ev, err := event.Parse(bytes.Clone(sc.Bytes()), "acme", time.Now())
		if err != nil {
			continue // a few samples carry a redacted published time
		}
		ev.Seq = uint64(len(out) + 1)
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) < 50 {
		tb.Fatalf("got %d sample events, want at least 50", len(out))
	}
	return out
}

// benchAddBatch times the index's add path (the follower's work per
// journal message) over batches of 100 of recs.
func benchAddBatch(b *testing.B, recs []event.Record) {
	batch := make([]event.Record, 100)
	for i := range batch {
		batch[i] = recs[i%len(recs)]
	}
	ix := newIndex(discard)
	b.ReportAllocs()
	n := 0
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	for b.Loop() {
		for i := range batch {
			batch[i].Seq = uint64(n + i)
		}
		ix.addBatch(batch)
		n += len(batch)
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
	b.ReportMetric(float64(cpu)/float64(n), "cpu-ns/event")
}

// BenchmarkIndexAdd is the query index's add path over real-shaped Okta
// LogEvents as ingest parsed them.
func BenchmarkIndexAdd(b *testing.B) { benchAddBatch(b, oktaRecords(b)) }

// BenchmarkIndexAddWalk is BenchmarkIndexAdd with the records' spans not
// known (as read from a batch written before them): whoOf walks the JSON.
func BenchmarkIndexAddWalk(b *testing.B) {
	recs := oktaRecords(b)
	for i := range recs {
		recs[i].Spans = event.Spans{}
	}
	benchAddBatch(b, recs)
}
