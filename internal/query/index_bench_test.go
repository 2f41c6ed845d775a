package query

import (
	"syscall"
	"testing"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
)

// oktaRecords are the sample Okta LogEvents as ingest parses them
// (eventtest.OktaSamples), with positions.
func oktaRecords(tb testing.TB) []event.Record {
	tb.Helper()
	out := eventtest.OktaSamples(tb, "acme")
	for i := range out {
		out[i].Seq = uint64(i + 1)
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
