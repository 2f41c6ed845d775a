package exportdigest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/integrity"
)

// Version is the payload version digests are written with.
const Version = 1

// Dir is the directory, below a stream's prefix, that holds its digests.
const Dir = "_digest/"

// timeLayout names a digest from its end time; it sorts as text.
const timeLayout = "20060102T150405.000Z"

// Signer signs digests (integrity.Keyring is one).
type Signer = integrity.Signer

// KeyLookup returns the public key of a key id, and whether it is known.
type KeyLookup func(id string) (ed25519.PublicKey, bool)

// Digest is the signed payload of a digest object.
type Digest struct {
	// Version is the payload's version (1).
	Version int `json:"version"`
	// Stream is the id of the stream that wrote the objects.
	Stream string `json:"stream"`
	// Start is the end of the previous digest (the time a chain began, for
	// the first); End is when this digest was made. The objects were
	// written between them.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Previous is the digest before this one; nil for the first of a chain.
	Previous *Link `json:"previous,omitempty"`
	// Objects are the data objects written since the previous digest.
	Objects []Entry `json:"objects"`
}

// Link names a digest and the SHA-256 of its bytes as stored.
type Link struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// Entry is one data object as a digest lists it. The positions and times
// are those of its first and last event; a position is zero when unknown
// (an object read back after a restart whose name does not carry it).
type Entry struct {
	Key            string    `json:"key"`
	SHA256         string    `json:"sha256"`
	Size           int64     `json:"size"`
	Events         int       `json:"events"`
	FirstPosition  uint64    `json:"firstPosition,omitempty"`
	LastPosition   uint64    `json:"lastPosition,omitempty"`
	FirstPublished time.Time `json:"firstPublished,omitzero"`
	LastPublished  time.Time `json:"lastPublished,omitzero"`
}

// Hash returns the hex SHA-256 of b.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Key is where the digest of stream ending at end goes below prefix.
func Key(prefix, stream string, end time.Time) string {
	end = end.UTC()
	return prefix + Dir + end.Format("2006/01/02/") + safeName(stream) + "_" + end.Format(timeLayout) + ".json"
}

// safeName keeps letters, digits, '-' and '.' of a stream id; the rest
// (and '_', the separator) becomes '-'.
func safeName(s string) string {
	if s == "" {
		return "stream"
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Sign makes the signed digest object of d: the integrity package's
// envelope, the signature over the exact payload bytes.
func Sign(s Signer, d Digest) ([]byte, error) {
	b, err := integrity.SignJSON(s, d)
	if err != nil {
		return nil, fmt.Errorf("encode digest: %w", err)
	}
	return b, nil
}

// Errors of Open, for callers that branch on them (the integrity
// package's).
var (
	// ErrUnknownKey: the digest is signed with a key id the verifier does
	// not trust.
	ErrUnknownKey = integrity.ErrUnknownKey
	// ErrBadSignature: the signature does not match the payload (the
	// digest was modified, or forged with another key of the same id).
	ErrBadSignature = integrity.ErrSignature
)

// Open checks the signature of a digest object with keys and returns its
// payload and the key id it was signed with.
func Open(b []byte, keys KeyLookup) (Digest, string, error) {
	env, err := integrity.ParseEnvelope(b)
	if err != nil {
		return Digest{}, "", fmt.Errorf("not a signed digest: %w", err)
	}
	if err := env.Verify(keys); err != nil {
		return Digest{}, env.KeyID, err
	}
	d, err := payloadOf(env)
	return d, env.KeyID, err
}

// parse reads a digest's payload without checking its signature: a writer
// continues its own chain (Verify checks signatures).
func parse(b []byte) (Digest, error) {
	env, err := integrity.ParseEnvelope(b)
	if err != nil {
		return Digest{}, fmt.Errorf("not a signed digest: %w", err)
	}
	return payloadOf(env)
}

func payloadOf(env integrity.Envelope) (Digest, error) {
	var d Digest
	if err := json.Unmarshal(env.Payload, &d); err != nil {
		return Digest{}, fmt.Errorf("digest payload: %w", err)
	}
	if d.Version != Version {
		return Digest{}, fmt.Errorf("digest version %d: this auditstream reads version %d", d.Version, Version)
	}
	return d, nil
}

// Object is a stored object as a listing shows it.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// Errors of a Store.
var (
	// ErrExists: Create found the key already there.
	ErrExists = errors.New("already exists")
	// ErrFenced is the outcome of a digest not written because
	// Deps.Fenced said the writer must not write any more.
	ErrFenced = errors.New("not written: the stream's lease ran out, its next owner's digest lists the objects")
	// ErrNotFound: Read found no such key.
	ErrNotFound = errors.New("not found")
)

// Store is where data and digests are kept: a bucket or a directory. Keys
// are slash-separated. Its methods may be called from several goroutines.
type Store interface {
	// Create stores body under key only if key is absent, and returns an
	// error wrapping ErrExists otherwise. It never overwrites.
	Create(ctx context.Context, key string, body []byte) error
	// Read returns the bytes of key, or an error wrapping ErrNotFound.
	Read(ctx context.Context, key string) ([]byte, error)
	// List returns every object whose key starts with prefix, at any
	// depth, sorted by key.
	List(ctx context.Context, prefix string) ([]Object, error)
}
