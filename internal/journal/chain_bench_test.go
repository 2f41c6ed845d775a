package journal

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// BenchmarkWriterChain measures what the hash chain adds to the writer
// per event: encoding a record batch of 100 events with and without the
// chain (two SHA-256 per event, 32 bytes per batch), at three event sizes.
// The difference of the two ns/event is the chain's CPU per event
// (BENCHMARKS.md).
func BenchmarkWriterChain(b *testing.B) {
	for _, size := range []int{300, 1000, 4000} {
		recs := make([]event.Record, MaxBatchEvents)
		for i := range recs {
			data := fmt.Appendf(nil, `{"uuid":"u-%d","eventType":"user.session.start","published":"2026-12-04T10:00:00.000Z","pad":%q}`,
				i, strings.Repeat("x", size-90))
			recs[i] = event.Record{UUID: fmt.Sprintf("u-%d", i), Org: "acme", EventType: "user.session.start",
				Published: time.Unix(1, 0), Data: data}
		}
		for _, chained := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/chained=%v", size, chained), func(b *testing.B) {
				var enc batchEncoder
				var hs Hasher
				var head Head
				b.SetBytes(int64(size * len(recs)))
				b.ReportAllocs()
				for b.Loop() {
					if !chained {
						enc.encode("acme", recs, nil)
						continue
					}
					prev := head
					enc.encode("acme", recs, &prev)
					for i := range recs {
						head = hs.Next(head, hs.Leaf(recs[i].Data))
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
			})
		}
	}
}

// BenchmarkSHA256 is the floor: one SHA-256 of an event of each size.
func BenchmarkSHA256(b *testing.B) {
	for _, size := range []int{300, 1000, 4000} {
		data := make([]byte, size)
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				_ = sha256.Sum256(data)
			}
		})
	}
}
