package query

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
)

// The index answers "which journal sequences hold events published in this
// time range, of these event types, by these actors" without reading the
// journal. It lives in memory and is rebuilt from the journal when the
// process starts (one pass over the stream), then follows new events. It
// holds 24 bytes per event: 10 million events cost about 240 MB.
//
// Events are kept in one-minute buckets of published time. Within a bucket
// entries are in arrival order; a query sorts the few it needs. Bucket keys
// are kept sorted so a long time range costs a binary search, not a walk
// over every minute in it.

// bucketWidth is the published-time span of one bucket, in nanoseconds.
const bucketWidth = int64(time.Minute)

// Special actor ids: actorAbsent when the event has no actor.alternateId,
// actorOther when it is not one plain string (the index cannot answer for
// such events, so they are always read).
const (
	actorAbsent uint32 = 0
	actorOther  uint32 = 1
)

// entry is one event in the index.
type entry struct {
	seq   uint64
	pub   int64 // published, unix nanoseconds
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

	hw  atomic.Uint64 // highest journal sequence indexed
	log *slog.Logger
}

func newIndex(log *slog.Logger) *Index {
	return &Index{
		buckets: map[int64][]entry{},
		typeIDs: map[typeKey]uint32{},
		actors:  []string{"", ""},
		actorID: map[string]uint32{},
		log:     log,
	}
}

// HighWater is the highest journal sequence in the index.
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

// add indexes one journal message.
func (ix *Index) add(seq uint64, org, eventType string, pub int64, data []byte) {
	actor := actorAbsent
	var alt string
	n := 0
	lookup(data, []string{"actor", "alternateId"}, func(v rawValue) {
		n++
		if v.kind == kindString {
			alt = v.text()
		} else if v.kind != kindNull {
			n++
		}
	})
	if n > 1 {
		actor = actorOther
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if n == 1 && alt != "" {
		id, ok := ix.actorID[alt]
		if !ok {
			id = uint32(len(ix.actors))
			ix.actors = append(ix.actors, alt)
			ix.actorID[alt] = id
		}
		actor = id
	} else if n == 1 {
		actor = actorOther
	}
	tk := typeKey{org, eventType}
	typ, ok := ix.typeIDs[tk]
	if !ok {
		typ = uint32(len(ix.types))
		ix.types = append(ix.types, tk)
		ix.typeIDs[tk] = typ
	}
	k := bucketOf(pub)
	b, ok := ix.buckets[k]
	if !ok {
		i, _ := slices.BinarySearch(ix.keys, k)
		ix.keys = slices.Insert(ix.keys, i, k)
	}
	ix.buckets[k] = append(b, entry{seq: seq, pub: pub, typ: typ, actor: actor})
	ix.size++
}

// prune drops entries below the journal's first sequence (aged out).
func (ix *Index) prune(first uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	keys := ix.keys[:0]
	for _, k := range ix.keys {
		b := ix.buckets[k]
		kept := b[:0]
		for _, e := range b {
			if e.seq >= first {
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
	backoff := 100 * time.Millisecond
	lastPrune := time.Now()
	stopped := func() bool { return ctx.Err() != nil || nc.IsClosed() || nc.IsDraining() }
	for {
		if stopped() {
			return
		}
		err := ix.followOnce(ctx, js, streamName, &lastPrune)
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

func (ix *Index) followOnce(ctx context.Context, js jetstream.JetStream, streamName string, lastPrune *time.Time) error {
	cons, err := js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"audit.>"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    ix.hw.Load() + 1,
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return err
	}
	defer it.Stop()
	// Next blocks until a message comes: stopping the iterator when ctx
	// ends is what lets Run return.
	defer context.AfterFunc(ctx, it.Stop)()
	for {
		msg, err := it.Next()
		if err != nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		h := msg.Headers()
		pub, _ := strconv.ParseInt(h.Get(journal.HeaderPublished), 10, 64)
		ix.add(md.Sequence.Stream, h.Get(journal.HeaderOrg), h.Get(journal.HeaderType), pub, msg.Data())
		ix.hw.Store(md.Sequence.Stream)
		if md.NumPending == 0 && time.Since(*lastPrune) > time.Minute {
			*lastPrune = time.Now()
			if s, err := js.Stream(ctx, streamName); err == nil {
				ix.prune(s.CachedInfo().State.FirstSeq)
			}
		}
	}
}

// waitFor blocks until the index holds every event up to seq.
func (ix *Index) waitFor(ctx context.Context, seq uint64) error {
	if ix.hw.Load() >= seq {
		return nil
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for ix.hw.Load() < seq {
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
// (then sequence). fn returns false to stop.
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
			for _, e := range ix.buckets[k] {
				if e.pub >= lo && e.pub < hi && keep(&e, ix.types, ix.actors) {
					batch = append(batch, e)
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
				if desc == (a.seq > b.seq) {
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
