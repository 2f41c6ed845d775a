package correlate

import (
	"bytes"
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// entry is one input kept in a group: 56 bytes plus the value_count string.
type entry struct {
	t   int64    // event time, Unix ns
	id  [16]byte // the uuid's bytes, or a SHA-256 prefix of an id that is not a canonical uuid
	raw string   // the id as given when it is not a canonical lower-case uuid
	str string   // value_count's value
	num float64  // numeric value of the value_* types
	ref uint16   // temporal types: index of the referenced rule in Rule.Rules; else 0
}

func (en *entry) uuid() string {
	if en.raw != "" {
		return en.raw
	}
	return uuid.UUID(en.id).String()
}

// cmpEntry orders entries by event time, then id: the order of windows and of
// Detection.Events, independent of arrival order.
func cmpEntry(a, b entry) int {
	if a.t != b.t {
		if a.t < b.t {
			return -1
		}
		return 1
	}
	if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
		return c
	}
	return int(a.ref) - int(b.ref)
}

func insertSorted(s []entry, en entry) []entry {
	if len(s) == 0 || cmpEntry(s[len(s)-1], en) < 0 {
		return append(s, en) // in order: the common case
	}
	i, _ := slices.BinarySearchFunc(s, en, cmpEntry)
	return slices.Insert(s, i, en)
}

// lowerBound returns the index of the first entry at or after t.
func lowerBound(s []entry, t int64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m].t < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// upperBound returns the index of the first entry after t.
func upperBound(s []entry, t int64) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s[m].t <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// group is the state of one (org, rule, group-by values).
type group struct {
	rule *crule
	org  *orgState
	key  string
	vals []GroupField
	// live are the entries that can still be in a window, sorted by cmpEntry; gone are
	// entries consumed by a firing or evicted, kept only to recognise redeliveries
	// until they fall behind the watermark.
	live, gone []entry
	// suppUntil: firings before it are suppressed; openID is the detection that opened
	// the suppression, suppressed the firings suppressed since.
	suppUntil  int64
	openID     string
	suppressed int
	// suppLast is the newest event of the last suppressed firing (for the
	// suppression summary).
	suppLast   string
	prev, next *group // LRU list of the rule
	seq        uint64 // creation order: ties between timers
	timerAt    int64  // earliest pending timer, MaxInt64 for none
	dead       bool
	dc         *distinct // value_count rules that fire eagerly
	lbuf, gbuf []entry   // the arrays live and gone slide through (see reserve)
}

func (g *group) seen(t int64, id [16]byte, ref uint16) bool {
	if (len(g.live) == 0 || g.live[len(g.live)-1].t < t) && (len(g.gone) == 0 || g.gone[len(g.gone)-1].t < t) {
		return false // newer than everything held: the common case
	}
	probe := entry{t: t, id: id, ref: ref}
	if _, ok := slices.BinarySearchFunc(g.live, probe, cmpEntry); ok {
		return true
	}
	_, ok := slices.BinarySearchFunc(g.gone, probe, cmpEntry)
	return ok
}

func (g *group) index(en entry) int {
	if n := len(g.live); n > 0 && g.live[n-1].t == en.t && g.live[n-1].id == en.id && g.live[n-1].ref == en.ref {
		return n - 1
	}
	i, ok := slices.BinarySearchFunc(g.live, en, cmpEntry)
	if !ok {
		return -1
	}
	return i
}

func (g *group) touch() {
	r := &g.rule.lru
	if r.next == g {
		return
	}
	g.prev.next, g.next.prev = g.next, g.prev
	g.prev, g.next = r, r.next
	g.prev.next, g.next.prev = g, g
}

// prune drops what can no longer matter at watermark wm: live entries of eager rules
// older than every window a future input can be in, and gone entries whose redelivery
// would be too late anyway. Close-mode windows are decided by closeWindows only.
func (g *group) prune(wm int64) {
	if g.rule.eager && len(g.live) > 0 && g.live[0].t < wm-g.rule.span {
		g.removeLive(lowerBound(g.live, wm-g.rule.span), false)
	}
	if len(g.gone) > 0 && g.gone[0].t < wm {
		g.removeGone(lowerBound(g.gone, wm))
	}
}

