package query

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/auditstream/auditstream/internal/event"
)

// Reading one event by position reads its whole journal message: up to
// journal.MaxBatchEvents events, about 140 KB of Okta events. A bounded
// page reads its events in published order, which picks several from
// each message, and the next page picks more: msgCache keeps the last
// few decoded messages so a message is fetched and decoded once, not once
// per event. Concurrent reads of one message share one fetch.

// Bounds of the engine's message cache, whichever comes first.
const (
	// cacheMessages is how many decoded messages the cache keeps.
	cacheMessages = 32
	// cacheBytes bounds the messages' bytes (32 full batches of 1.4 KB
	// events are about 4.5 MB).
	cacheBytes = 8 << 20
)

// fetchFunc reads and decodes the journal message at seq. A message that
// is not there (aged out) is no error: it has no records.
type fetchFunc func(ctx context.Context, seq uint64) (recs []event.Record, size int, err error)

// msgCache is a small LRU of decoded journal messages. It is safe for
// concurrent use.
type msgCache struct {
	fetch    fetchFunc
	maxMsgs  int
	maxBytes int

	mu    sync.Mutex
	msgs  map[uint64]*cachedMsg
	order []uint64 // least recently used first
	bytes int
}

// cachedMsg is one message's records, set before done is closed.
type cachedMsg struct {
	done chan struct{}
	recs []event.Record
	size int
	err  error
}

func newMsgCache(fetch fetchFunc, maxMsgs, maxBytes int) *msgCache {
	return &msgCache{fetch: fetch, maxMsgs: maxMsgs, maxBytes: maxBytes, msgs: map[uint64]*cachedMsg{}}
}

// get returns the records of the message at seq, fetching it unless it is
// cached or being fetched. The records are shared: do not modify them.
func (c *msgCache) get(ctx context.Context, seq uint64) ([]event.Record, error) {
	for {
		c.mu.Lock()
		m, ok := c.msgs[seq]
		if ok {
			c.touch(seq)
			c.mu.Unlock()
			select {
			case <-m.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			// Another request's fetch may have ended with its context:
			// then fetch again with this one.
			if m.err != nil && ctx.Err() == nil && (errors.Is(m.err, context.Canceled) || errors.Is(m.err, context.DeadlineExceeded)) {
				continue
			}
			return m.recs, m.err
		}
		m = &cachedMsg{done: make(chan struct{})}
		c.msgs[seq] = m
		c.order = append(c.order, seq)
		c.mu.Unlock()

		m.recs, m.size, m.err = c.fetch(ctx, seq)
		c.mu.Lock()
		// Closed under the lock: a waiter that retries after an error
		// finds the entry gone.
		close(m.done)
		if m.err != nil {
			c.remove(seq, m)
		} else {
			c.bytes += m.size
			c.evict(seq)
		}
		c.mu.Unlock()
		return m.recs, m.err
	}
}

// touch makes seq the most recently used. The caller holds c.mu.
func (c *msgCache) touch(seq uint64) {
	if i := slices.Index(c.order, seq); i >= 0 {
		c.order = append(slices.Delete(c.order, i, i+1), seq)
	}
}

// remove drops seq if it still holds m. The caller holds c.mu.
func (c *msgCache) remove(seq uint64, m *cachedMsg) {
	if c.msgs[seq] != m {
		return
	}
	delete(c.msgs, seq)
	if i := slices.Index(c.order, seq); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
	select {
	case <-m.done:
		if m.err == nil {
			c.bytes -= m.size
		}
	default:
	}
}

// evict drops the least recently used fetched messages while the cache is
// over its bounds, never keep (the one just fetched). The caller holds
// c.mu.
func (c *msgCache) evict(keep uint64) {
	for i := 0; i < len(c.order) && (len(c.msgs) > c.maxMsgs || c.bytes > c.maxBytes); {
		seq := c.order[i]
		m := c.msgs[seq]
		fetched := false
		select {
		case <-m.done:
			fetched = true
		default:
		}
		if seq == keep || !fetched {
			i++
			continue
		}
		c.remove(seq, m)
	}
}
