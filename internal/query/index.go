package query

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// The index answers "which journal positions hold events published in this
// time range, of these event types, by these actors" without reading the
// journal. It lives in memory and is rebuilt from the journal when the
// process starts (one pass over the stream), then follows new events. It
// holds 24 bytes per event (an entry: position, published, type and actor
// ids), about 28 with the slack of its slices: 10 million events cost
// about 280 MB. An event's position (journal.Position: its message's
// sequence and its index in the message) fits the 8 bytes a message
// sequence took before record batches.
//
// Events are kept in one-minute buckets of published time. Within a bucket
// entries are in arrival order; a query sorts the few it needs. Bucket keys
// are kept sorted so a long time range costs a binary search, not a walk
// over every minute in it.

// bucketWidth is the published-time span of one bucket, in nanoseconds.
const bucketWidth = int64(time.Minute)

// followPullBytes bounds what the follower's pull requests bring into
// memory ahead of indexing.
const followPullBytes = 8 << 20

// Special actor ids: actorAbsent when the event has no actor.alternateId,
// actorOther when it is not one plain string (the index cannot answer for
// such events, so they are always read).
const (
	actorAbsent uint32 = 0
	actorOther  uint32 = 1
)

// entry is one event in the index.
type entry struct {
	pos   uint64 // the event's journal position (journal.Position)
	pub   int64  // published, unix nanoseconds
	typ   uint32
	actor uint32
}

// typeKey is an (org, eventType) pair; events are interned by it.
type typeKey struct{ org, eventType string }

// Index is the in-memory time/type/actor index of the journal. It is safe
// for concurrent use.
type Index struct {
	mu      sync.RWMutex
	buckets map[int64][]entry
	keys    []int64 // sorted bucket keys
	types   []typeKey
	typeIDs map[typeKey]uint32
	actors  []string
	actorID map[string]uint32
	size    int

	hw atomic.Uint64 // highest journal message sequence indexed (whole)
	// hwp are the high waters of partitions 1… of a partitioned journal
	// (hw is partition 0's; see setPartitions).
	hwp []atomic.Uint64
	// caughtUp is closed once the follower has read every message the
	// journal held when it started (caughtUpOnce closes it); with several
	// partitions, once each partition's follower has (behind counts those
	// that have not).
	caughtUp     chan struct{}
	caughtUpOnce sync.Once
	behind       atomic.Int32
	log          *slog.Logger
	// actorScratch holds the actor of each event of the batch being added
	// (used by the follower only, one batch at a time; each follower of a
	// partitioned journal has its own).
	actorScratch []actorRef
}

// actorRef is an event's actor as found in its JSON before interning: the
// raw alternateId string (with its quotes) when n == 1 and it is a plain
// string.
type actorRef struct {
	raw []byte
	id  uint32 // actorAbsent, actorOther, or 0 with raw set
}

func newIndex(log *slog.Logger) *Index {
	return &Index{
		buckets:  map[int64][]entry{},
		typeIDs:  map[typeKey]uint32{},
		actors:   []string{"", ""},
		actorID:  map[string]uint32{},
		log:      log,
		caughtUp: make(chan struct{}),
	}
}

// markCaughtUp records that the index has read the journal as it was
// when the follower started.
func (ix *Index) markCaughtUp() { ix.caughtUpOnce.Do(func() { close(ix.caughtUp) }) }

// setPartitions prepares the index for a journal of n partitions (before
// it follows them).
func (ix *Index) setPartitions(n int) {
	ix.hwp = make([]atomic.Uint64, n-1)
	ix.behind.Store(int32(n))
}

// partCaughtUp records that one partition's follower has caught up (once
// per partition: once is its flag); the index is caught up when all have.
func (ix *Index) partCaughtUp(once *bool) {
	if *once {
		return
	}
	*once = true
	if ix.behind.Add(-1) <= 0 {
		ix.markCaughtUp()
	}
}

// hwOf is partition part's high water.
func (ix *Index) hwOf(part int) *atomic.Uint64 {
	if part == 0 {
		return &ix.hw
	}
	return &ix.hwp[part-1]
}

// HighWater is the highest journal message sequence in the index: every
// event of that message and of the messages before it is indexed.
func (ix *Index) HighWater() uint64 { return ix.hw.Load() }

// Len is the number of events in the index.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.size
}

func bucketOf(pub int64) int64 {
	if pub < 0 {
		return (pub - bucketWidth + 1) / bucketWidth
	}
	return pub / bucketWidth
}

// unixNano is t in Unix nanoseconds, 0 for the zero time (a version 1
// message without a published header), as the index always kept it.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// actorPath is the path of the indexed actor.
var actorPath = []string{"actor", "alternateId"}

