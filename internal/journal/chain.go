package journal

import (
	"crypto/sha256"
	"encoding/hex"
)

// The hash chain of issue 16 (docs/integrity.md). Each org's events form
// one chain in journal order:
//
//	leaf_i = SHA-256(0x00 || the event's stored JSON)
//	head_i = SHA-256(0x01 || head_{i-1} || leaf_i)
//
// and every chained record batch stores its org's head before its first
// event (ChainedBatch), so a reader that has an org's events in position
// order recomputes the chain without knowing batch boundaries, and checks
// each batch's stored head against its own. The chain of an org starts at
// its first chained batch, whose stored head is the zero Head: events
// written by releases before the chain stay readable but are outside it.

// Head is a chain head or a leaf hash.
type Head [32]byte

// IsZero reports the zero head, where an org's chain starts.
func (h Head) IsZero() bool { return h == Head{} }

// String is the head in hex.
func (h Head) String() string { return hex.EncodeToString(h[:]) }

// Hasher computes leaves and heads reusing one buffer (no allocation per
// event); it is not safe for concurrent use. The zero value is ready.
type Hasher struct {
	buf  []byte
	node [1 + 2*sha256.Size]byte
}

// Leaf is the leaf hash of an event's stored JSON.
func (c *Hasher) Leaf(data []byte) Head {
	c.buf = append(append(c.buf[:0], 0), data...)
	return sha256.Sum256(c.buf)
}

// Next is the head after prev and the event with leaf.
func (c *Hasher) Next(prev, leaf Head) Head {
	c.node[0] = 1
	copy(c.node[1:], prev[:])
	copy(c.node[1+sha256.Size:], leaf[:])
	return sha256.Sum256(c.node[:])
}

// Append is the head after prev and the events with these JSONs.
func (c *Hasher) Append(prev Head, data ...[]byte) Head {
	for _, d := range data {
		prev = c.Next(prev, c.Leaf(d))
	}
	return prev
}

// ChainedBatch reports whether a journal message is a chained record
// batch and, if so, its org's head before its first event.
func ChainedBatch(data []byte) (prev Head, chained bool) {
	if !isBatch(data) || data[3]&flagChained == 0 {
		return Head{}, false
	}
	_, p, ok := readStr(data, 4)
	if !ok || len(data) < p+len(prev) {
		return Head{}, false
	}
	copy(prev[:], data[p:])
	return prev, true
}
