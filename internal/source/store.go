package source

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/kvstore"
)

// ErrNotFound is returned for an unknown source id.
var ErrNotFound = errors.New("source not found")

// ErrReadOnly is returned when changing a source declared in the config file.
var ErrReadOnly = errors.New("source is declared in the config file and is read-only")

// Store keeps source definitions in a KV bucket, plus read-only ones from
// the config file, and lets callers follow changes. Safe for concurrent use.
type Store = kvstore.Catalog[Definition]

// NewStore loads the definitions in kv and follows changes until Close.
// fixed are the config file's sources; opts may seal the records at rest
// (kvstore.WithCodec).
func NewStore(ctx context.Context, kv jetstream.KeyValue, fixed []Definition, log *slog.Logger, opts ...kvstore.Option) (*Store, error) {
	return kvstore.OpenCatalog(ctx, kv, "source", fixed, ErrNotFound, ErrReadOnly, log, opts...)
}
