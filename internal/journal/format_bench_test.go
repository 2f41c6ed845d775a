package journal

// Benchmarks that weigh the journal wire formats of issue 12 (see
// docs/journal.md). Every benchmark works on batches of real-shaped Okta
// LogEvents (testdata/okta/logevents.ndjson, about 1.4 KB each) in an
// embedded JetStream server, and reports per event:
//
//   - ns/event: wall-clock time;
//   - cpu-ns/event: the process's user+system CPU time (getrusage), which
//     counts the embedded server's goroutines too;
//   - allocs/event and B/event: heap allocations of the whole process.
//
// The record-batch encoder and decoder here exist for the measurement
// only; the journal does not use them (yet).

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
)

// benchBatch is the number of events of one ingest request.
const benchBatch = 1000

// oktaEvents are the sample Okta LogEvents as ingest parses them.
func oktaEvents(b testing.TB) []event.Record {
	b.Helper()
	return eventtest.OktaSamples(b, "acme")
}

// eventBatches returns rounds batches of benchBatch events cycling through
// the samples, each with its own uuid (so nothing de-duplicates).
func eventBatches(b *testing.B, rounds int, tag string) [][]event.Record {
	b.Helper()
	samples := oktaEvents(b)
	out := make([][]event.Record, rounds)
	n := 0
	for r := range out {
		out[r] = make([]event.Record, benchBatch)
		for i := range out[r] {
			ev := samples[n%len(samples)]
			ev.UUID = fmt.Sprintf("%s-%08d-0000-4000-8000-000000000000", tag, n)[:36]
			out[r][i] = ev
			n++
		}
	}
	return out
}

// meter measures the process around a benchmark loop.
type meter struct {
	ru      syscall.Rusage
	ms      runtime.MemStats
	started time.Time
}

func startMeter() *meter {
	m := &meter{}
	runtime.GC()
	runtime.ReadMemStats(&m.ms)
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &m.ru); err != nil {
		panic(err)
	}
	m.started = time.Now()
	return m
}

// report adds the per-event metrics for events handled since start.
func (m *meter) report(b *testing.B, events int) {
	b.Helper()
	wall := time.Since(m.started)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano() - m.ru.Utime.Nano() - m.ru.Stime.Nano())
	if events == 0 {
		b.Fatal("no events")
	}
	e := float64(events)
	b.ReportMetric(float64(wall.Nanoseconds())/e, "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/e, "cpu-ns/event")
	b.ReportMetric(float64(ms.Mallocs-m.ms.Mallocs)/e, "allocs/event")
	b.ReportMetric(float64(ms.TotalAlloc-m.ms.TotalAlloc)/e, "B/event")
}