// actorOf finds an event's actor.alternateId in its JSON without
// allocating: the raw string when there is exactly one plain string.
func actorOf(data []byte) actorRef {
	var ref actorRef
	n := 0
	lookup(data, actorPath, func(v rawValue) {
		n++
		switch v.kind {
		case kindString:
			ref.raw = v.raw
		case kindNull:
		default:
			n++
		}
	})
	switch {
	case n == 0:
		ref.id = actorAbsent
	case n > 1 || ref.raw == nil:
		ref.raw, ref.id = nil, actorOther
	case len(ref.raw) <= 2: // ""
		ref.raw, ref.id = nil, actorOther
	}
	return ref
}

// internActor returns the id of a raw actor string (with its quotes),
// adding it when new. The caller holds ix.mu.
func (ix *Index) internActor(raw []byte) uint32 {
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		if id, ok := ix.actorID[string(in)]; ok { // no allocation
			return id
		}
	}
	alt := unquote(raw)
	if alt == "" {
		return actorOther
	}
	id, ok := ix.actorID[alt]
	if !ok {
		id = uint32(len(ix.actors))
		ix.actors = append(ix.actors, alt)
		ix.actorID[alt] = id
	}
	return id
}

// addBatch indexes the events of one journal message (as journal.Decode
// returns them, with their positions). The events' JSON is read for the
// actor only, before the index's lock is taken.
func (ix *Index) addBatch(recs []event.Record) { ix.addBatchWith(recs, &ix.actorScratch) }

// addBatchWith is addBatch with the caller's scratch for the actors: one
// per follower, as the followers of a partitioned journal's partitions
// add batches at the same time.
func (ix *Index) addBatchWith(recs []event.Record, scratch *[]actorRef) {
	actors := (*scratch)[:0]
	for i := range recs {
		actors = append(actors, actorOf(recs[i].Data))
	}
	*scratch = actors
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var tk typeKey
	typ := uint32(0)
	for i := range recs {
		r := &recs[i]
		actor := actors[i].id
		if actors[i].raw != nil {
			actor = ix.internActor(actors[i].raw)
		}
		if i == 0 || r.Org != tk.org || r.EventType != tk.eventType {
			tk = typeKey{r.Org, r.EventType}
			var ok bool
			if typ, ok = ix.typeIDs[tk]; !ok {
				// The decoded strings point into the message: copy them.
				tk = typeKey{strings.Clone(r.Org), strings.Clone(r.EventType)}
				typ = uint32(len(ix.types))
				ix.types = append(ix.types, tk)
				ix.typeIDs[tk] = typ
			}
		}
		pub := unixNano(r.Published)
		k := bucketOf(pub)
		b, ok := ix.buckets[k]
		if !ok {
			i, _ := slices.BinarySearch(ix.keys, k)
			ix.keys = slices.Insert(ix.keys, i, k)
		}
		ix.buckets[k] = append(b, entry{pos: r.Seq, pub: pub, typ: typ, actor: actor})
		ix.size++
	}
	for i := range actors {
		actors[i].raw = nil // do not keep the message alive
	}
}

// prune drops the entries of messages below the journal's first sequence
// (aged out).
func (ix *Index) prune(first uint64) { ix.prunePart(0, first) }

// prunePart is prune for journal partition part.
func (ix *Index) prunePart(part int, first uint64) {
	from := journal.Position(journal.PartitionSeq(part, first), 0)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	keys := ix.keys[:0]
	for _, k := range ix.keys {
		b := ix.buckets[k]
		kept := b[:0]
		for _, e := range b {
			if e.pos >= from || journal.PartitionOf(e.pos) != part {
				kept = append(kept, e)
			}
		}
		ix.size -= len(b) - len(kept)
		if len(kept) == 0 {
			delete(ix.buckets, k)
			continue
		}
		ix.buckets[k] = slices.Clip(kept)
		keys = append(keys, k)
	}
	ix.keys = keys
}

// follow indexes the journal from its start and then every new event,
// until ctx ends or the connection closes.
func (ix *Index) follow(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, streamName string) {
	ix.followPart(ctx, js, nc, streamName, 0, journal.OrgSubjects(""))
}

