package kvstore_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/secret"
)

// TestLoadKeySealedAtRest: an install's signing key (query cursors,
// receiver tokens) is sealed like the definitions when an operator key is
// configured; one stored in clear earlier is sealed in place; a sealed key
// without its operator key refuses to load; ResealKey moves it to the
// current key.
func TestLoadKeySealedAtRest(t *testing.T) {
	e := newSealEnv(t)
	// Before any operator key: stored in clear.
	clearKey, err := kvstore.LoadKey(t.Context(), e.kv, "signing", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.raw(t, "signing"); !bytes.Equal(got, clearKey) || len(clearKey) != kvstore.KeySize {
		t.Fatalf("without a key: got %d stored bytes, want the %d-byte key in clear", len(got), kvstore.KeySize)
	}

	k1 := keyring(t, keyLine("k1", 1))
	key, err := kvstore.LoadKey(t.Context(), e.kv, "signing", k1)
	if err != nil || !bytes.Equal(key, clearKey) {
		t.Fatalf("with k1: got %x, %v; want the same key", key, err)
	}
	stored := e.raw(t, "signing")
	if id, ok := secret.SealedKeyID(stored); !ok || id != "k1" || bytes.Contains(stored, clearKey) {
		t.Fatalf("stored: got %q, want it sealed with k1 and the key absent", stored)
	}

	// Loading a sealed key again leaves the record alone (no rewrite per start).
	before, err := e.kv.Get(t.Context(), "signing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kvstore.LoadKey(t.Context(), e.kv, "signing", k1); err != nil {
		t.Fatal(err)
	}
	if after, _ := e.kv.Get(t.Context(), "signing"); after.Revision() != before.Revision() {
		t.Fatalf("loading a sealed key: revision %d → %d, want it unchanged", before.Revision(), after.Revision())
	}

	var none *secret.Keyring
	if _, err := kvstore.LoadKey(t.Context(), e.kv, "signing", none); !errors.Is(err, secret.ErrNoKey) || !strings.Contains(err.Error(), "k1") {
		t.Fatalf("sealed, no key: got %v, want ErrNoKey naming k1", err)
	}

	both := keyring(t, keyLine("k2", 2), keyLine("k1", 1))
	if err := kvstore.ResealKey(t.Context(), e.kv, "signing", both); err != nil {
		t.Fatal(err)
	}
	if id, _ := secret.SealedKeyID(e.raw(t, "signing")); id != "k2" {
		t.Fatalf("after ResealKey: sealed with %q, want k2", id)
	}
	k2 := keyring(t, keyLine("k2", 2))
	if key, err := kvstore.LoadKey(t.Context(), e.kv, "signing", k2); err != nil || !bytes.Equal(key, clearKey) {
		t.Fatalf("with k2 only: got %x, %v; want the same key", key, err)
	}

	// A new key is sealed from the start.
	fresh, err := kvstore.LoadKey(t.Context(), e.kv, "fresh", k2)
	if err != nil {
		t.Fatal(err)
	}
	if raw := e.raw(t, "fresh"); !secret.IsSealed(raw) || bytes.Contains(raw, fresh) {
		t.Fatalf("fresh key stored as %q, want it sealed", raw)
	}
}

// TestLoadKeyRace: nodes that start together all end up with the key
// stored first, sealed or not; another name gets a key of its own.
func TestLoadKeyRace(t *testing.T) {
	e := newSealEnv(t)
	k1 := keyring(t, keyLine("k1", 1))
	const nodes = 8
	keys := make([][]byte, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { keys[i], errs[i] = kvstore.LoadKey(t.Context(), e.kv, "a", k1) })
	}
	wg.Wait()
	for i := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		if len(keys[i]) != kvstore.KeySize || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("node %d: got key %x, want the %d bytes %x every node has", i, keys[i], kvstore.KeySize, keys[0])
		}
	}
	other, err := kvstore.LoadKey(t.Context(), e.kv, "b", k1)
	if err != nil || len(other) != kvstore.KeySize || bytes.Equal(other, keys[0]) {
		t.Fatalf("other name: got %x (%v), want a key of its own", other, err)
	}
}
