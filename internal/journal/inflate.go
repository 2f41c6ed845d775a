package journal

import (
	"sync"

	"github.com/klauspost/compress/s2"
)

// DefaultInflateCacheBytes bounds the JSON the journal keeps of the
// compressed batches it decoded last for its readers (Journal.Decode):
// about 28 batches of 100 events of 1.4 KB.
const DefaultInflateCacheBytes = 4 << 20

// inflateCache keeps the decompressed JSON of the compressed record
// batches decoded last, so that readers of the same messages at about the
// same time (the log streams' runners, each on its own consumer)
// decompress each batch once between them instead of once each. The
// buffers it hands out are shared and never written again; the oldest
// leave first once the cache holds max bytes. A nil cache keeps nothing.
type inflateCache struct {
	mu    sync.Mutex
	max   int
	bytes int
	byMsg map[inflateKey][]byte
	fifo  []inflateKey
}

// inflateKey names a batch's JSON: the message (partition and sequence,
// MsgOf) and, against a stream recreated in the same process, the
// lengths of its block and of the JSON.
type inflateKey struct {
	msg           uint64
	stored, plain int
}

func newInflateCache(max int) *inflateCache {
	return &inflateCache{max: max, byMsg: map[inflateKey][]byte{}}
}

// inflate returns the n bytes block decodes to, from the cache when the
// message was decoded lately.
func (c *inflateCache) inflate(msg uint64, block []byte, n int) ([]byte, error) {
	k := inflateKey{msg: msg, stored: len(block), plain: n}
	if c != nil {
		c.mu.Lock()
		d, ok := c.byMsg[k]
		c.mu.Unlock()
		if ok {
			return d, nil
		}
	}
	d := make([]byte, n)
	if _, err := s2.Decode(d, block); err != nil {
		return nil, err
	}
	if c != nil && n <= c.max {
		c.add(k, d)
	}
	return d, nil
}

func (c *inflateCache) add(k inflateKey, d []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byMsg[k]; ok {
		return // another reader decoded it at the same time
	}
	for c.bytes+len(d) > c.max && len(c.fifo) > 0 {
		old := c.fifo[0]
		c.fifo = c.fifo[1:]
		c.bytes -= len(c.byMsg[old])
		delete(c.byMsg, old)
	}
	c.byMsg[k] = d
	c.fifo = append(c.fifo, k)
	c.bytes += len(d)
}
