package query

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/jsonlex"
)

// The index answers "which journal positions hold events published in this
// time range, of these event types, by or about these users" without
// reading the journal. It lives in memory and is rebuilt from the journal
// when the process starts (one pass over the stream), then follows new
// events. It holds 24 bytes per event (an entry: position, published, type
// and "who" ids), about 28 with the slack of its slices: 10 million events
// cost about 280 MB. The people of an event (actor.alternateId, actor.id
// and every target.id) are interned together as one "who" tuple, so
// indexing actor.id and the targets costs nothing per event, only per
// distinct combination (an actor acting on a target), see who. An event's position (journal.Position: its message's
// sequence and its index in the message) fits the 8 bytes a message
// sequence took before record batches.
//
// Events are kept in one-minute buckets of published time. Within a bucket
// entries are in arrival order; a query sorts the few it needs. Bucket keys
// are kept sorted so a long time range costs a binary search, not a walk
// over every minute in it.

// bucketWidth is the published-time span of one bucket, in nanoseconds.
const bucketWidth = int64(time.Minute)

// Special string ids: actorAbsent when the event has no such field (no
// actor.alternateId, no actor.id), actorOther when it is not one plain
// string (the index cannot answer for such events, so they are always
// read).
const (
	actorAbsent uint32 = 0
	actorOther  uint32 = 1
)

// Special who ids: whoNobody for an event with no actor and no target,
// whoUnknown when the index knows nothing of the event's people.
const (
	whoNobody  uint32 = 0
	whoUnknown uint32 = 1
)

// maxTargets is the most target ids the index keeps for one event; an
// event with more is always read by queries on target.id.
const maxTargets = 16

// who is the people of an event as the index knows them, interned once per
// distinct combination: its actor's alternateId and id, and the id of
// each of its targets (string ids into people.strs, or actorAbsent /
// actorOther). targetsOther is set when a target id is not a plain string
// or there are more than maxTargets: the index cannot answer target.id
// for such events.
type who struct {
	alt, id      uint32
	targets      []uint32
	targetsOther bool
}

// people are the interned strings and who tuples, as the planner reads
// them.
type people struct {
	strs []string
	whos []who
}

// entry is one event in the index.
type entry struct {
	pos uint64 // the event's journal position (journal.Position)
	pub int64  // published, unix nanoseconds
	typ uint32
	who uint32 // index into people.whos
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
	people  people
	strID   map[string]uint32
	whoID   map[string]uint32 // key: whoKey
	size    int

	hw atomic.Uint64 // highest journal message sequence indexed (whole)
	// hwp are the high waters of partitions 1… of a partitioned journal
	// (hw is partition 0's; see setPartitions).
	hwp []atomic.Uint64
	// nudge is partition 0's nudge, nudgep those of partitions 1… (see
	// nudgeOf).
	nudge  nudge
	nudgep []nudge
	// quiet and lagBytes are the follower's journal.TailConfig (0: the
	// defaults; tests set others).
	quiet    time.Duration
	lagBytes int
	// caughtUp is closed once the follower has read every message the
	// journal held when it started (caughtUpOnce closes it); with several
	// partitions, once each partition's follower has (behind counts those
	// that have not).
	caughtUp     chan struct{}
	caughtUpOnce sync.Once
	behind       atomic.Int32
	log          *slog.Logger
	// scratch holds the people of each event of the batch being added and
	// their targets' raw ids (used by the follower only, one batch at a
	// time; each follower of a partitioned journal has its own);
	// keyScratch a who key being built (under mu).
	scratch    batchScratch
	keyScratch []byte
}

// nudge is how a query asks a partition's follower to read up to the
// head now: want is the highest sequence a query waits for, wake tells the
// follower (buffered, one pending signal).
type nudge struct {
	want atomic.Uint64
	wake chan struct{}
}

// batchScratch is one follower's scratch for addBatchWith.
type batchScratch struct {
	whos    []whoRef
	targets [][]byte
}

