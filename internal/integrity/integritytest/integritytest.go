// Package integritytest makes signing keys for tests of the code that
// signs digests (package integrity's keyrings), so that no test carries a
// fixed private key.
package integritytest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/secret"
)

// Spec is a key id with a new Ed25519 private key, as the configuration
// gives one (integrity.keys).
func Spec(t testing.TB, id string) integrity.KeySpec {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return integrity.KeySpec{ID: id, PrivateKey: secret.String(base64.StdEncoding.EncodeToString(priv.Seed()))}
}

// Keyring is a keyring of one new key, k1, that signs.
func Keyring(t testing.TB) *integrity.Keyring {
	t.Helper()
	kr, err := integrity.NewKeyring([]integrity.KeySpec{Spec(t, "k1")}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}
