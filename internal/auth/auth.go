// Package auth keeps API tokens and answers who a request is.
//
// Tokens are random secrets shown to their creator once. The store keeps
// only their SHA-256 hash (the secrets are 256-bit random values, so a fast
// hash is enough; a token set from AUDITSTREAM_ADMIN_TOKEN should be just as
// long). Tokens live in a JetStream KV bucket, and every node keeps a cache
// fed by a watch on that bucket, so a token created or deleted on one node
// takes effect on all of them within moments and authentication costs no
// round trip.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/kvstore"
)

// Scope is one permission a token carries.
type Scope string

// The scopes. Admin implies every other scope; a manage scope implies its
// read scope.
const (
	ScopeWriteEvents   Scope = "events.write"
	ScopeReadLogs      Scope = "logs.read"
	ScopeReadStreams   Scope = "logStreams.read"
	ScopeManageStreams Scope = "logStreams.manage"
	ScopeReadSources   Scope = "sources.read"
	ScopeManageSources Scope = "sources.manage"
	// ScopeReadDetections lists detection rules and detections and runs
	// backtests; ScopeManageDetections also uploads, enables and disables
	// rules and acknowledges or closes detections.
	ScopeReadDetections   Scope = "detections.read"
	ScopeManageDetections Scope = "detections.manage"
	// ScopeReadActivity reads per-user activity profiles and a user's
	// events (GET /api/v1/activity/users/...).
	ScopeReadActivity Scope = "activity.read"
	ScopeAdmin        Scope = "admin"
)

// AllScopes lists the valid scopes.
var AllScopes = []Scope{ScopeWriteEvents, ScopeReadLogs, ScopeReadStreams, ScopeManageStreams,
	ScopeReadSources, ScopeManageSources, ScopeReadDetections, ScopeManageDetections, ScopeReadActivity, ScopeAdmin}

// AllOrgs is the Org of a token that may act on every org.
const AllOrgs = "*"

// Token is a stored token; the secret itself is never kept.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Org     string    `json:"org"`
	Scopes  []Scope   `json:"scopes"`
	Created time.Time `json:"created"`
	// Hash is the hex SHA-256 of the secret. Not returned by the API.
	Hash string `json:"hash"`
}

// Has reports whether t carries scope s: admin carries all, and a manage
// scope carries its read scope, as Okta's manage scopes do.
func (t Token) Has(s Scope) bool {
	if slices.Contains(t.Scopes, ScopeAdmin) || slices.Contains(t.Scopes, s) {
		return true
	}
	switch s {
	case ScopeReadStreams:
		return slices.Contains(t.Scopes, ScopeManageStreams)
	case ScopeReadSources:
		return slices.Contains(t.Scopes, ScopeManageSources)
	case ScopeReadDetections:
		return slices.Contains(t.Scopes, ScopeManageDetections)
	}
	return false
}

// CanAccessOrg reports whether t may act on org.
func (t Token) CanAccessOrg(org string) bool { return t.Org == AllOrgs || t.Org == org }

// ErrNotFound is returned for an unknown token id.
var ErrNotFound = errors.New("token not found")

// Store is the token store. It is safe for concurrent use.
type Store struct {
	tokens *kvstore.Store[Token]

	mu      sync.Mutex
	byHash  map[string]Token
	indexed uint64 // the tokens' Version byHash was built from
}

// NewStore loads the tokens in kv and keeps following changes until Close.
func NewStore(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) (*Store, error) {
	tokens, err := kvstore.Open[Token](ctx, kv, "token", log)
	if err != nil {
		return nil, err
	}
	return &Store{tokens: tokens}, nil
}

// Close stops following changes.
func (s *Store) Close() { s.tokens.Close() }

// Hash returns the stored form of a secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns a fresh random token secret.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "as_" + base64.RawURLEncoding.EncodeToString(b[:])
}

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "tok" + hex.EncodeToString(b[:])
}

// Validate checks t's fields for Create.
func Validate(t Token) error {
	var errs []error
	if t.Name == "" || len(t.Name) > 100 {
		errs = append(errs, errors.New("name: must be 1 to 100 characters"))
	}
	if t.Org == "" {
		errs = append(errs, errors.New("org: is required"))
	}
	if t.Org != "" && t.Org != AllOrgs && !event.ValidOrg(t.Org) {
		errs = append(errs, errors.New("org: must be 1 to 64 letters, digits, '-' or '_', or * for all orgs"))
	}
	if len(t.Scopes) == 0 {
		errs = append(errs, errors.New("scopes: at least one scope is required"))
	}
	for _, sc := range t.Scopes {
		if !slices.Contains(AllScopes, sc) {
			errs = append(errs, fmt.Errorf("scopes: unknown scope %q", sc))
		}
	}
	return errors.Join(errs...)
}

