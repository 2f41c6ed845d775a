package integrity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/auditstream/auditstream/internal/secret"
)

// Algorithm is the one signature algorithm digests use.
const Algorithm = "Ed25519"

// GeneratedKeyFile is where serve keeps the key it generates, below the
// data directory, when the configuration names none.
const GeneratedKeyFile = "integrity/signing-key.pem"

// KeySpec is one configured signing key (integrity.keys[]): an id and the
// private key, from a file or inline. The key is an Ed25519 private key in
// PEM (PKCS #8, "openssl genpkey -algorithm ed25519"), or the base64 of
// its 32-byte seed or 64-byte private key.
type KeySpec struct {
	// ID names the key in every digest it signs: 1 to 32 letters, digits,
	// '-' or '_'.
	ID string `yaml:"id" json:"id"`
	// PrivateKeyFile is a file holding the private key.
	PrivateKeyFile string `yaml:"privateKeyFile,omitempty" json:"privateKeyFile,omitempty"`
	// PrivateKey is the private key itself (write-only: it shows as
	// ********).
	PrivateKey secret.String `yaml:"privateKey,omitempty" json:"privateKey,omitempty"`
}

// PublicKey is a verification key as GET /api/v1/integrity/keys and the
// keys file of `auditstream verify --keys` carry it.
type PublicKey struct {
	ID        string `json:"id"`
	Algorithm string `json:"algorithm"`
	// PublicKey is the standard base64 of the 32-byte Ed25519 public key.
	PublicKey string `json:"publicKey"`
	// Current is true for the key that signs new digests.
	Current bool `json:"current"`
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

type entry struct {
	id   string
	priv ed25519.PrivateKey // nil for a verify-only key
	pub  ed25519.PublicKey
}

// Keyring holds the Ed25519 keys digests are signed and verified with: one
// signing key and any number of older ones that only verify, so a key can
// rotate while the digests it signed stay verifiable. It is immutable and
// safe for concurrent use.
type Keyring struct {
	keys    []entry
	signing int
}

// NewKeyring loads specs; signingKey names the one that signs (it may be
// empty when there is exactly one key). Every problem is reported.
func NewKeyring(specs []KeySpec, signingKey string) (*Keyring, error) {
	kr := &Keyring{signing: -1}
	var errs []error
	seen := map[string]bool{}
	for i, s := range specs {
		at := fmt.Sprintf("integrity.keys[%d]", i)
		if !keyIDRE.MatchString(s.ID) {
			errs = append(errs, fmt.Errorf("%s: id %q must be 1 to 32 letters, digits, '-' or '_'", at, s.ID))
			continue
		}
		if seen[s.ID] {
			errs = append(errs, fmt.Errorf("%s: id %q appears twice", at, s.ID))
			continue
		}
		seen[s.ID] = true
		var raw []byte
		switch {
		case s.PrivateKeyFile != "" && s.PrivateKey != "":
			errs = append(errs, fmt.Errorf("%s: set privateKeyFile or privateKey, not both", at))
			continue
		case s.PrivateKeyFile != "":
			b, err := os.ReadFile(s.PrivateKeyFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
				continue
			}
			raw = b
		case s.PrivateKey != "":
			raw = []byte(s.PrivateKey.Reveal())
		default:
			errs = append(errs, fmt.Errorf("%s: privateKeyFile or privateKey is required", at))
			continue
		}
		priv, err := ParsePrivateKey(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", at, s.ID, err))
			continue
		}
		kr.keys = append(kr.keys, entry{id: s.ID, priv: priv, pub: priv.Public().(ed25519.PublicKey)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(kr.keys) == 0 {
		return nil, errors.New("integrity: no key")
	}
	switch {
	case signingKey == "" && len(kr.keys) == 1:
		kr.signing = 0
	case signingKey == "":
		return nil, errors.New("integrity.signingKey: required with more than one key")
	default:
		kr.signing = slices.IndexFunc(kr.keys, func(e entry) bool { return e.id == signingKey })
		if kr.signing < 0 {
			return nil, fmt.Errorf("integrity.signingKey: %q is not one of integrity.keys", signingKey)
		}
	}
	return kr, nil
}

// ParsePrivateKey reads an Ed25519 private key: PEM (PKCS #8), or the
// base64 of a 32-byte seed or a 64-byte private key.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	b = bytes.TrimSpace(b)
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pem private key: %w", err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("pem private key: got %T, want an Ed25519 key", k)
		}
		return priv, nil
	}
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil {
		return nil, errors.New("private key: want PEM (PKCS #8) or base64 of 32 or 64 bytes")
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.PrivateKey(raw)
		if !bytes.Equal(ed25519.NewKeyFromSeed(priv.Seed()).Public().(ed25519.PublicKey), priv[32:]) {
			return nil, errors.New("private key: its public half does not match its seed")
		}
		return priv, nil
	default:
		return nil, fmt.Errorf("private key: got %d bytes, want 32 (seed) or 64", len(raw))
	}
}

// KeyID derives a key id from a public key: "ed25519-" and the first 8 hex
// digits of its SHA-256. Generated keys are named so.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519-" + hex.EncodeToString(sum[:4])
}

