package journal

import (
	"hash/maphash"
	"time"
)

// DefaultDuplicateWindowMaxIDs bounds the uuid window by count: about 40
// bytes per id, so 2 million ids are about 80 MB. At 2,000 events/s the
// ten-minute window holds 1.2 million; a flood reaches the count first.
const DefaultDuplicateWindowMaxIDs = 2_000_000

// dedupWindow remembers which (org, uuid) pairs the journal stored within
// the de-duplication window, bounded by age and by count. It keeps a
// 64-bit digest of each pair and the sequence of the message that holds the
// event: a digest hit is confirmed by reading that message (see
// writer.confirm), so a digest collision costs a read, never an event.
// It is owned by the writer goroutine (no locking).
type dedupWindow struct {
	seed   maphash.Seed
	window time.Duration
	maxIDs int
	seen   map[uint64]uint64 // digest → message sequence
	fifo   []dedupEntry      // in arrival order, from head
	head   int
}

type dedupEntry struct {
	key uint64
	seq uint64
	at  int64 // arrival, Unix seconds
}

func newDedupWindow(window time.Duration, maxIDs int) *dedupWindow {
	return &dedupWindow{seed: maphash.MakeSeed(), window: window, maxIDs: maxIDs, seen: make(map[uint64]uint64)}
}

// key is the digest of an org's uuid.
func (w *dedupWindow) key(org, uuid string) uint64 {
	var h maphash.Hash
	h.SetSeed(w.seed)
	h.WriteString(org)
	h.WriteByte('/')
	h.WriteString(uuid)
	return h.Sum64()
}

// lookup returns the message sequence remembered for key.
func (w *dedupWindow) lookup(key uint64) (uint64, bool) {
	seq, ok := w.seen[key]
	return seq, ok
}

// add remembers key as stored in message seq, arrived at at.
func (w *dedupWindow) add(key, seq uint64, at time.Time) {
	w.seen[key] = seq
	w.fifo = append(w.fifo, dedupEntry{key: key, seq: seq, at: at.Unix()})
	if w.maxIDs > 0 && len(w.fifo)-w.head > w.maxIDs {
		w.drop(1)
	}
}

// expire forgets what arrived before now less the window.
func (w *dedupWindow) expire(now time.Time) {
	horizon := now.Add(-w.window).Unix()
	n := 0
	for w.head+n < len(w.fifo) && w.fifo[w.head+n].at < horizon {
		n++
	}
	w.drop(n)
}

// drop forgets the n oldest entries.
func (w *dedupWindow) drop(n int) {
	for range n {
		e := w.fifo[w.head]
		if w.seen[e.key] == e.seq {
			delete(w.seen, e.key)
		}
		w.head++
	}
	if w.head > 4096 && w.head*2 > len(w.fifo) {
		w.fifo = append(w.fifo[:0], w.fifo[w.head:]...)
		w.head = 0
	}
}

// len is how many ids the window holds.
func (w *dedupWindow) len() int { return len(w.fifo) - w.head }
