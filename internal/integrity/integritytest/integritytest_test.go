package integritytest_test

import (
	"testing"

	"github.com/auditstream/auditstream/internal/integrity/integritytest"
)

func TestKeyringSignsWithANewKey(t *testing.T) {
	a, b := integritytest.Keyring(t), integritytest.Keyring(t)
	pa, pb := a.PublicKeys(), b.PublicKeys()
	if len(pa) != 1 || len(pb) != 1 {
		t.Fatalf("public keys: got %d and %d, want 1 each", len(pa), len(pb))
	}
	if pa[0].ID != "k1" || !pa[0].Current {
		t.Errorf("key: got %+v, want k1, current", pa[0])
	}
	if pa[0] == pb[0] {
		t.Errorf("two keyrings: got the same key %v, want a new key each", pa[0])
	}
}