// openBench opens an embedded journal and the extra streams the formats
// need: BARE (bare.>), RB (rb.>, record batches), FB (fb.>, fast batches
// allowed) and AB (ab.>, atomic batches allowed).
func openBench(b *testing.B) *Journal {
	b.Helper()
	j, err := Open(b.Context(), Options{DataDir: b.TempDir(), MaxBytes: -1}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(j.Close)
	for _, cfg := range []jetstream.StreamConfig{
		{Name: "BARE", Subjects: []string{"bare.>"}},
		{Name: "RB", Subjects: []string{"rb.>"}},
		{Name: "FB", Subjects: []string{"fb.>"}, AllowBatchPublish: true, Duplicates: DefaultDuplicateWindow},
		{Name: "AB", Subjects: []string{"ab.>"}, AllowAtomicPublish: true, Duplicates: DefaultDuplicateWindow},
	} {
		cfg.Storage = jetstream.FileStorage
		if _, err := j.JetStream().CreateOrUpdateStream(b.Context(), cfg); err != nil {
			b.Fatal(err)
		}
	}
	return j
}

// benchRounds is how many batches a write benchmark prepares: b.N is not
// known before b.Loop, so the batches cycle (with fresh uuids per cycle via
// the tag) and -benchtime=Nx should stay at or below it.
const benchRounds = 64

// writeLoop runs write for each batch and reports per-event metrics.
func writeLoop(b *testing.B, write func(batch []event.Record)) {
	b.Helper()
	batches := eventBatches(b, benchRounds, "w")
	b.ReportAllocs()
	m := startMeter()
	n := 0
	for b.Loop() {
		if n/benchBatch >= benchRounds {
			b.Fatalf("got -benchtime above %dx, want at most that (uuids would repeat)", benchRounds)
		}
		write(batches[n/benchBatch])
		n += benchBatch
	}
	m.report(b, n)
}

// waitAcks waits for every future and fails on any error.
// publishBatches publishes evs as record batches of per events (subject
// "rb.<org>"; opts, when not nil, gives each batch's publish options from
// its first event) and waits for every acknowledgement. futures is reused
// as scratch space and returned.
func publishBatches(b *testing.B, js jetstream.JetStream, enc *recordBatch, per int, evs []event.Record,
	futures []jetstream.PubAckFuture, opts func(first event.Record) []jetstream.PublishOpt) []jetstream.PubAckFuture {
	b.Helper()
	futures = futures[:0]
	for lo := 0; lo < len(evs); lo += per {
		var o []jetstream.PublishOpt
		if opts != nil {
			o = opts(evs[lo])
		}
		// The payload is copied into the connection's buffer by
		// PublishAsync, so enc's buffer can be reused.
		f, err := js.PublishAsync("rb."+evs[lo].Org, enc.encode(evs[lo:min(lo+per, len(evs))]), o...)
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
	}
	waitAcks(b, futures)
	return futures
}

func waitAcks(b *testing.B, futures []jetstream.PubAckFuture) {
	b.Helper()
	stuck := time.NewTimer(30 * time.Second)
	defer stuck.Stop()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		case <-stuck.C:
			b.Fatal("no acknowledgement")
		}
	}
}

