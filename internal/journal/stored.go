package journal

import (
	"sync"
	"sync/atomic"
)

// What this process stored (docs/journal.md, "The feed takes what this
// process stored"): a partition's writer hands each record batch the
// server acknowledged to the partition's watchers (the Fanout's feed), in
// stream order, with its sequence. A feed that sees every message after
// the one it read last need not read them back from the server: on one
// node (every write through this process) the followers read nothing from
// nats-server at all. A watcher never holds the writer up: one that is
// full misses messages, which it notices as a gap in the sequences and
// reads from the server.

// storedWatchLen bounds the batches a watch holds, whatever their size
// (the watch's bytes bound it first for batches of more than 32 KB).
const storedWatchLen = 1024

// storedWatch is one watcher of what a partition's writer stored: the
// batches, in stream order, up to a number of bytes.
type storedWatch struct {
	ch chan Message
	// max bounds bytes, the Data of the batches sent and not yet taken.
	max   int64
	bytes atomic.Int64
}

// take notes that the watcher received m from ch.
func (w *storedWatch) take(m Message) { w.bytes.Add(-int64(len(m.Data))) }

// offer sends m when the watch has room for it; a full watch misses it.
func (w *storedWatch) offer(m Message) {
	n := int64(len(m.Data))
	if w.bytes.Add(n) > w.max {
		w.bytes.Add(-n)
		return
	}
	select {
	case w.ch <- m:
	default:
		w.bytes.Add(-n)
	}
}

// storedWatchers are a partition's watchers of what its writer stored.
type storedWatchers struct {
	mu   sync.Mutex
	ws   []*storedWatch
	some atomic.Bool // len(ws) > 0, read by the writer without mu
}

// watchStored returns a watch whose channel receives every batch message
// this process's writer stores in p from now on (Subject, Data, Seq; no
// header), in stream order, as long as the watch holds less than maxBytes
// of them, and a function that ends the watch. The receiver calls take
// with each message it receives. The messages' Data is the receiver's
// (never reused).
func (p *Partition) watchStored(maxBytes int) (*storedWatch, func()) {
	sw := &storedWatch{ch: make(chan Message, storedWatchLen), max: int64(maxBytes)}
	w := &p.watchers
	w.mu.Lock()
	w.ws = append(w.ws, sw)
	w.some.Store(true)
	w.mu.Unlock()
	return sw, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i, c := range w.ws {
			if c == sw {
				w.ws = append(w.ws[:i:i], w.ws[i+1:]...)
				break
			}
		}
		w.some.Store(len(w.ws) > 0)
	}
}

// watched reports whether anything watches p's stored messages (the writer
// then hands its buffers over instead of reusing them).
func (p *Partition) watched() bool { return p.watchers.some.Load() }

// stored hands m, just acknowledged at m.Seq, to every watcher with room.
func (p *Partition) stored(m Message) {
	w := &p.watchers
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, sw := range w.ws {
		sw.offer(m) // a full watcher reads the gap from the server
	}
}
