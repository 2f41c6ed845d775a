package stream_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/benchcost"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
)

// countSink accepts everything and counts it.
type countSink struct{ n atomic.Int64 }

func (c *countSink) Limits() sink.Limits            { return sink.Limits{MaxEvents: 1000} }
func (c *countSink) EncodedSize(r event.Record) int { return len(r.Data) + 1 }
func (c *countSink) Write(_ context.Context, b sink.Batch) error {
	c.n.Add(int64(len(b.Records)))
	return nil
}
func (c *countSink) Verify(context.Context) error { return nil }
func (c *countSink) Close(context.Context) error  { return nil }

// BenchmarkRunnerDrain measures how fast one runner reads a backlog of
// 1-KB events from the embedded journal into a sink that takes every batch
// at once: the ceiling the runner puts on any destination.
func BenchmarkRunnerDrain(b *testing.B) {
	const n = 50000
	pad := strings.Repeat("x", 900)
	b.StopTimer()
	for range b.N {
		j, err := journal.Open(b.Context(), journal.Options{DataDir: b.TempDir()}, discard)
		if err != nil {
			b.Fatal(err)
		}
		evs := make([]event.Record, 0, 1000)
		for i := range n {
			ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"u-%d","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z","pad":%q}`, i, pad), "acme", time.Now())
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, ev)
			if len(evs) == cap(evs) {
				if _, err := j.Append(b.Context(), evs); err != nil {
					b.Fatal(err)
				}
				evs = evs[:0]
			}
		}
		kv, err := j.KV(b.Context(), journal.BucketStreams)
		if err != nil {
			b.Fatal(err)
		}
		store, err := stream.NewStore(b.Context(), kv, nil, discard)
		if err != nil {
			b.Fatal(err)
		}
		cs := &countSink{}
		sup := stream.NewSupervisor(stream.SupervisorConfig{Store: store, Journal: j, Log: discard,
			Metrics: stream.NewMetrics(prometheus.NewRegistry()),
			Build:   func(stream.Definition) (sink.Sink, stream.Filter, error) { return cs, nil, nil }})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sup.Run(ctx); close(done) }()
		d := def("bench")
		b.StartTimer()
		start := time.Now()
		if err := store.Put(b.Context(), d); err != nil {
			b.Fatal(err)
		}
		for cs.n.Load() < n {
			time.Sleep(time.Millisecond)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		b.StopTimer()
		cancel()
		<-done
		store.Close()
		j.Close()
	}
}

// BenchmarkRunner measures the runner alone on a backlog of 1-KB events in
// the embedded journal: a runner with a filter that keeps every event, a
// sink that takes every batch at once. Each iteration starts a new consumer
// at the journal's start and stops once every event is delivered. It
// reports cpu-ns/event (CPU time of the process, robust to a shared
// machine), ns/event (wall clock), allocs/event and B/event; these count
// the whole process, the embedded NATS server's reads included.
func BenchmarkRunner(b *testing.B) {
	b.Run("v1", func(b *testing.B) { benchmarkRunner(b, false) })
	b.Run("v2", func(b *testing.B) { benchmarkRunner(b, true) })
}

// benchmarkRunner is BenchmarkRunner over a journal of version 1 messages
// (one per event, as releases before record batches wrote) or written by
// Append (record batches, in appends of 100 events).
func benchmarkRunner(b *testing.B, batches bool) {
	const n = 20000
	pad := strings.Repeat("x", 900)
	j, err := journal.Open(b.Context(), journal.Options{DataDir: b.TempDir()}, discard)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	size := 1000
	if batches {
		size = journal.MaxBatchEvents
	}
	evs := make([]event.Record, 0, size)
	for i := range n {
		ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"u-%d","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z","pad":%q}`, i, pad), "acme", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		evs = append(evs, ev)
		if len(evs) < cap(evs) {
			continue
		}
		if batches {
			if _, err := j.Append(b.Context(), evs); err != nil {
				b.Fatal(err)
			}
		} else {
			journaltest.AppendLegacy(b, j, evs)
		}
		evs = evs[:0]
	}
	metrics := stream.NewMetrics(prometheus.NewRegistry())
	var kept atomic.Int64
	filter := func(r *event.Record) bool {
		if r.Org != "" {
			kept.Add(1)
		}
		return true
	}
	var ms0, ms1 runtime.MemStats
	var elapsed, cpu time.Duration
	var mallocs, bytes uint64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		cs := &countSink{}
		d := def("bench")
		d.Epoch = i + 1
		d.StartSeq = 1
		r := stream.NewRunner(stream.RunnerConfig{Def: d, Sink: cs, Filter: filter, Journal: j, Log: discard,
			Metrics: metrics, Status: new(stream.Status)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		b.StartTimer()
		start, cpu0 := time.Now(), benchcost.CPU(b)
		go func() { _ = r.Run(ctx, context.Background()); close(done) }()
		for cs.n.Load() < n {
			time.Sleep(200 * time.Microsecond)
		}
		elapsed += time.Since(start)
		cpu += benchcost.CPU(b) - cpu0
		b.StopTimer()
		runtime.ReadMemStats(&ms1)
		mallocs += ms1.Mallocs - ms0.Mallocs
		bytes += ms1.TotalAlloc - ms0.TotalAlloc
		cancel()
		<-done
		b.StartTimer()
	}
	events := float64(n) * float64(b.N)
	b.ReportMetric(float64(elapsed.Nanoseconds())/events, "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/events, "cpu-ns/event")
	b.ReportMetric(float64(mallocs)/events, "allocs/event")
	b.ReportMetric(float64(bytes)/events, "B/event")
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
}
