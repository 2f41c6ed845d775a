package integrity

import (
	"crypto/sha256"
	"math/bits"

	"github.com/auditstream/auditstream/internal/journal"
)

// The Merkle tree of a digest's range is RFC 6962's (RFC 9162 §2.1) over
// the range's leaves: leaf hashes are journal.Hasher.Leaf (SHA-256 of 0x00
// and the event's JSON), an interior node is SHA-256(0x01 || left ||
// right), and a tree of n leaves splits at the largest power of two below
// n.

// node is an interior node's hash.
func node(l, r journal.Head) journal.Head {
	var b [1 + 2*sha256.Size]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[1+sha256.Size:], r[:])
	return sha256.Sum256(b[:])
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// MerkleRoot is the tree head of leaves (SHA-256 of nothing for none).
func MerkleRoot(leaves []journal.Head) journal.Head {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return node(MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:]))
}

// AuditPath is the inclusion proof of leaf m in the tree of leaves, from
// the leaf's sibling up (RFC 6962 §2.1.1).
func AuditPath(m int, leaves []journal.Head) []journal.Head {
	if len(leaves) <= 1 {
		return nil
	}
	k := split(len(leaves))
	if m < k {
		return append(AuditPath(m, leaves[:k]), MerkleRoot(leaves[k:]))
	}
	return append(AuditPath(m-k, leaves[k:]), MerkleRoot(leaves[:k]))
}

// VerifyPath checks that leaf is leaf index of a tree of size leaves with
// root (RFC 9162 §2.1.3.2).
func VerifyPath(index, size int, leaf journal.Head, path []journal.Head, root journal.Head) bool {
	if index < 0 || index >= size {
		return false
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range path {
		if sn == 0 {
			return false
		}
		if fn&1 == 1 || fn == sn {
			r = node(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = node(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	return sn == 0 && r == root
}
