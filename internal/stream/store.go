package stream

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/kvstore"
)

// ErrNotFound is returned for an unknown stream id.
var ErrNotFound = errors.New("log stream not found")

// ErrReadOnly is returned when changing a stream declared in the config file.
var ErrReadOnly = errors.New("log stream is declared in the config file and is read-only")

// Store keeps stream definitions in a KV bucket, plus read-only ones from
// the config file, and lets callers follow changes. Safe for concurrent use.
type Store struct {
	defs  *kvstore.Store[Definition]
	fixed map[string]Definition // from the config file
}

// NewStore loads the definitions in kv and follows changes until Close.
// fixed are the config file's streams.
func NewStore(ctx context.Context, kv jetstream.KeyValue, fixed []Definition, log *slog.Logger) (*Store, error) {
	defs, err := kvstore.Open[Definition](ctx, kv, "log stream", log)
	if err != nil {
		return nil, err
	}
	s := &Store{defs: defs, fixed: map[string]Definition{}}
	for _, d := range fixed {
		d.ReadOnly = true
		s.fixed[d.ID] = d
	}
	return s, nil
}

// Changes returns a channel that receives a value (coalesced) whenever a
// definition changes.
func (s *Store) Changes() <-chan struct{} { return s.defs.Changes() }

// Close stops following changes.
func (s *Store) Close() { s.defs.Close() }

// List returns all definitions, config-file ones first, then by creation.
func (s *Store) List() []Definition {
	out := make([]Definition, 0, len(s.fixed))
	for _, d := range s.fixed {
		out = append(out, d)
	}
	for _, d := range s.defs.All() {
		if _, shadowed := s.fixed[d.ID]; !shadowed {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Definition) int {
		if a.ReadOnly != b.ReadOnly {
			if a.ReadOnly {
				return -1
			}
			return 1
		}
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns one definition.
func (s *Store) Get(id string) (Definition, bool) {
	if d, ok := s.fixed[id]; ok {
		return d, true
	}
	return s.defs.Get(id)
}

// Put stores d (create or replace). Read-only streams cannot be changed.
func (s *Store) Put(ctx context.Context, d Definition) error {
	if _, ok := s.fixed[d.ID]; ok {
		return ErrReadOnly
	}
	return s.defs.Put(ctx, d.ID, d)
}

// Delete removes a stream definition.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, ok := s.fixed[id]; ok {
		return ErrReadOnly
	}
	if _, ok := s.defs.Get(id); !ok {
		return ErrNotFound
	}
	return s.defs.Delete(ctx, id)
}

// NewID returns a fresh stream id in Okta's style (20 characters).
func NewID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [17]byte
	_, _ = rand.Read(b[:])
	out := []byte("0oa")
	for _, c := range b {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}