// followPart is follow for one partition of a journal: its stream and its
// subjects.
func (ix *Index) followPart(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, streamName string, part int, subjects []string) {
	caught := false
	if ix.behind.Load() == 0 {
		caught = true // one partition: caughtUp is closed directly
	}
	backoff := 100 * time.Millisecond
	lastPrune := time.Now()
	stopped := func() bool { return ctx.Err() != nil || nc.IsClosed() || nc.IsDraining() }
	for {
		if stopped() {
			return
		}
		err := ix.followOnce(ctx, js, streamName, part, subjects, &caught, &lastPrune)
		if stopped() {
			return
		}
		ix.log.Warn("query index: following the journal", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (ix *Index) followOnce(ctx context.Context, js jetstream.JetStream, streamName string, part int, subjects []string,
	caught *bool, lastPrune *time.Time) error {
	hw := ix.hwOf(part)
	scratch := &ix.actorScratch
	if ix.hwp != nil {
		scratch = new([]actorRef) // several followers
	}
	markCaughtUp := ix.markCaughtUp
	if !*caught {
		markCaughtUp = func() { ix.partCaughtUp(caught) }
	}
	cons, err := js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    hw.Load() + 1,
	})
	if err != nil {
		return err
	}
	if cons.CachedInfo().NumPending == 0 {
		markCaughtUp() // nothing to read (an empty journal)
	}
	// Bounded in bytes too: a message holds up to 100 events, so 2,000
	// messages could be 280 MB waiting in the client.
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(2000, followPullBytes))
	if err != nil {
		return err
	}
	defer it.Stop()
	// Next blocks until a message comes: stopping the iterator when ctx
	// ends is what lets Run return.
	defer context.AfterFunc(ctx, it.Stop)()
	var recs []event.Record
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		m := journal.Message{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data(), Seq: md.Sequence.Stream}
		recs, err = journal.Decode(m, recs[:0])
		if err != nil {
			// An unreadable message is skipped, not retried for ever.
			ix.log.Warn("query index: skipping a journal message", "seq", m.Seq, "err", err)
		}
		ix.addBatchWith(recs, scratch)
		clear(recs) // do not keep the message alive
		hw.Store(m.Seq)
		if md.NumPending == 0 {
			markCaughtUp()
		}
		if md.NumPending == 0 && time.Since(*lastPrune) > time.Minute {
			*lastPrune = time.Now()
			if s, err := js.Stream(ctx, streamName); err == nil {
				ix.prunePart(part, s.CachedInfo().State.FirstSeq)
			}
		}
	}
}

// waitFor blocks until the index holds every event of the messages up to
// sequence seq.
func (ix *Index) waitFor(ctx context.Context, seq uint64) error { return ix.waitForPart(ctx, 0, seq) }

// waitForPart is waitFor in journal partition part.
func (ix *Index) waitForPart(ctx context.Context, part int, seq uint64) error {
	hw := ix.hwOf(part)
	if hw.Load() >= seq {
		return nil
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for hw.Load() < seq {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// scan calls fn with the candidate entries of each bucket overlapping
// [lo, hi) in order (ascending, or descending when desc), each batch
// already restricted to [lo, hi), passing keep, and sorted by published
// (then position). fn returns false to stop.
func (ix *Index) scan(lo, hi int64, desc bool, keep keepFunc, fn func([]entry) bool) {
	if lo >= hi {
		return
	}
	first, last := bucketOf(lo), bucketOf(hi-1)
	cur := first
	if desc {
		cur = last
	}
	for {
		var batch []entry
		ix.mu.RLock()
		var i int
		var ok bool
		if desc {
			i, ok = slices.BinarySearch(ix.keys, cur)
			if !ok {
				i--
			}
			ok = i >= 0 && ix.keys[i] >= first
		} else {
			i, _ = slices.BinarySearch(ix.keys, cur)
			ok = i < len(ix.keys) && ix.keys[i] <= last
		}
		var k int64
		if ok {
			k = ix.keys[i]
			bk := ix.buckets[k]
			for i := range bk {
				// A pointer into the bucket: &e of a copy would escape
				// to the heap, one allocation per entry.
				if e := &bk[i]; e.pub >= lo && e.pub < hi && keep(e, ix.types, ix.actors) {
					batch = append(batch, *e)
				}
			}
		}
		ix.mu.RUnlock()
		if !ok {
			return
		}
		if len(batch) > 0 {
			slices.SortFunc(batch, func(a, b entry) int {
				if a.pub != b.pub {
					if desc == (a.pub > b.pub) {
						return -1
					}
					return 1
				}
				if desc == (a.pos > b.pos) {
					return -1
				}
				return 1
			})
			if !fn(batch) {
				return
			}
		}
		if desc {
			cur = k - 1
		} else {
			cur = k + 1
		}
	}
}

// keepFunc decides from the index alone whether an event may match. It is
// called with the index's read lock held and the interned type and actor
// tables, so it must not call back into the index.
type keepFunc func(e *entry, types []typeKey, actors []string) bool
