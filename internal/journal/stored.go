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

// storedWatchLen is how many batches a watcher holds before it misses
// some (32 batches of 100 events of 1.4 KB: about 4.5 MB at most).
const storedWatchLen = 32

// storedWatchers are a partition's watchers of what its writer stored.
type storedWatchers struct {
	mu   sync.Mutex
	chs  []chan Message
	some atomic.Bool // len(chs) > 0, read by the writer without mu
}

// watchStored returns a channel that receives every batch message this
// process's writer stores in p from now on (Subject, Data, Seq; no
// header), in stream order, as long as it has room, and a function that
// ends the watch. The messages' Data is the receiver's (never reused).
func (p *Partition) watchStored() (<-chan Message, func()) {
	ch := make(chan Message, storedWatchLen)
	w := &p.watchers
	w.mu.Lock()
	w.chs = append(w.chs, ch)
	w.some.Store(true)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i, c := range w.chs {
			if c == ch {
				w.chs = append(w.chs[:i:i], w.chs[i+1:]...)
				break
			}
		}
		w.some.Store(len(w.chs) > 0)
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
	for _, ch := range w.chs {
		select {
		case ch <- m:
		default: // a full watcher reads the gap from the server
		}
	}
}
