package journal

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// BenchmarkWriterChain measures what the hash chain adds per event, for
// three event sizes: on the one writer goroutine (encoding a record batch
// of 100 events with the chain head, and chaining the events' leaves:
// one SHA-256 of 65 bytes each), against the same batch unchained; and on
// the goroutine that calls Append (the leaf: one SHA-256 of the event's
// bytes), which runs in parallel with other callers. BENCHMARKS.md.
func BenchmarkWriterChain(b *testing.B) {
	for _, size := range []int{300, 1000, 4000} {
		recs := make([]event.Record, MaxBatchEvents)
		leaves := make([]Head, len(recs))
		var hs Hasher
		for i := range recs {
			data := fmt.Appendf(nil, `{"uuid":"u-%d","eventType":"user.session.start","published":"2026-12-04T10:00:00.000Z","pad":%q}`,
				i, strings.Repeat("x", size-90))
			recs[i] = event.Record{UUID: fmt.Sprintf("u-%d", i), Org: "acme", EventType: "user.session.start",
				Published: time.Unix(1, 0), Data: data}
			leaves[i] = hs.Leaf(data)
		}
		perEvent := func(b *testing.B) {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/event")
		}
		for _, chained := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/writer/chained=%v", size, chained), func(b *testing.B) {
				var enc batchEncoder
				var head Head
				b.ReportAllocs()
				for b.Loop() {
					if !chained {
						enc.encode("acme", recs, nil)
						continue
					}
					prev := head
					enc.encode("acme", recs, &prev)
					for _, l := range leaves {
						head = hs.Next(head, l)
					}
				}
				perEvent(b)
			})
		}
		b.Run(fmt.Sprintf("size=%d/append-caller/leaf", size), func(b *testing.B) {
			out := make([]Head, len(recs))
			b.ReportAllocs()
			for b.Loop() {
				for i := range recs {
					out[i] = hs.Leaf(recs[i].Data)
				}
			}
			perEvent(b)
		})
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