// LoadOrGenerate returns the key in dataDir/GeneratedKeyFile, generating
// it (file mode 0600) when it does not exist; created says which. Its id
// is KeyID of its public key.
func LoadOrGenerate(dataDir string) (spec KeySpec, created bool, err error) {
	path := filepath.Join(dataDir, GeneratedKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return KeySpec{}, false, gerr
		}
		der, merr := x509.MarshalPKCS8PrivateKey(priv)
		if merr != nil {
			return KeySpec{}, false, merr
		}
		b = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return KeySpec{}, false, err
		}
		// O_EXCL: two processes starting at once do not overwrite each
		// other's key; the loser reads the winner's.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadOrGenerate(dataDir)
		}
		if err != nil {
			return KeySpec{}, false, err
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return KeySpec{}, false, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return KeySpec{}, false, err
		}
		if err := f.Close(); err != nil {
			return KeySpec{}, false, err
		}
		created = true
	} else if err != nil {
		return KeySpec{}, false, err
	}
	priv, err := ParsePrivateKey(b)
	if err != nil {
		return KeySpec{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return KeySpec{ID: KeyID(priv.Public().(ed25519.PublicKey)), PrivateKeyFile: path}, created, nil
}

// VerifyOnly builds a keyring that verifies with keys and cannot sign
// (Sign panics): what `auditstream verify` uses.
func VerifyOnly(keys []PublicKey) (*Keyring, error) {
	kr := &Keyring{signing: -1}
	for _, k := range keys {
		pub, err := k.Decode()
		if err != nil {
			return nil, err
		}
		kr.keys = append(kr.keys, entry{id: k.ID, pub: pub})
	}
	return kr, nil
}

// Decode returns the key itself, checking its algorithm and length.
func (k PublicKey) Decode() (ed25519.PublicKey, error) {
	if k.Algorithm != Algorithm {
		return nil, fmt.Errorf("key %q: algorithm %q, want %s", k.ID, k.Algorithm, Algorithm)
	}
	raw, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %q: publicKey is not the base64 of 32 bytes", k.ID)
	}
	return ed25519.PublicKey(raw), nil
}

// SigningKeyID is the id of the key that signs.
func (kr *Keyring) SigningKeyID() string {
	if kr.signing < 0 {
		return ""
	}
	return kr.keys[kr.signing].id
}

// Sign signs msg with the signing key and names it.
func (kr *Keyring) Sign(msg []byte) (keyID string, sig []byte) {
	e := kr.keys[kr.signing]
	return e.id, ed25519.Sign(e.priv, msg)
}

// PublicKey returns the public key of id.
func (kr *Keyring) PublicKey(id string) (ed25519.PublicKey, bool) {
	for _, e := range kr.keys {
		if e.id == id {
			return e.pub, true
		}
	}
	return nil, false
}

// PublicKeys lists every key's public half, the signing key marked
// current.
func (kr *Keyring) PublicKeys() []PublicKey {
	out := make([]PublicKey, 0, len(kr.keys))
	for i, e := range kr.keys {
		out = append(out, PublicKey{ID: e.id, Algorithm: Algorithm,
			PublicKey: base64.StdEncoding.EncodeToString(e.pub), Current: i == kr.signing})
	}
	return out
}