// insertLive adds an entry to live, keeping the distinct counts.
func (g *group) insertLive(en entry) {
	g.live = insertSorted(reserve(&g.lbuf, g.live, 1), en)
	if g.dc != nil && en.t >= g.dc.from {
		g.dc.add(en.str)
	}
}

// removeLive drops live[:n], moving the entries to gone when keep (for
// de-duplication). The slice is resliced, not copied: removing from the front of a
// window that slides costs nothing; append reallocates when the capacity runs out.
func (g *group) removeLive(n int, keep bool) {
	if n == 0 {
		return
	}
	if g.dc != nil {
		for i := range n {
			if g.live[i].t >= g.dc.from {
				g.dc.remove(g.live[i].str)
			}
		}
	}
	if keep {
		g.gone = appendGone(reserve(&g.gbuf, g.gone, n), g.live[:n])
	}
	clear(g.live[:n]) // release the strings
	g.live = g.live[n:]
	if len(g.live) == 0 {
		g.live = g.lbuf[:0]
	}
}

func (g *group) removeGone(n int) {
	if n == 0 {
		return
	}
	clear(g.gone[:n])
	g.gone = g.gone[n:]
	if len(g.gone) == 0 {
		g.gone = g.gbuf[:0]
	}
}

// reserve makes room for n more entries in s, a window sliding through *buf: entries
// are removed from the front by reslicing, so when s reaches the end of its array it is
// moved back to the start of buf if that leaves at least half of buf free, and only
// otherwise moved to a new array twice its length. A sliding window thus costs no
// allocation once its buffer has grown to size.
func reserve(buf *[]entry, s []entry, n int) []entry {
	if len(s)+n <= cap(s) {
		return s
	}
	if len(s)+n <= cap(*buf)/2 {
		b := *buf
		copy(b, s)
		clear(b[len(s):])
		return b[:len(s)]
	}
	nb := make([]entry, len(s), 2*(len(s)+n))
	copy(nb, s)
	*buf = nb[:cap(nb)]
	return nb
}

// appendGone adds sorted entries to sorted gone.
func appendGone(gone, add []entry) []entry {
	if len(gone) == 0 || cmpEntry(gone[len(gone)-1], add[0]) < 0 {
		return append(gone, add...)
	}
	gone = append(gone, add...)
	slices.SortFunc(gone, cmpEntry)
	return gone
}

// distinct keeps value_count's distinct values incrementally: counts holds the values
// of the live entries at or after from. In time order, the window [t-T, t] is then
// counted by moving from forward instead of rescanning the window.
type distinct struct {
	from   int64
	counts map[string]int32
}

func (d *distinct) add(s string) { d.counts[s]++ }

func (d *distinct) remove(s string) {
	if c := d.counts[s]; c <= 1 {
		delete(d.counts, s)
	} else {
		d.counts[s] = c - 1
	}
}

// advance moves from to from and returns the distinct count of live entries at or
// after it.
func (d *distinct) advance(live []entry, from int64) float64 {
	switch {
	case from > d.from:
		for k := lowerBound(live, d.from); k < len(live) && live[k].t < from; k++ {
			d.remove(live[k].str)
		}
		d.from = from
	case from < d.from:
		// An arrival older than the windows counted so far that is still the
		// newest live entry (a firing consumed the newer ones): the entries in
		// [from, d.from) were never counted, so count again from from.
		clear(d.counts)
		for k := lowerBound(live, from); k < len(live); k++ {
			d.add(live[k].str)
		}
		d.from = from
	}
	return float64(len(d.counts))
}

// nextDue returns when the group next needs attention: the close of its first window
// (close mode), or when all of its state will have expired. ok is false when the group
// holds nothing and can be dropped.
func (g *group) nextDue(wm int64) (at int64, ok bool) {
	at, ok = g.stateDue(wm)
	if g.summaryPending() && g.suppUntil > wm && (!ok || g.suppUntil-1 < at) {
		// The suppression summary is due when the period ends.
		at, ok = g.suppUntil-1, true
	}
	return at, ok
}

// summaryPending reports whether the group owes a suppression summary.
func (g *group) summaryPending() bool { return g.rule.SuppressSummary && g.suppressed > 0 }

