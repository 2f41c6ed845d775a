package journal

import (
	"syscall"
	"testing"
	"time"

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
	cpu0 := processCPU(b)
	for b.Loop() {
		enc.encode("acme", recs, nil)
	}
	reportPerEvent(b, cpu0, len(recs))
}

// processCPU is the process's user and system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerEvent reports wall-clock and process CPU time per event of a
// loop over batches of n events that started at CPU time cpu0 (CPU time
// is the steadier figure on a shared machine).
func reportPerEvent(b *testing.B, cpu0 time.Duration, n int) {
	events := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/events, "cpu-ns/event")
}

// BenchmarkBatchDecode is journal.Decode of one full record batch, as
// every reader (runner, query-index follower) does per message.
func BenchmarkBatchDecode(b *testing.B) {
	recs := sampleBatch(b)
	var enc batchEncoder
	benchDecode(b, enc.encode("acme", recs, nil), len(recs))
}

// benchDecode measures Decode of a message holding batch, of n events.
func benchDecode(b *testing.B, batch []byte, n int) {
	m := Message{Subject: Subject("acme"), Data: batch, Seq: 1}
	out := make([]event.Record, 0, n)
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		var err error
		if out, err = Decode(m, out[:0]); err != nil || len(out) != n {
			b.Fatalf("got %d records, %v", len(out), err)
		}
	}
	reportPerEvent(b, cpu0, n)
}

// BenchmarkBatchCompress is the writer's compression of one full record
// batch (after encode); x-smaller is the batch's size over the compressed
// one. The batch cycles through the samples (22 distinct events), so it
// compresses better than 100 distinct events would.
func BenchmarkBatchCompress(b *testing.B) {
	recs := sampleBatch(b)
	var enc batchEncoder
	plain := len(enc.encode("acme", recs, nil))
	var z []byte
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		if z = enc.compress(z); z == nil {
			b.Fatal("the batch did not compress")
		}
	}
	reportPerEvent(b, cpu0, len(recs))
	b.ReportMetric(float64(plain)/float64(len(z)), "x-smaller")
}

// BenchmarkBatchDecodeCompressed is journal.Decode of the batch of
// BenchmarkBatchCompress: the index as BenchmarkBatchDecode, and the JSON
// decompressed into a buffer of its own.
func BenchmarkBatchDecodeCompressed(b *testing.B) {
	recs := sampleBatch(b)
	var enc batchEncoder
	enc.encode("acme", recs, nil)
	benchDecode(b, enc.compress(nil), len(recs))
}
