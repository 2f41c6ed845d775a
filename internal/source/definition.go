package source

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/kvstore"
)

// Status values of a source (Okta's lifecycle words, as for log streams).
const (
	StatusActive   = kvstore.StatusActive
	StatusInactive = kvstore.StatusInactive
)

// Bucket names this package and its source types use besides
// journal.BucketSources.
const (
	// BucketCheckpoints holds each polling source's cursor, one key per
	// source id.
	BucketCheckpoints = "auditstream_checkpoints"
	// BucketState holds small shared state, such as the key that signs the
	// EventBridge receiver's access tokens.
	BucketState = "auditstream_source_state"
)

// Definition is a source as configured. Its Header's Org is the org the
// source's events belong to; its Settings are the type's settings in their
// stored form: secrets the type can hash are hashed, others (an Okta API
// token, a private key) are kept because the poller must present them.
type Definition struct {
	kvstore.Header
	kvstore.Stamps
	// Operator is set when an all-orgs token last set the settings: the
	// source's URLs are then the operator's, and only the operator's
	// egress.deny list applies; otherwise they are a tenant's, kept off
	// internal addresses (internal/egress).
	Operator bool `json:"operator,omitempty"`
}

// ByOperator reports whether the source's settings were chosen by the
// operator (an all-orgs token, or the config file).
func (d Definition) ByOperator() bool { return d.Operator || d.ReadOnly }

// NewID returns a fresh source id in Okta's style (20 characters).
func NewID() string { return kvstore.NewID("0sr") }

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