// whoRef is an event's people as found in its JSON before interning.
type whoRef struct {
	alt, id      actorRef
	tFrom, tTo   int // the event's target ids in its batchScratch.targets
	targetsOther bool
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
		buckets: map[int64][]entry{},
		typeIDs: map[typeKey]uint32{},
		people: people{strs: []string{"", ""}, whos: []who{
			whoNobody:  {alt: actorAbsent, id: actorAbsent},
			whoUnknown: {alt: actorOther, id: actorOther, targetsOther: true},
		}},
		strID:    map[string]uint32{},
		whoID:    map[string]uint32{},
		log:      log,
		caughtUp: make(chan struct{}),
		nudge:    nudge{wake: make(chan struct{}, 1)},
	}
}

// markCaughtUp records that the index has read the journal as it was
// when the follower started.
func (ix *Index) markCaughtUp() { ix.caughtUpOnce.Do(func() { close(ix.caughtUp) }) }

// setPartitions prepares the index for a journal of n partitions (before
// it follows them).
func (ix *Index) setPartitions(n int) {
	ix.hwp = make([]atomic.Uint64, n-1)
	ix.nudgep = make([]nudge, n-1)
	for i := range ix.nudgep {
		ix.nudgep[i].wake = make(chan struct{}, 1)
	}
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

// nudgeOf is partition part's nudge.
func (ix *Index) nudgeOf(part int) *nudge {
	if part == 0 {
		return &ix.nudge
	}
	return &ix.nudgep[part-1]
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

// The paths of the indexed people.
var (
	actorPath    = []string{"actor", "alternateId"}
	actorIDPath  = []string{"actor", "id"}
	targetIDPath = []string{"target", "id"}
)

// actorOf finds an event's actor.alternateId in its JSON without
// allocating: the raw string when there is exactly one plain string.
func actorOf(data []byte) actorRef { return stringAt(data, actorPath) }

// stringAt finds the value at path in an event's JSON without allocating:
// the raw string when there is exactly one plain string.
func stringAt(data []byte, path []string) actorRef {
	var ref actorRef
	n := 0
	lookup(data, path, func(v rawValue) {
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

// whoOf finds an event's people, appending the raw target ids to
// targets: in the actor and target values the record's spans point at
// (event.Spans, recorded by the ingest parser and carried by the
// journal) when they are known, else by walking its JSON (whoOfJSON),
// with the same result.
func whoOf(rec *event.Record, targets [][]byte) (whoRef, [][]byte) {
	actor, target, ok := rec.Spans.Of(rec.Data)
	if !ok {
		return whoOfJSON(rec.Data, targets)
	}
	ref := whoRef{alt: actorRef{id: actorAbsent}, id: actorRef{id: actorAbsent}, tFrom: len(targets)}
	if actor != nil {
		ref.alt, ref.id = stringAt(actor, actorPath[1:]), stringAt(actor, actorIDPath[1:])
	}
	if target != nil {
		targets = appendTargets(target, targetIDPath[1:], &ref, targets)
	}
	ref.tTo = len(targets)
	return ref, targets
}

// whoOfJSON is whoOf without spans: it finds an event's people in its
// JSON. One pass over the event's members: the actor's and the targets'
// values are then searched as lookup would.
func whoOfJSON(data []byte, targets [][]byte) (whoRef, [][]byte) {
	ref := whoRef{alt: actorRef{id: actorAbsent}, id: actorRef{id: actorAbsent}, tFrom: len(targets)}
	i := jsonlex.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		// Not an object: the paths' own walk (an array fans out).
		ref.alt, ref.id = stringAt(data, actorPath), stringAt(data, actorIDPath)
		targets = appendTargets(data, targetIDPath, &ref, targets)
		ref.tTo = len(targets)
		return ref, targets
	}
	var actorDone, targetDone bool
	eachMember(data, i, func(key []byte, vs, ve int) bool {
		switch {
		case !actorDone && keyEquals(key, "actor"):
			actorDone = true
			v := data[vs:ve]
			ref.alt, ref.id = stringAt(v, actorPath[1:]), stringAt(v, actorIDPath[1:])
		case !targetDone && keyEquals(key, "target"):
			targetDone = true
			targets = appendTargets(data[vs:ve], targetIDPath[1:], &ref, targets)
		}
		return !actorDone || !targetDone
	})
	ref.tTo = len(targets)
	return ref, targets
}

// appendTargets appends the raw target ids at path in b to targets,
// marking ref.targetsOther for one that is not a plain string or past
// maxTargets.
func appendTargets(b []byte, path []string, ref *whoRef, targets [][]byte) [][]byte {
	lookup(b, path, func(v rawValue) {
		if v.kind != kindString || len(v.raw) <= 2 || len(targets)-ref.tFrom >= maxTargets {
			ref.targetsOther = true
			return
		}
		targets = append(targets, v.raw)
	})
	return targets
}

// internActor returns the id of a raw string (with its quotes), adding it
// when new. The caller holds ix.mu.
func (ix *Index) internActor(raw []byte) uint32 {
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		if id, ok := ix.strID[string(in)]; ok { // no allocation
			return id
		}
	}
	alt := unquote(raw)
	if alt == "" {
		return actorOther
	}
	id, ok := ix.strID[alt]
	if !ok {
		id = uint32(len(ix.people.strs))
		ix.people.strs = append(ix.people.strs, alt)
		ix.strID[alt] = id
	}
	return id
}

// stringID is the id of one person field of an event.
func (ix *Index) stringID(ref actorRef) uint32 {
	if ref.raw != nil {
		return ix.internActor(ref.raw)
	}
	return ref.id
}

// internWho returns the who id of an event's people, adding the tuple
// when new. The caller holds ix.mu.
func (ix *Index) internWho(ref *whoRef, targets [][]byte) uint32 {
	alt, id := ix.stringID(ref.alt), ix.stringID(ref.id)
	n := ref.tTo - ref.tFrom
	if ref.targetsOther {
		n = 0
	}
	if alt == actorAbsent && id == actorAbsent && n == 0 && !ref.targetsOther {
		return whoNobody
	}
	key := ix.keyScratch[:0]
	key = binary.LittleEndian.AppendUint32(key, alt)
	key = binary.LittleEndian.AppendUint32(key, id)
	if ref.targetsOther {
		key = append(key, 0xff)
	}
	for _, raw := range targets[ref.tFrom : ref.tFrom+n] {
		key = binary.LittleEndian.AppendUint32(key, ix.internActor(raw))
	}
	ix.keyScratch = key
	if w, ok := ix.whoID[string(key)]; ok { // no allocation
		return w
	}
	w := who{alt: alt, id: id, targetsOther: ref.targetsOther}
	if n > 0 {
		w.targets = make([]uint32, n)
		for i := range n {
			w.targets[i] = binary.LittleEndian.Uint32(key[8+4*i:])
		}
	}
	wid := uint32(len(ix.people.whos))
	ix.people.whos = append(ix.people.whos, w)
	ix.whoID[string(key)] = wid
	return wid
}

// addBatch indexes the events of one journal message (as journal.Decode
// returns them, with their positions). The events' JSON is read for the
// actor and targets only, before the index's lock is taken.
func (ix *Index) addBatch(recs []event.Record) { ix.addBatchWith(recs, &ix.scratch) }

// addBatchWith is addBatch with the caller's scratch: one per follower, as
// the followers of a partitioned journal's partitions add batches at the
// same time.
func (ix *Index) addBatchWith(recs []event.Record, scratch *batchScratch) {
	whos, targets := scratch.whos[:0], scratch.targets[:0]
	for i := range recs {
		var ref whoRef
		ref, targets = whoOf(&recs[i], targets)
		whos = append(whos, ref)
	}
	scratch.whos, scratch.targets = whos, targets
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var tk typeKey
	typ := uint32(0)
	for i := range recs {
		r := &recs[i]
		w := ix.internWho(&whos[i], targets)
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
		ix.buckets[k] = append(b, entry{pos: r.Seq, pub: pub, typ: typ, who: w})
		ix.size++
	}
	for i := range whos {
		whos[i] = whoRef{} // do not keep the message alive
	}
	clear(targets)
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
// until ctx ends or the connection closes; it reads through fo (nil: a
// reader of its own).
func (ix *Index) follow(ctx context.Context, j *journal.Journal, fo *journal.Fanout) {
	ix.followPart(ctx, j, fo, 0)
}

// followPart is follow for one partition of a journal.
func (ix *Index) followPart(ctx context.Context, j *journal.Journal, fo *journal.Fanout, part int) {
	if fo == nil {
		// Never run: every subscriber reads on its own Tail.
		fo = journal.NewFanout(j, journal.FanoutConfig{Tail: journal.TailConfig{LagBytes: ix.lagBytes, Quiet: ix.quiet}, Log: ix.log})
	}
	caught := false
	if ix.behind.Load() == 0 {
		caught = true // one partition: caughtUp is closed directly
	}
	backoff := 100 * time.Millisecond
	lastPrune := time.Now()
	nc := j.Conn()
	stopped := func() bool { return ctx.Err() != nil || nc.IsClosed() || nc.IsDraining() }
	for {
		if stopped() {
			return
		}
		err := ix.followOnce(ctx, j, fo, part, &caught, &lastPrune)
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

func (ix *Index) followOnce(ctx context.Context, j *journal.Journal, fo *journal.Fanout, part int,
	caught *bool, lastPrune *time.Time) error {
	hw, nd := ix.hwOf(part), ix.nudgeOf(part)
	scratch := &ix.scratch
	if ix.hwp != nil {
		scratch = new(batchScratch) // several followers
	}
	markCaughtUp := ix.markCaughtUp
	if !*caught {
		markCaughtUp = func() { ix.partCaughtUp(caught) }
	}
	// The partition's messages after the high-water mark, through the
	// followers' shared reader (journal.Fanout) or, behind it, a Tail of
	// its own, which stays behind a moving head (journal.TailLagBytes: the
	// store's memory) until a query waits (waitForPart). A gap ends this
	// pass and the next one starts again after the high-water mark.
	sub, err := fo.Subscribe(ctx, part, hw.Load(), journal.SubConfig{Wanted: nd.want.Load, Wake: nd.wake})
	if err != nil {
		return err
	}
	defer sub.Close(ctx)
	if sub.Pending() == 0 {
		markCaughtUp() // nothing to read (an empty journal)
	}
	var recs []event.Record
	index := func(m journal.Message, pending uint64) error {
		var err error
		recs, err = journal.Decode(m, recs[:0])
		if err != nil {
			// An unreadable message is skipped, not retried for ever.
			ix.log.Warn("query index: skipping a journal message", "seq", m.Seq, "err", err)
		}
		ix.addBatchWith(recs, scratch)
		clear(recs) // do not keep the message alive
		hw.Store(m.Seq)
		if pending == 0 {
			markCaughtUp()
		}
		return nil
	}
	stream := j.Partitions()[part].Stream()
	for {
		if err := sub.Read(ctx, index); err != nil {
			return err
		}
		if sub.Pending() == 0 && time.Since(*lastPrune) > time.Minute {
			*lastPrune = time.Now()
			if s, err := j.JetStream().Stream(ctx, stream); err == nil {
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
	// Ask the follower to read up to the head now (it lags while the
	// head moves).
	nd := ix.nudgeOf(part)
	for {
		w := nd.want.Load()
		if w >= seq || nd.want.CompareAndSwap(w, seq) {
			break
		}
	}
	select {
	case nd.wake <- struct{}{}:
	default:
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
				if e := &bk[i]; e.pub >= lo && e.pub < hi && keep(e, ix.types, &ix.people) {
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
// called with the index's read lock held and the interned type and people
// tables, so it must not call back into the index.
type keepFunc func(e *entry, types []typeKey, pp *people) bool

// peopleBytes estimates the memory of the interned people: the strings,
// the who tuples and both maps (a Go map entry costs about its key and
// value plus 8 bytes of control, in groups kept at most 7/8 full).
func (ix *Index) peopleBytes() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	const strHeader, mapSlack = 16, 8.0 / 7
	n := 0
	for _, s := range ix.people.strs {
		// The string in the table and the same bytes as the map's key.
		n += len(s) + 2*strHeader + int(float64(strHeader+4+8)*mapSlack)
	}
	for _, w := range ix.people.whos {
		n += int(unsafe.Sizeof(w)) + 4*cap(w.targets)
		key := 8 + 4*len(w.targets)
		n += key + int(float64(strHeader+4+8)*mapSlack)
	}
	return n
}