// Create stores a new token and returns its secret, which is not kept.
func (s *Store) Create(ctx context.Context, t Token) (string, Token, error) {
	if err := Validate(t); err != nil {
		return "", Token{}, err
	}
	secret := NewSecret()
	t.ID = newID()
	t.Hash = Hash(secret)
	t.Created = time.Now().UTC().Truncate(time.Millisecond)
	if err := s.put(ctx, t, true); err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Ensure makes sure a token with this secret exists (creating it with t's
// name, org and scopes when it does not) and returns it.
func (s *Store) Ensure(ctx context.Context, secret string, t Token) (Token, error) {
	h := Hash(secret)
	if have, ok := s.lookup(h); ok {
		return have, nil
	}
	if err := Validate(t); err != nil {
		return Token{}, err
	}
	// A random id: one derived from the secret would publish part of its
	// hash (ids are logged and listed).
	t.ID = newID()
	t.Hash = h
	t.Created = time.Now().UTC().Truncate(time.Millisecond)
	if err := s.put(ctx, t, false); err != nil {
		return Token{}, err
	}
	return t, nil
}

// The token set from the AUDITSTREAM_ADMIN_TOKEN environment variable is
// one record with a fixed id: a new value replaces it (see SetFixed).
const (
	EnvTokenID   = "env-admin"
	EnvTokenName = "AUDITSTREAM_ADMIN_TOKEN"
)

// Fixed is what SetFixed did.
type Fixed struct {
	// Token is the record now in force.
	Token Token
	// Created is true when there was no record with its id before.
	Created bool
	// Revoked are the records whose secrets stopped working: the record's
	// previous value, and records of the same name with other ids, which
	// earlier versions created for every new value.
	Revoked []Token
}

// SetFixed makes t (whose ID is fixed, like EnvTokenID) the one token of
// its name, with this secret: a record with t's id and another secret is
// replaced, so the old secret stops working at once, here and on every
// node as soon as the change reaches it. Records of the same name under
// other ids are deleted too. Unchanged, it writes nothing.
func (s *Store) SetFixed(ctx context.Context, secret string, t Token) (Fixed, error) {
	if t.ID == "" {
		return Fixed{}, errors.New("id: is required")
	}
	if err := Validate(t); err != nil {
		return Fixed{}, err
	}
	h := Hash(secret)
	have, ok := s.tokens.Get(t.ID)
	res := Fixed{Token: have, Created: !ok}
	if !ok || have.Hash != h || have.Name != t.Name || have.Org != t.Org || !slices.Equal(have.Scopes, t.Scopes) {
		t.Hash = h
		t.Created = time.Now().UTC().Truncate(time.Millisecond)
		if ok && have.Hash == h {
			t.Created = have.Created
		}
		if err := s.put(ctx, t, false); err != nil {
			return Fixed{}, err
		}
		res.Token = t
		if ok && have.Hash != h {
			res.Revoked = append(res.Revoked, have)
		}
	}
	for _, old := range s.tokens.All() {
		if old.ID == t.ID || old.Name != t.Name {
			continue
		}
		if err := s.tokens.Delete(ctx, old.ID); err != nil {
			return res, err
		}
		if old.Hash != h {
			res.Revoked = append(res.Revoked, old)
		}
	}
	return res, nil
}

func (s *Store) put(ctx context.Context, t Token, create bool) error {
	if create {
		return s.tokens.Create(ctx, t.ID, t)
	}
	return s.tokens.Put(ctx, t.ID, t)
}

// lookup finds a token by the hash of its secret, through an index rebuilt
// whenever the tokens change.
func (s *Store) lookup(hash string) (Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.tokens.Version(); s.byHash == nil || v != s.indexed {
		s.byHash = map[string]Token{}
		for _, t := range s.tokens.All() {
			s.byHash[t.Hash] = t
		}
		s.indexed = v
	}
	t, ok := s.byHash[hash]
	return t, ok
}

// Authenticate returns the token whose secret this is.
func (s *Store) Authenticate(secret string) (Token, bool) {
	if secret == "" {
		return Token{}, false
	}
	h := Hash(secret)
	t, ok := s.lookup(h)
	// The map lookup is by hash, which leaks nothing about the secret; the
	// constant-time compare guards against a corrupted record.
	if !ok || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return Token{}, false
	}
	return t, true
}

// List returns the tokens visible to org (all for AllOrgs), oldest first.
func (s *Store) List(org string) []Token {
	var out []Token
	for _, t := range s.tokens.All() {
		if org == AllOrgs || t.Org == org {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b Token) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns a token by id.
func (s *Store) Get(id string) (Token, bool) { return s.tokens.Get(id) }

// Delete removes a token by id.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, ok := s.tokens.Get(id); !ok {
		return ErrNotFound
	}
	return s.tokens.Delete(ctx, id)
}
