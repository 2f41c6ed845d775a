package journal

import (
	"testing"

	"github.com/auditstream/auditstream/internal/event"
)

// sampleBatch is one full record batch (MaxBatchEvents events) of the
// sample Okta LogEvents, as ingest parses them.
func sampleBatch(b *testing.B) []event.Record {
	b.Helper()
	samples := oktaEvents(b)
	recs := make([]event.Record, MaxBatchEvents)
	for i := range recs {
		recs[i] = samples[i%len(samples)]
	}
	return recs
}

// BenchmarkBatchEncode is the writer's encoding of one full record batch
// of real-shaped Okta LogEvents, without JetStream.
func BenchmarkBatchEncode(b *testing.B) {
	recs := sampleBatch(b)
	var enc batchEncoder
	b.ReportAllocs()
	for b.Loop() {
		enc.encode("acme", recs, nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
}

// BenchmarkBatchDecode is journal.Decode of one full record batch, as
// every reader (runner, query-index follower) does per message.
func BenchmarkBatchDecode(b *testing.B) {
	recs := sampleBatch(b)
	var enc batchEncoder
	m := Message{Subject: Subject("acme"), Data: enc.encode("acme", recs, nil), Seq: 1}
	out := make([]event.Record, 0, len(recs))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = Decode(m, out[:0]); err != nil || len(out) != len(recs) {
			b.Fatalf("got %d records, %v", len(out), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
}