// BenchmarkFormatWrite compares the cost of storing events in each wire
// format.
func BenchmarkFormatWrite(b *testing.B) {
	b.Run("a=today-msg-per-event-headers-msgid", func(b *testing.B) {
		j := openBench(b)
		writeLoop(b, func(batch []event.Record) {
			res, err := j.Append(b.Context(), batch)
			if err != nil {
				b.Fatal(err)
			}
			if res.Stored != len(batch) {
				b.Fatalf("got %d stored, want %d", res.Stored, len(batch))
			}
		})
	})
	b.Run("b=msg-per-event-bare", func(b *testing.B) {
		j := openBench(b)
		js := asyncJS(b, j)
		futures := make([]jetstream.PubAckFuture, 0, benchBatch)
		writeLoop(b, func(batch []event.Record) {
			futures = futures[:0]
			for i := range batch {
				f, err := js.PublishAsync("bare"+event.Subject(batch[i].Org, batch[i].EventType)[len("audit"):], batch[i].Data)
				if err != nil {
					b.Fatal(err)
				}
				futures = append(futures, f)
			}
			waitAcks(b, futures)
		})
	})
	for _, per := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("c=record-batch-%d", per), func(b *testing.B) {
			j := openBench(b)
			js := asyncJS(b, j)
			var enc recordBatch
			futures := make([]jetstream.PubAckFuture, 0, benchBatch/per)
			writeLoop(b, func(batch []event.Record) {
				futures = publishBatches(b, js, &enc, per, batch, futures, nil)
			})
		})
	}
	b.Run("c=record-batch-100+msgid", func(b *testing.B) {
		// A message id per batch (org + first uuid) lets a producer
		// retry a whole batch; JetStream then remembers 1 id per 100
		// events instead of 100.
		j := openBench(b)
		js := asyncJS(b, j)
		var enc recordBatch
		const per = 100
		futures := make([]jetstream.PubAckFuture, 0, benchBatch/per)
		writeLoop(b, func(batch []event.Record) {
			futures = publishBatches(b, js, &enc, per, batch, futures, func(first event.Record) []jetstream.PublishOpt {
				return []jetstream.PublishOpt{jetstream.WithMsgID(MsgID(first.Org, first.UUID))}
			})
		})
	})
	b.Run("c=record-batch-100+expected-seq", func(b *testing.B) {
		// Fencing for one writer per partition: every publish expects
		// the stream's last sequence, pipelined (the writer predicts the
		// sequences of the messages it has in flight). A failure fails
		// the benchmark, so this also shows that pipelining works.
		j := openBench(b)
		js := asyncJS(b, j)
		var enc recordBatch
		const per = 100
		var last uint64
		futures := make([]jetstream.PubAckFuture, 0, benchBatch/per)
		writeLoop(b, func(batch []event.Record) {
			futures = publishBatches(b, js, &enc, per, batch, futures, func(event.Record) []jetstream.PublishOpt {
				last++
				return []jetstream.PublishOpt{jetstream.WithExpectLastSequence(last - 1)}
			})
		})
	})
	b.Run("c=record-batch-100+msgid-chain", func(b *testing.B) {
		// Fencing that survives pipelining: every batch has a message id
		// and expects the previous batch's id as the stream's last one
		// (the first expects the last sequence). If one fails, every
		// later one in flight fails too, which a pipelined
		// Nats-Expected-Last-Sequence does not guarantee (a later
		// message can match a foreign write's sequence).
		j := openBench(b)
		js := asyncJS(b, j)
		var enc recordBatch
		const per = 100
		prev, n := "", 0
		futures := make([]jetstream.PubAckFuture, 0, benchBatch/per)
		writeLoop(b, func(batch []event.Record) {
			futures = publishBatches(b, js, &enc, per, batch, futures, func(event.Record) []jetstream.PublishOpt {
				n++
				id := "w1/" + strconv.Itoa(n)
				opts := []jetstream.PublishOpt{jetstream.WithMsgID(id)}
				if prev == "" {
					opts = append(opts, jetstream.WithExpectLastSequence(0))
				} else {
					opts = append(opts, jetstream.WithExpectLastMsgID(prev))
				}
				prev = id
				return opts
			})
		})
	})
	b.Run("c=record-batch-100-atomic+expected-seq", func(b *testing.B) {
		// The 10 record batches of an append as one atomic batch whose
		// first message expects the stream's last sequence: all or
		// nothing, so a fenced writer stores none of them.
		j := openBench(b)
		const per = 100
		encs := make([]recordBatch, benchBatch/per)
		msgs := make([]*nats.Msg, 0, benchBatch/per)
		var last uint64
		writeLoop(b, func(batch []event.Record) {
			msgs = msgs[:0]
			for lo := 0; lo < len(batch); lo += per {
				m := &nats.Msg{Subject: "ab." + batch[lo].Org, Data: encs[lo/per].encode(batch[lo:min(lo+per, len(batch))])}
				if lo == 0 {
					m.Header = nats.Header{jetstream.ExpectedLastSeqHeader: []string{strconv.FormatUint(last, 10)}}
				}
				msgs = append(msgs, m)
			}
			ack, err := jetstreamext.PublishMsgBatch(b.Context(), j.JetStream(), msgs)
			if err != nil {
				b.Fatal(err)
			}
			if ack.BatchSize != uint64(len(msgs)) {
				b.Fatalf("got batch of %d, want %d", ack.BatchSize, len(msgs))
			}
			last = ack.Sequence
		})
	})
	b.Run("c=record-batch-100+dedup-window", func(b *testing.B) {
		j := openBench(b)
		js := asyncJS(b, j)
		var enc recordBatch
		win := newWindow128(DefaultDuplicateWindow)
		const per = 100
		futures := make([]jetstream.PubAckFuture, 0, benchBatch/per)
		keep := make([]event.Record, 0, benchBatch)
		writeLoop(b, func(batch []event.Record) {
			keep = keep[:0]
			now := time.Now()
			for i := range batch {
				if win.add(batch[i].UUID, now) {
					keep = append(keep, batch[i])
				}
			}
			futures = publishBatches(b, js, &enc, per, keep, futures, nil)
		})
	})
	for _, withID := range []bool{false, true} {
		name := "d=fast-batch-msg-per-event"
		if withID {
			name += "+msgid"
		}
		b.Run(name, func(b *testing.B) {
			j := openBench(b)
			writeLoop(b, func(batch []event.Record) {
				fp, err := jetstreamext.NewFastPublisher(j.JetStream(), jetstreamext.FastPublishFlowControl{Flow: 100, MaxOutstandingAcks: 2})
				if err != nil {
					b.Fatal(err)
				}
				for i := range batch {
					m := &nats.Msg{Subject: "fb" + event.Subject(batch[i].Org, batch[i].EventType)[len("audit"):], Data: batch[i].Data}
					if withID {
						m.Header = nats.Header{jetstream.MsgIDHeader: []string{MsgID(batch[i].Org, batch[i].UUID)}}
					}
					if i == len(batch)-1 {
						ack, err := fp.CommitMsg(b.Context(), m)
						if err != nil {
							b.Fatal(err)
						}
						if ack.BatchSize != uint64(len(batch)) {
							b.Fatalf("got batch of %d, want %d", ack.BatchSize, len(batch))
						}
						break
					}
					if _, err := fp.AddMsg(m); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("d=atomic-batch-msg-per-event", func(b *testing.B) {
		j := openBench(b)
		msgs := make([]*nats.Msg, benchBatch)
		writeLoop(b, func(batch []event.Record) {
			for i := range batch {
				msgs[i] = &nats.Msg{Subject: "ab" + event.Subject(batch[i].Org, batch[i].EventType)[len("audit"):], Data: batch[i].Data}
			}
			ack, err := jetstreamext.PublishMsgBatch(b.Context(), j.JetStream(), msgs[:len(batch)])
			if err != nil {
				b.Fatal(err)
			}
			if ack.BatchSize != uint64(len(batch)) {
				b.Fatalf("got batch of %d, want %d", ack.BatchSize, len(batch))
			}
		})
	})
}

// BenchmarkFormatWriteParallel stores batches from 4 concurrent writers,
// as 4 ingest clients do: today's Append, record batches of 100 into one
// stream, and record batches of 100 into 4 streams (partitions, one per
// writer).
func BenchmarkFormatWriteParallel(b *testing.B) {
	const writers = 4
	run := func(b *testing.B, write func(w int, batch []event.Record)) {
		b.Helper()
		batches := eventBatches(b, benchRounds, "p")
		b.ReportAllocs()
		m := startMeter()
		n := 0
		for b.Loop() {
			if n/benchBatch+writers > benchRounds {
				b.Fatalf("got -benchtime above %dx, want at most that (uuids would repeat)", benchRounds/writers)
			}
			var wg sync.WaitGroup
			for w := range writers {
				batch := batches[n/benchBatch+w]
				wg.Go(func() { write(w, batch) })
			}
			wg.Wait()
			n += writers * benchBatch
		}
		m.report(b, n)
	}
	b.Run("a=today", func(b *testing.B) {
		j := openBench(b)
		run(b, func(_ int, batch []event.Record) {
			if _, err := j.Append(b.Context(), batch); err != nil {
				b.Error(err)
			}
		})
	})
	for _, streams := range []int{1, writers} {
		b.Run(fmt.Sprintf("c=record-batch-100-streams-%d", streams), func(b *testing.B) {
			j := openBench(b)
			for s := range streams {
				if _, err := j.JetStream().CreateOrUpdateStream(b.Context(), jetstream.StreamConfig{
					Name: fmt.Sprintf("P%d", s), Subjects: []string{fmt.Sprintf("p%d.>", s)}, Storage: jetstream.FileStorage,
				}); err != nil {
					b.Fatal(err)
				}
			}
			js := asyncJS(b, j)
			encs := make([]recordBatch, writers)
			run(b, func(w int, batch []event.Record) {
				const per = 100
				subj := fmt.Sprintf("p%d.%s", w%streams, batch[0].Org)
				var futures []jetstream.PubAckFuture
				for lo := 0; lo < len(batch); lo += per {
					f, err := js.PublishAsync(subj, encs[w].encode(batch[lo:min(lo+per, len(batch))]))
					if err != nil {
						b.Error(err)
						return
					}
					futures = append(futures, f)
				}
				for _, f := range futures {
					select {
					case <-f.Ok():
					case err := <-f.Err():
						b.Error(err)
					}
				}
			})
		})
	}
}

// asyncJS is a JetStream context for async publishes like Append's.
func asyncJS(b *testing.B, j *Journal) jetstream.JetStream {
	b.Helper()
	js, err := jetstream.New(j.Conn(), jetstream.WithPublishAsyncMaxPending(maxPendingAsync))
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// readEvents is how many events each read benchmark stores and reads back.
const readEvents = 20 * benchBatch

// BenchmarkFormatRead compares reading events back in each wire format
// with a pull consumer and batch fetches, the way the log-stream runner
// and the query-index follower read the journal: every event is routed on
// (uuid, event type, published) without touching its JSON where the format
// allows it.
func BenchmarkFormatRead(b *testing.B) {
	b.Run("a=today-msg-per-event-headers", func(b *testing.B) {
		j := openBench(b)
		for _, batch := range eventBatches(b, readEvents/benchBatch, "r") {
			if _, err := j.Append(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
		}
		readLoop(b, j, DefaultStream, 1, func(m jetstream.Msg) int {
			h := m.Headers()
			pub, err := strconv.ParseInt(h.Get(HeaderPublished), 10, 64)
			if err != nil || UUIDOf(h) == "" || h.Get(HeaderType) == "" || h.Get(HeaderOrg) == "" || pub == 0 {
				b.Fatalf("bad headers %v: %v", h, err)
			}
			_ = m.Ack()
			return 1
		})
	})
	b.Run("b=msg-per-event-bare-parse-json", func(b *testing.B) {
		j := openBench(b)
		js := asyncJS(b, j)
		for _, batch := range eventBatches(b, readEvents/benchBatch, "r") {
			var futures []jetstream.PubAckFuture
			for i := range batch {
				f, err := js.PublishAsync("bare"+event.Subject(batch[i].Org, batch[i].EventType)[len("audit"):], batch[i].Data)
				if err != nil {
					b.Fatal(err)
				}
				futures = append(futures, f)
			}
			waitAcks(b, futures)
		}
		now := time.Now()
		readLoop(b, j, "BARE", 1, func(m jetstream.Msg) int {
			// Without headers the consumer must scan the JSON to route.
			ev, err := event.Parse(m.Data(), "acme", now)
			if err != nil || ev.UUID == "" {
				b.Fatal(err)
			}
			_ = m.Ack()
			return 1
		})
	})
	for _, per := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("c=record-batch-%d", per), func(b *testing.B) {
			j := openBench(b)
			js := asyncJS(b, j)
			var enc recordBatch
			for _, batch := range eventBatches(b, readEvents/benchBatch, "r") {
				publishBatches(b, js, &enc, per, batch, nil, nil)
			}
			var recs []rec
			readLoop(b, j, "RB", per, func(m jetstream.Msg) int {
				var err error
				recs, err = decodeRecordBatch(m.Data(), recs[:0])
				if err != nil {
					b.Fatal(err)
				}
				for i := range recs {
					if len(recs[i].uuid) == 0 || len(recs[i].typ) == 0 || recs[i].published == 0 || len(recs[i].data) == 0 {
						b.Fatalf("bad record %d", i)
					}
				}
				_ = m.Ack()
				return len(recs)
			})
		})
	}
}

// readLoop creates a fresh pull consumer over stream for every iteration,
// fetches until it has seen readEvents events and reports per event.
// per is the number of events of one message.
func readLoop(b *testing.B, j *Journal, stream string, per int, handle func(jetstream.Msg) int) {
	b.Helper()
	ctx := b.Context()
	b.ReportAllocs()
	m := startMeter()
	total := 0
	for b.Loop() {
		c, err := j.JetStream().CreateConsumer(ctx, stream, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: -1})
		if err != nil {
			b.Fatal(err)
		}
		n, msgs := 0, 0
		for n < readEvents {
			// Ask for no more messages than the stream holds, so that
			// the last fetch does not wait for its expiry.
			want := 1000
			if per > 1 {
				want = min(want, (readEvents-n+per-1)/per)
			}
			batch, err := c.Fetch(want, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			for msg := range batch.Messages() {
				msgs++
				n += handle(msg)
			}
			if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
				b.Fatal(err)
			}
		}
		if n != readEvents {
			b.Fatalf("got %d events, want %d", n, readEvents)
		}
		total += n
		if msgs != (readEvents+per-1)/per {
			b.Fatalf("got %d messages, want %d", msgs, (readEvents+per-1)/per)
		}
		if err := j.JetStream().DeleteConsumer(context.WithoutCancel(ctx), stream, c.CachedInfo().Name); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, total)
}

// recordBatch encodes events of one org into one journal message:
//
//	"AR" version(1) count(uvarint)
//	count × index entry: uuid, eventType, source, account (uvarint length +
//	  bytes each), published (varint Unix ns), data length (uvarint)
//	the events' JSON, back to back in index order
//
// The index comes first so a consumer routes and filters without touching
// the JSON; an event's offset is the sum of the data lengths before it.
type recordBatch struct{ buf []byte }

func (r *recordBatch) encode(evs []event.Record) []byte {
	b := append(r.buf[:0], 'A', 'R', 1)
	b = binary.AppendUvarint(b, uint64(len(evs)))
	for i := range evs {
		ev := &evs[i]
		b = appendStr(b, ev.UUID)
		b = appendStr(b, ev.EventType)
		b = appendStr(b, ev.Source)
		b = appendStr(b, ev.Account)
		b = binary.AppendVarint(b, ev.Published.UnixNano())
		b = binary.AppendUvarint(b, uint64(len(ev.Data)))
	}
	for i := range evs {
		b = append(b, evs[i].Data...)
	}
	r.buf = b
	return b
}

// rec is one decoded index entry; its byte slices point into the message.
type rec struct {
	uuid, typ, source, account, data []byte
	published                        int64
	dataLen                          uint64
}

var errBadBatch = errors.New("bad record batch")

// decodeRecordBatch appends the records of a batch to out without copying.
func decodeRecordBatch(b []byte, out []rec) ([]rec, error) {
	if len(b) < 3 || b[0] != 'A' || b[1] != 'R' || b[2] != 1 {
		return out, errBadBatch
	}
	p := 3
	count, n := binary.Uvarint(b[p:])
	if n <= 0 || count > uint64(len(b)) {
		return out, errBadBatch
	}
	p += n
	start := len(out)
	for range count {
		var r rec
		var ok bool
		if r.uuid, p, ok = readStr(b, p); !ok {
			return out, errBadBatch
		}
		if r.typ, p, ok = readStr(b, p); !ok {
			return out, errBadBatch
		}
		if r.source, p, ok = readStr(b, p); !ok {
			return out, errBadBatch
		}
		if r.account, p, ok = readStr(b, p); !ok {
			return out, errBadBatch
		}
		if r.published, n = binary.Varint(b[p:]); n <= 0 {
			return out, errBadBatch
		}
		p += n
		l, n := binary.Uvarint(b[p:])
		if n <= 0 {
			return out, errBadBatch
		}
		p += n
		r.dataLen = l
		out = append(out, r)
	}
	for i := start; i < len(out); i++ {
		l := out[i].dataLen
		if uint64(len(b)-p) < l {
			return out, errBadBatch
		}
		out[i].data = b[p : p+int(l) : p+int(l)]
		p += int(l)
	}
	if p != len(b) {
		return out, errBadBatch
	}
	return out, nil
}

// window128 remembers the uuids of one org seen within a window, as a
// journal whose messages hold many events would need to do itself: a map
// from the uuid's 128-bit digest to its arrival (Unix seconds, relative),
// and a FIFO of the same keys to expire them in order.
type window128 struct {
	window time.Duration
	seen   map[[16]byte]uint32
	fifo   []entry128
	head   int
	epoch  time.Time
}

type entry128 struct {
	key [16]byte
	at  uint32
}

func newWindow128(window time.Duration) *window128 {
	return &window128{window: window, seen: make(map[[16]byte]uint32), epoch: time.Now()}
}

// dedupKey is a uuid's 16 bytes when it is a canonical uuid, else the first
// 16 bytes of its SHA-256.
func dedupKey(uuid string) [16]byte {
	var k [16]byte
	if len(uuid) == 36 && uuid[8] == '-' && uuid[13] == '-' && uuid[18] == '-' && uuid[23] == '-' {
		j := 0
		ok := true
		for i := 0; i < 36 && ok; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				continue
			}
			h, lo := unhex(uuid[i]), unhex(uuid[i+1])
			if h > 15 || lo > 15 {
				ok = false
				break
			}
			k[j] = h<<4 | lo
			j++
			i++
		}
		if ok {
			return k
		}
	}
	sum := sha256.Sum256([]byte(uuid))
	copy(k[:], sum[:16])
	return k
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// add reports whether uuid is new within the window, remembering it.
func (w *window128) add(uuid string, now time.Time) bool {
	at := uint32(now.Sub(w.epoch) / time.Second)
	horizon := int64(at) - int64(w.window/time.Second)
	for w.head < len(w.fifo) && int64(w.fifo[w.head].at) < horizon {
		e := w.fifo[w.head]
		if w.seen[e.key] == e.at {
			delete(w.seen, e.key)
		}
		w.head++
	}
	if w.head > 4096 && w.head*2 > len(w.fifo) {
		w.fifo = append(w.fifo[:0], w.fifo[w.head:]...)
		w.head = 0
	}
	k := dedupKey(uuid)
	if _, dup := w.seen[k]; dup {
		return false
	}
	w.seen[k] = at
	w.fifo = append(w.fifo, entry128{key: k, at: at})
	return true
}

// BenchmarkDedupWindow measures the per-event cost of the in-memory uuid
// window and the memory it holds per remembered id.
func BenchmarkDedupWindow(b *testing.B) {
	const remembered = 1_000_000
	uuids := make([]string, remembered)
	for i := range uuids {
		uuids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
	}
	b.Run("add-new", func(b *testing.B) {
		w := newWindow128(time.Hour)
		now := time.Now()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			w.add(uuids[i%remembered], now)
			i++
		}
	})
	b.Run("add-duplicate", func(b *testing.B) {
		w := newWindow128(time.Hour)
		now := time.Now()
		for _, u := range uuids[:100_000] {
			w.add(u, now)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if w.add(uuids[i%100_000], now) {
				b.Fatal("got new, want duplicate")
			}
			i++
		}
	})
	b.Run("bytes-per-id", func(b *testing.B) {
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			w := newWindow128(time.Hour)
			now := time.Now()
			for _, u := range uuids {
				w.add(u, now)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/remembered, "B/id")
			runtime.KeepAlive(w)
		}
	})
	b.Run("hash64-position-bytes-per-id", func(b *testing.B) {
		// The compact alternative: a 64-bit digest of the uuid mapped to
		// the event's journal position (sequence and index); a hit is
		// confirmed by reading that event, so a digest collision costs
		// a read, never an event.
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m := make(map[uint64]uint64)
			for i, u := range uuids {
				k := dedupKey(u)
				m[binary.LittleEndian.Uint64(k[:8])^binary.LittleEndian.Uint64(k[8:])] = uint64(i)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/remembered, "B/id")
			runtime.KeepAlive(m)
		}
	})
	b.Run("string-map-bytes-per-id", func(b *testing.B) {
		// The naive alternative: map[string]int64 keyed by the uuid text.
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m := make(map[string]int64)
			for i, u := range uuids {
				m[string([]byte(u))] = int64(i)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/remembered, "B/id")
			runtime.KeepAlive(m)
		}
	})
}