// stateDue is nextDue without the suppression summary.
func (g *group) stateDue(wm int64) (at int64, ok bool) {
	if !g.rule.eager && len(g.live) > 0 {
		return g.live[0].t + g.rule.span, true
	}
	at = math.MinInt64
	if g.suppUntil > wm {
		at, ok = g.suppUntil-1, true
	}
	if n := len(g.live); n > 0 {
		at, ok = max(at, g.live[n-1].t+g.rule.span), true
	}
	if n := len(g.gone); n > 0 {
		at, ok = max(at, g.gone[n-1].t), true
	}
	return at, ok
}

// orgState is the clock of one org: its newest event time (or Advance), and its timers.
type orgState struct {
	name   string
	max    int64
	seen   bool
	timers timerHeap
}

// wm is the watermark: inputs older than it are too late.
func (o *orgState) wm(lateness int64) int64 {
	if o.max < math.MinInt64+lateness {
		return math.MinInt64
	}
	return o.max - lateness
}

type timer struct {
	at int64
	g  *group
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].g.seq < h[j].g.seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = timer{}
	*h = old[:len(old)-1]
	return x
}

// schedule asks for the group to be visited once the watermark passes at, unless an
// earlier visit is pending. ok false: nothing to schedule.
func (e *Engine) schedule(g *group, at int64, ok bool) {
	if !ok || at >= g.timerAt {
		return
	}
	g.timerAt = at
	heap.Push(&g.org.timers, timer{at: at, g: g})
}

// runTimers visits the groups of o whose timers the watermark has passed, in timer
// order: close-mode windows are decided, expired state is dropped, empty groups are
// deleted.
func (e *Engine) runTimers(o *orgState) {
	wm := e.wm(o)
	for len(o.timers) > 0 && o.timers[0].at < wm {
		it := heap.Pop(&o.timers).(timer)
		g := it.g
		if g.dead || it.at != g.timerAt {
			continue
		}
		g.timerAt = math.MaxInt64
		if !g.rule.eager {
			e.closeWindows(g, wm)
		}
		if g.summaryPending() && g.suppUntil <= wm {
			e.summarize(g)
		}
		g.prune(wm)
		at, ok := g.nextDue(wm)
		if !ok {
			e.drop(g)
			continue
		}
		e.schedule(g, at, true)
	}
}

// parseID returns the 16 bytes identifying an event id: the uuid itself when id is a
// canonical lower-case uuid, else a SHA-256 prefix with the id kept as raw.
func parseID(id string) (b [16]byte, raw string) {
	if canonicalUUID(id) {
		if u, err := uuid.Parse(id); err == nil {
			return u, ""
		}
	}
	h := sha256.Sum256([]byte(id))
	copy(b[:], h[:16])
	return b, id
}

func canonicalUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// appendKey encodes (org, group-by values) unambiguously: length-prefixed strings, a
// null marker for absent values.
func appendKey(b []byte, org string, vals []Field) []byte {
	b = binary.AppendUvarint(b, uint64(len(org)))
	b = append(b, org...)
	for _, v := range vals {
		if !v.Present {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v.Value)))
		b = append(b, v.Value...)
	}
	return b
}

// namespace is the UUIDv5 namespace of detection ids (a fixed random UUID; changing it
// changes every detection id).
var namespace = uuid.UUID{0x4f, 0x1c, 0x2b, 0x7e, 0x93, 0x5a, 0x4d, 0x60, 0x8e, 0x21, 0x0b, 0xd5, 0x6a, 0x33, 0xc9, 0x17}

// detectionID is UUIDv5 over rule id, the group key (org and values), window start and
// the first contributing event: the same firing always gets the same id.
func detectionID(rule, key string, start int64, first string) string {
	b := make([]byte, 0, len(rule)+len(key)+len(first)+24)
	b = binary.AppendUvarint(b, uint64(len(rule)))
	b = append(b, rule...)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = strconv.AppendInt(b, start, 10)
	b = append(b, 0)
	b = append(b, first...)
	return uuid.NewSHA1(namespace, b).String()
}

func cloneString(s string) string { return strings.Clone(s) }
