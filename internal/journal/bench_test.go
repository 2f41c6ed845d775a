package journal

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// benchEvents parses rounds × batch events of about 1 KB with distinct
// uuids, outside the measured loop.
func benchEvents(b *testing.B, rounds, batch int) [][]event.Record {
	b.Helper()
	pad := strings.Repeat("x", 900)
	out := make([][]event.Record, rounds)
	for r := range out {
		out[r] = make([]event.Record, batch)
		for i := range out[r] {
			ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"u-%d-%d","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z","pad":%q}`,
				r, i, pad), "acme", time.Now())
			if err != nil {
				b.Fatal(err)
			}
			out[r][i] = ev
		}
	}
	return out
}

// BenchmarkAppend measures journal.Append storing batches of 1,000 1-KB
// events in the embedded journal, as one ingest request does: record
// batches, the uuid window, JetStream's store. cpu-ns/event counts the
// whole process (the embedded server too).
func BenchmarkAppend(b *testing.B) {
	j, err := Open(b.Context(), Options{DataDir: b.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	const batch = 1000
	evs := benchEvents(b, 1, batch)[0]
	// Every round stores new events: fresh uuids, made before the loop.
	ids := make([]string, 0, 1000*batch)
	for i := range cap(ids) {
		ids = append(ids, fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))
	}
	b.ReportAllocs()
	m := startMeter()
	n := 0
	for b.Loop() {
		for i := range evs {
			evs[i].UUID = ids[(n*batch+i)%len(ids)]
		}
		if _, err := j.Append(b.Context(), evs); err != nil {
			b.Fatal(err)
		}
		n++
	}
	m.report(b, n*batch)
}

// BenchmarkScan measures reading the journal back (Decode of every
// message, every record's index fields), as the runner and the query
// index do.
func BenchmarkScan(b *testing.B) {
	j, err := Open(b.Context(), Options{DataDir: b.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	for _, evs := range benchEvents(b, 20, 1000) {
		if _, err := j.Append(b.Context(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	m := startMeter()
	total := 0
	for b.Loop() {
		err := j.Scan(b.Context(), "", ScanFrom{}, func(recs []event.Record, _ uint64, _ time.Time) bool {
			for i := range recs {
				if recs[i].UUID == "" || recs[i].EventType == "" {
					b.Fatal("empty record")
				}
			}
			total += len(recs)
			return true
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, total)
}
