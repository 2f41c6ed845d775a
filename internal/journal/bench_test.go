package journal

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// BenchmarkAppend measures storing batches of 1,000 1-KB events in the
// embedded journal, as one ingest request does.
func BenchmarkAppend(b *testing.B) {
	j, err := Open(b.Context(), Options{DataDir: b.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	pad := strings.Repeat("x", 900)
	const batch = 1000
	evs := make([]event.Record, batch)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range evs {
			n++
			ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"u-%d","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z","pad":%q}`, n, pad), "acme", time.Now())
			if err != nil {
				b.Fatal(err)
			}
			evs[i] = ev
		}
		if _, err := j.Append(b.Context(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
