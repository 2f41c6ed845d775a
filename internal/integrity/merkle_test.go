package integrity_test

import (
	"fmt"
	"testing"

	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
)

// TestMerkleProofs: every leaf of trees of 1 to 33 leaves proves its
// inclusion; a wrong leaf, index or root does not.
func TestMerkleProofs(t *testing.T) {
	var hs journal.Hasher
	for n := 1; n <= 33; n++ {
		leaves := make([]journal.Head, n)
		for i := range leaves {
			leaves[i] = hs.Leaf(fmt.Appendf(nil, `{"i":%d}`, i))
		}
		root := integrity.MerkleRoot(leaves)
		for m := range n {
			path := integrity.AuditPath(m, leaves)
			if !integrity.VerifyPath(m, n, leaves[m], path, root) {
				t.Fatalf("n=%d m=%d: got a path that does not verify", n, m)
			}
			if n > 1 && integrity.VerifyPath((m+1)%n, n, leaves[m], path, root) {
				t.Fatalf("n=%d m=%d: path verifies at another index", n, m)
			}
			if integrity.VerifyPath(m, n, hs.Leaf([]byte("x")), path, root) {
				t.Fatalf("n=%d m=%d: path verifies another leaf", n, m)
			}
		}
	}
	// RFC 6962's split: a tree of 3 is node(node(0,1), 2).
	l := []journal.Head{hs.Leaf([]byte("a")), hs.Leaf([]byte("b")), hs.Leaf([]byte("c"))}
	if got, want := integrity.MerkleRoot(l), integrity.MerkleRoot([]journal.Head{integrity.MerkleRoot(l[:2]), l[2]}); got != want {
		t.Errorf("tree of 3: got %v, want %v", got, want)
	}
}
