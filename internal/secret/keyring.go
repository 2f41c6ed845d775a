package secret

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// KeySize is the length of a sealing key: AES-256.
const KeySize = 32

// sealPrefix starts every sealed value: "enc:v1:<key id>:<base64url of
// nonce and ciphertext>". A stored value without it is in clear.
const sealPrefix = "enc:v1:"

// Errors a Keyring returns; callers branch with errors.Is.
var (
	// ErrNoKey: a value is sealed but no key is configured.
	ErrNoKey = errors.New("no secret key is configured (AUDITSTREAM_SECRET_KEY or secrets.keyFile)")
	// ErrUnknownKey: a value is sealed with a key id the keyring lacks.
	ErrUnknownKey = errors.New("the configured secret keys do not include this key id")
	// ErrTampered: a sealed value does not open (changed, truncated, or
	// moved from another record).
	ErrTampered = errors.New("sealed value does not authenticate (tampered, or moved from another record)")
)

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring seals records at rest with AES-256-GCM. Its first key is the
// current one, used for every new seal; the others only open values sealed
// before a rotation. Each sealed value names its key id, and its
// authenticated data binds it to one record (bucket and key), so a sealed
// value copied to another record does not open.
//
// A nil *Keyring is valid: it stores values in clear and refuses to open
// sealed ones (ErrNoKey). A Keyring is safe for concurrent use.
type Keyring struct {
	keys []key
}

// NewKeyring builds a keyring from lines of a key file (or the value of
// AUDITSTREAM_SECRET_KEY): one key a line, "id:base64" or a bare base64
// key of 32 bytes, whose id is then derived from the key (DefaultKeyID).
// The first key is the current one. Blank lines and lines starting with
// '#' are skipped.
func NewKeyring(text string) (*Keyring, error) {
	k := &Keyring{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	var errs []error
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		id, b64, found := strings.Cut(l, ":")
		if !found {
			id, b64 = "", l
		}
		raw, err := decodeKey(b64)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if id == "" {
			id = DefaultKeyID(raw)
		}
		if !keyIDRE.MatchString(id) {
			errs = append(errs, fmt.Errorf("line %d: key id %q must be 1 to 32 letters, digits, '-' or '_'", line, id))
			continue
		}
		if seen[id] {
			errs = append(errs, fmt.Errorf("line %d: key id %q appears twice", line, id))
			continue
		}
		seen[id] = true
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.keys = append(k.keys, key{id: id, aead: aead})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(k.keys) == 0 {
		return nil, errors.New("no key: want one key a line, id:base64 of 32 bytes")
	}
	return k, nil
}

// LoadKeyring reads the keys from envKey (AUDITSTREAM_SECRET_KEY) or from
// keyFile; it returns nil, nil when neither is set (values stay in
// clear), and an error when both are.
func LoadKeyring(envKey, keyFile string) (*Keyring, error) {
	switch {
	case envKey != "" && keyFile != "":
		return nil, errors.New("secret key: set AUDITSTREAM_SECRET_KEY or secrets.keyFile, not both")
	case envKey != "":
		k, err := NewKeyring(envKey)
		if err != nil {
			return nil, fmt.Errorf("AUDITSTREAM_SECRET_KEY: %w", err)
		}
		return k, nil
	case keyFile != "":
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("secrets.keyFile: %w", err)
		}
		k, err := NewKeyring(string(b))
		if err != nil {
			return nil, fmt.Errorf("secrets.keyFile %s: %w", keyFile, err)
		}
		return k, nil
	}
	return nil, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("key is %d bytes, want %d (base64 of 32 random bytes, e.g. openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("key is not base64 (want base64 of 32 random bytes, e.g. openssl rand -base64 32)")
}

// DefaultKeyID is the id of a key given without one: "k" and the first
// 8 hex digits of a hash of the key, so the same key has the same id in
// AUDITSTREAM_SECRET_KEY and in a key file.
func DefaultKeyID(raw []byte) string {
	sum := sha256.Sum256(append([]byte("auditstream secret key id\x00"), raw...))
	return "k" + hex.EncodeToString(sum[:4])
}

// CurrentID is the id of the key new values are sealed with ("" for a
// nil keyring).
func (k *Keyring) CurrentID() string {
	if k == nil {
		return ""
	}
	return k.keys[0].id
}

// IDs are the key ids the keyring holds, current first.
func (k *Keyring) IDs() []string {
	if k == nil {
		return nil
	}
	out := make([]string, len(k.keys))
	for i, kk := range k.keys {
		out[i] = kk.id
	}
	return out
}

// IsSealed reports whether a stored value is sealed.
func IsSealed(stored []byte) bool { return bytes.HasPrefix(stored, []byte(sealPrefix)) }

// SealedKeyID returns the key id a sealed value names.
func SealedKeyID(stored []byte) (string, bool) {
	if !IsSealed(stored) {
		return "", false
	}
	id, _, ok := strings.Cut(string(stored[len(sealPrefix):]), ":")
	return id, ok
}

func aad(bucket, record, id string) []byte {
	return []byte("auditstream/" + sealPrefix + id + "/" + bucket + "/" + record)
}

// Seal encrypts plain for the record named by bucket and record (its key)
// with the current key. A nil keyring returns plain as it is.
func (k *Keyring) Seal(bucket, record string, plain []byte) ([]byte, error) {
	if k == nil {
		return plain, nil
	}
	cur := k.keys[0]
	nonce := make([]byte, cur.aead.NonceSize(), cur.aead.NonceSize()+len(plain)+cur.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := cur.aead.Seal(nonce, nonce, plain, aad(bucket, record, cur.id))
	out := make([]byte, 0, len(sealPrefix)+len(cur.id)+1+base64.RawURLEncoding.EncodedLen(len(sealed)))
	out = append(out, sealPrefix...)
	out = append(out, cur.id...)
	out = append(out, ':')
	return base64.RawURLEncoding.AppendEncode(out, sealed), nil
}

// Open returns the plain value of a stored one: a value in clear as it
// is, a sealed one decrypted. Errors wrap ErrNoKey, ErrUnknownKey or
// ErrTampered and name the key id.
func (k *Keyring) Open(bucket, record string, stored []byte) ([]byte, error) {
	if !IsSealed(stored) {
		return stored, nil
	}
	id, b64, ok := strings.Cut(string(stored[len(sealPrefix):]), ":")
	if !ok {
		return nil, fmt.Errorf("sealed value without a key id: %w", ErrTampered)
	}
	if k == nil {
		return nil, fmt.Errorf("sealed with key id %q: %w", id, ErrNoKey)
	}
	var kk *key
	for i := range k.keys {
		if k.keys[i].id == id {
			kk = &k.keys[i]
		}
	}
	if kk == nil {
		return nil, fmt.Errorf("sealed with key id %q (configured: %s): %w", id, strings.Join(k.IDs(), ", "), ErrUnknownKey)
	}
	sealed, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(sealed) < kk.aead.NonceSize()+kk.aead.Overhead() {
		return nil, fmt.Errorf("sealed with key id %q: %w", id, ErrTampered)
	}
	n := kk.aead.NonceSize()
	plain, err := kk.aead.Open(nil, sealed[:n], sealed[n:], aad(bucket, record, id))
	if err != nil {
		return nil, fmt.Errorf("sealed with key id %q: %w", id, ErrTampered)
	}
	return plain, nil
}
