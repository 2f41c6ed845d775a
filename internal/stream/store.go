package stream

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/kvstore"
)

// ErrNotFound is returned for an unknown stream id.
var ErrNotFound = errors.New("log stream not found")

// ErrReadOnly is returned when changing a stream declared in the config file.
var ErrReadOnly = errors.New("log stream is declared in the config file and is read-only")

// Store keeps log stream definitions in a KV bucket, plus read-only ones from
// the config file, and lets callers follow changes. Safe for concurrent use.
type Store = kvstore.Catalog[Definition]

// NewStore loads the definitions in kv and follows changes until Close.
// fixed are the config file's log streams; opts may seal the records at
// rest (kvstore.WithCodec).
func NewStore(ctx context.Context, kv jetstream.KeyValue, fixed []Definition, log *slog.Logger, opts ...kvstore.Option) (*Store, error) {
	return kvstore.OpenCatalog(ctx, kv, "log stream", fixed, ErrNotFound, ErrReadOnly, log, opts...)
}

// NewID returns a fresh stream id in Okta's style (20 characters).
func NewID() string { return kvstore.NewID("0oa") }