// WriteKeysFile writes keys in the keys file format: a JSON list of
// PublicKey, as GET /api/v1/integrity/keys answers it.
func WriteKeysFile(path string, keys []PublicKey) error {
	b, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadKeysFile reads a keys file: a JSON list of PublicKey, or the object
// {"keys": [...]} GET /api/v1/integrity/keys answers.
func ReadKeysFile(path string) ([]PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKeys(b)
}

// ParseKeys parses a keys file's content (see ReadKeysFile).
func ParseKeys(b []byte) ([]PublicKey, error) {
	var keys []PublicKey
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var wrap struct {
			Keys []PublicKey `json:"keys"`
		}
		if err := json.Unmarshal(t, &wrap); err != nil {
			return nil, fmt.Errorf("keys file: %w", err)
		}
		keys = wrap.Keys
	} else if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	for _, k := range keys {
		if _, err := k.Decode(); err != nil {
			return nil, fmt.Errorf("keys file: %w", err)
		}
	}
	return keys, nil
}

// Envelope is a signed JSON document: the payload's exact bytes, the id of
// the key that signed them and the signature (standard base64).
type Envelope struct {
	Payload   json.RawMessage `json:"payload"`
	KeyID     string          `json:"keyId"`
	Signature string          `json:"signature"`
}

// ErrSignature: an envelope's signature does not verify with its key.
var ErrSignature = errors.New("signature does not verify")

// ErrUnknownKey: an envelope names a key the verifier does not have.
var ErrUnknownKey = errors.New("signed with an unknown key")

// Signer signs bytes: Sign returns the id of the key it used and the
// Ed25519 signature of msg. *Keyring is one.
type Signer interface {
	Sign(msg []byte) (keyID string, sig []byte)
}

// SignJSON marshals payload and signs its exact bytes with s (a
// Keyring's signing key): {"payload":{...},"keyId":"…","signature":"base64"}.
func SignJSON(s Signer, payload any) ([]byte, error) {
	p, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	id, sig := s.Sign(p)
	return json.Marshal(Envelope{Payload: p, KeyID: id, Signature: base64.StdEncoding.EncodeToString(sig)})
}

// VerifyJSON checks an envelope's signature over its payload's exact
// bytes with the key lookup returns for its keyId, then decodes the
// payload into into (when not nil). ErrUnknownKey and ErrSignature are
// wrapped for errors.Is.
func VerifyJSON(b []byte, lookup func(id string) (ed25519.PublicKey, bool), into any) error {
	env, err := ParseEnvelope(b)
	if err != nil {
		return err
	}
	if err := env.Verify(lookup); err != nil {
		return err
	}
	if into == nil {
		return nil
	}
	if err := json.Unmarshal(env.Payload, into); err != nil {
		return fmt.Errorf("signed payload: %w", err)
	}
	return nil
}

// ParseEnvelope decodes a signed envelope without verifying it. The
// payload keeps its exact bytes.
func ParseEnvelope(b []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return env, fmt.Errorf("signed envelope: %w", err)
	}
	if len(env.Payload) == 0 || env.KeyID == "" || env.Signature == "" {
		return env, errors.New("signed envelope: payload, keyId and signature are required")
	}
	return env, nil
}

// Verify checks the envelope's signature.
func (env Envelope) Verify(lookup func(id string) (ed25519.PublicKey, bool)) error {
	pub, ok := lookup(env.KeyID)
	if !ok {
		return fmt.Errorf("key %q: %w", env.KeyID, ErrUnknownKey)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signature)
	if err != nil || !ed25519.Verify(pub, env.Payload, sig) {
		return fmt.Errorf("key %q: %w", env.KeyID, ErrSignature)
	}
	return nil
}

// Verify checks the signature of d's envelope with the keys lookup returns
// (ErrUnknownKey, ErrSignature).
func (d SignedDigest) Verify(lookup func(id string) (ed25519.PublicKey, bool)) error {
	env, err := ParseEnvelope(d.Envelope)
	if err != nil {
		return err
	}
	return env.Verify(lookup)
}

// Lookup returns kr.PublicKey as the lookup VerifyJSON takes.
func (kr *Keyring) Lookup() func(string) (ed25519.PublicKey, bool) { return kr.PublicKey }

// String names the keyring's keys, never showing them.
func (kr *Keyring) String() string {
	ids := make([]string, len(kr.keys))
	for i, e := range kr.keys {
		ids[i] = e.id
	}
	return "integrity keys [" + strings.Join(ids, " ") + "] signing " + kr.SigningKeyID()
}
