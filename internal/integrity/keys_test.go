package integrity_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/secret"
)

func seedB64(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(priv.Seed()), pub
}

func TestNewKeyring(t *testing.T) {
	a, _ := seedB64(t)
	b, _ := seedB64(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	pemFile := filepath.Join(t.TempDir(), "k.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		specs   []integrity.KeySpec
		signing string
		wantErr string
		wantID  string
	}{
		{"one inline", []integrity.KeySpec{{ID: "k1", PrivateKey: secret.String(a)}}, "", "", "k1"},
		{"pem file", []integrity.KeySpec{{ID: "p", PrivateKeyFile: pemFile}}, "", "", "p"},
		{"rotation", []integrity.KeySpec{{ID: "old", PrivateKey: secret.String(a)}, {ID: "new", PrivateKey: secret.String(b)}}, "new", "", "new"},
		{"two without signingKey", []integrity.KeySpec{{ID: "old", PrivateKey: secret.String(a)}, {ID: "new", PrivateKey: secret.String(b)}}, "", "signingKey: required", ""},
		{"unknown signingKey", []integrity.KeySpec{{ID: "k1", PrivateKey: secret.String(a)}}, "k2", "not one of", ""},
		{"duplicate id", []integrity.KeySpec{{ID: "k", PrivateKey: secret.String(a)}, {ID: "k", PrivateKey: secret.String(b)}}, "k", "twice", ""},
		{"both sources", []integrity.KeySpec{{ID: "k", PrivateKey: secret.String(a), PrivateKeyFile: pemFile}}, "", "not both", ""},
		{"bad id", []integrity.KeySpec{{ID: "a b", PrivateKey: secret.String(a)}}, "", "letters", ""},
		{"bad key", []integrity.KeySpec{{ID: "k", PrivateKey: "bm90IGEga2V5"}}, "", "got 9 bytes", ""},
		{"none", nil, "", "no key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := integrity.NewKeyring(tt.specs, tt.signing)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), a) {
					t.Errorf("error shows the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := kr.SigningKeyID(); got != tt.wantID {
				t.Errorf("signing key: got %q, want %q", got, tt.wantID)
			}
			id, sig := kr.Sign([]byte("m"))
			pub, ok := kr.PublicKey(id)
			if id != tt.wantID || !ok || !ed25519.Verify(pub, []byte("m"), sig) {
				t.Errorf("Sign: got key %q and a signature that verifies %v, want %q and true", id, ok && ed25519.Verify(pub, []byte("m"), sig), tt.wantID)
			}
			if strings.Contains(kr.String(), a) {
				t.Error("String shows the key")
			}
		})
	}
}

// TestRotation: a digest signed with the old key still verifies after the
// signing key changes; the keys listing marks only the new one current.
func TestRotation(t *testing.T) {
	a, _ := seedB64(t)
	b, _ := seedB64(t)
	old, err := integrity.NewKeyring([]integrity.KeySpec{{ID: "old", PrivateKey: secret.String(a)}}, "")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := integrity.SignJSON(old, map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := integrity.NewKeyring([]integrity.KeySpec{{ID: "old", PrivateKey: secret.String(a)}, {ID: "new", PrivateKey: secret.String(b)}}, "new")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := integrity.VerifyJSON(signed, rotated.Lookup(), &got); err != nil || got["n"] != 1 {
		t.Fatalf("old digest after rotation: got %v, %v, want it to verify with n=1", got, err)
	}
	keys := rotated.PublicKeys()
	if len(keys) != 2 || keys[0].Current || !keys[1].Current || keys[1].ID != "new" || keys[0].Algorithm != "Ed25519" {
		t.Errorf("PublicKeys: got %+v, want old then new (current)", keys)
	}
	// The keys file round-trips and verifies without private keys.
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := integrity.WriteKeysFile(path, keys); err != nil {
		t.Fatal(err)
	}
	read, err := integrity.ReadKeysFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vo, err := integrity.VerifyOnly(read)
	if err != nil {
		t.Fatal(err)
	}
	if err := integrity.VerifyJSON(signed, vo.Lookup(), nil); err != nil {
		t.Errorf("verify-only keyring from the keys file: got %v, want nil", err)
	}
	wrapped, _ := json.Marshal(map[string]any{"keys": keys})
	if k, err := integrity.ParseKeys(wrapped); err != nil || len(k) != 2 {
		t.Errorf("ParseKeys of the API's answer: got %d keys, %v, want 2", len(k), err)
	}
}

// TestVerifyJSON: a changed payload byte, a changed signature, or an
// unknown key fail; the payload is decoded only when it verifies.
func TestVerifyJSON(t *testing.T) {
	a, _ := seedB64(t)
	kr, _ := integrity.NewKeyring([]integrity.KeySpec{{ID: "k", PrivateKey: secret.String(a)}}, "")
	b, err := integrity.SignJSON(kr, map[string]any{"org": "acme", "count": 10})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"payload":{"count":10,"org":"acme"},"keyId":"k","signature":"`) {
		t.Errorf("envelope: got %s", b)
	}
	other, _ := seedB64(t)
	kr2, _ := integrity.NewKeyring([]integrity.KeySpec{{ID: "k", PrivateKey: secret.String(other)}}, "")
	tests := []struct {
		name   string
		doc    string
		lookup func(string) (ed25519.PublicKey, bool)
		want   error
	}{
		{"untouched", string(b), kr.Lookup(), nil},
		{"payload changed", strings.Replace(string(b), `"count":10`, `"count":11`, 1), kr.Lookup(), integrity.ErrSignature},
		{"whitespace added", strings.Replace(string(b), `"count":10`, `"count": 10`, 1), kr.Lookup(), integrity.ErrSignature},
		{"another key with the same id", string(b), kr2.Lookup(), integrity.ErrSignature},
		{"unknown key", string(b), func(string) (ed25519.PublicKey, bool) { return nil, false }, integrity.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var into map[string]any
			err := integrity.VerifyJSON([]byte(tt.doc), tt.lookup, &into)
			if !errors.Is(err, tt.want) || tt.want == nil && err != nil {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil && into != nil {
				t.Errorf("payload decoded although it does not verify: %v", into)
			}
		})
	}
}

// TestLoadOrGenerate: the first call writes a 0600 key file, the second
// loads the same key.
func TestLoadOrGenerate(t *testing.T) {
	dir := t.TempDir()
	s1, created, err := integrity.LoadOrGenerate(dir)
	if err != nil || !created {
		t.Fatalf("first: got created=%v, %v, want a new key", created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, integrity.GeneratedKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: got %v, %v, want mode 0600", fi, err)
	}
	s2, created, err := integrity.LoadOrGenerate(dir)
	if err != nil || created || s2.ID != s1.ID || !strings.HasPrefix(s1.ID, "ed25519-") {
		t.Fatalf("second: got %+v created=%v %v, want the same id %q loaded", s2, created, err, s1.ID)
	}
	if _, err := integrity.NewKeyring([]integrity.KeySpec{s2}, ""); err != nil {
		t.Fatal(err)
	}
}
