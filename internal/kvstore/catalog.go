package kvstore

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Entry is a record a Catalog keeps: it has a key, a creation time and a
// read-only mark for entries declared in the config file.
type Entry interface {
	EntryKey() string
	EntryCreated() time.Time
	EntryReadOnly() bool
}

// Catalog is a Store of definitions plus read-only ones declared in the
// config file, which shadow stored records of the same key and cannot be
// changed through it. It backs log streams and sources alike.
type Catalog[T Entry] struct {
	recs  *Store[T]
	fixed map[string]T
	// notFound and readOnly are the owner's errors for those cases.
	notFound, readOnly error
}

// marker is a pointer to an Entry that embeds Stamps.
type marker[T Entry] interface {
	*T
	markReadOnly()
}

// OpenCatalog loads the records in kv and follows changes until Close.
// fixed are the config file's entries; the catalog keeps copies of them
// marked read-only. what names the records in errors and logs; notFound
// and readOnly are the owner's errors for those cases.
func OpenCatalog[T Entry, PT marker[T]](ctx context.Context, kv jetstream.KeyValue, what string, fixed []T,
	notFound, readOnly error, log *slog.Logger, opts ...Option) (*Catalog[T], error) {
	recs, err := Open[T](ctx, kv, what, log, opts...)
	if err != nil {
		return nil, err
	}
	c := &Catalog[T]{recs: recs, fixed: map[string]T{}, notFound: notFound, readOnly: readOnly}
	for _, e := range fixed {
		PT(&e).markReadOnly()
		c.fixed[e.EntryKey()] = e
	}
	return c, nil
}

// Changes returns a channel that receives a value (coalesced) whenever an
// entry changes.
func (c *Catalog[T]) Changes() <-chan struct{} { return c.recs.Changes() }

// Close stops following changes. It is safe to call more than once.
func (c *Catalog[T]) Close() { c.recs.Close() }

// List returns all entries: the config file's first, then by creation
// time and key.
func (c *Catalog[T]) List() []T {
	out := make([]T, 0, len(c.fixed))
	for _, e := range c.fixed {
		out = append(out, e)
	}
	for _, e := range c.recs.All() {
		if _, shadowed := c.fixed[e.EntryKey()]; !shadowed {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b T) int {
		if a.EntryReadOnly() != b.EntryReadOnly() {
			if a.EntryReadOnly() {
				return -1
			}
			return 1
		}
		if d := a.EntryCreated().Compare(b.EntryCreated()); d != 0 {
			return d
		}
		return cmp.Compare(a.EntryKey(), b.EntryKey())
	})
	return out
}

// Get returns one entry.
func (c *Catalog[T]) Get(key string) (T, bool) {
	if e, ok := c.fixed[key]; ok {
		return e, true
	}
	return c.recs.Get(key)
}

// Put stores e (create or replace); config-file entries cannot be changed.
func (c *Catalog[T]) Put(ctx context.Context, e T) error {
	if _, ok := c.fixed[e.EntryKey()]; ok {
		return c.readOnly
	}
	return c.recs.Put(ctx, e.EntryKey(), e)
}

// Delete removes an entry.
func (c *Catalog[T]) Delete(ctx context.Context, key string) error {
	if _, ok := c.fixed[key]; ok {
		return c.readOnly
	}
	if _, ok := c.recs.Get(key); !ok {
		return c.notFound
	}
	return c.recs.Delete(ctx, key)
}
