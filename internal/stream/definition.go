package stream

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
)

// Status values of a log stream (Okta's).
const (
	StatusActive   = kvstore.StatusActive
	StatusInactive = kvstore.StatusInactive
)

// Definition is a log stream as configured. Its Header's Org is the org
// whose events the stream sees (auth.AllOrgs for all); its Settings are
// the destination's.
type Definition struct {
	kvstore.Header
	// Filter is an EventBridge event pattern; empty means every event.
	Filter json.RawMessage `json:"filter,omitempty"`
	kvstore.Stamps
	// Epoch names the stream's current journal consumer. Replay starts a
	// new epoch, whose consumer begins at StartSeq or StartTime.
	Epoch int `json:"epoch"`
	// StartSeq is the first journal sequence the current epoch delivers
	// (0: use StartTime).
	StartSeq uint64 `json:"startSeq,omitempty"`
	// StartTime is where a replay starts (journal arrival time).
	StartTime time.Time `json:"startTime,omitzero"`
	// Resume counts operator activations; a change restarts a paused
	// runner.
	Resume int `json:"resume,omitempty"`
	// Operator is set when an all-orgs token last set the destination's
	// settings. Such destinations are the operator's, and only the
	// operator's egress.deny list applies to them; the others are a
	// tenant's, kept off internal addresses (internal/egress).
	Operator bool `json:"operator,omitempty"`
}

// ByOperator reports whether the destination was chosen by the operator:
// set by an all-orgs token (Operator), declared in the config file
// (ReadOnly), or a stream of all orgs, which only such a token can make.
func (d Definition) ByOperator() bool {
	return d.Operator || d.ReadOnly || d.Org == "" || d.Org == "*"
}

// ConsumerName is the durable JetStream consumer of d's current epoch.
func (d Definition) ConsumerName() string {
	return consumerName(d.ID, d.Epoch)
}

func consumerName(id string, epoch int) string {
	return "ls_" + id + "_" + itoa(epoch)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// JournalOrg is the org whose journal events d reads ("" for every org).
func (d Definition) JournalOrg() string {
	if d.Org == "*" {
		return ""
	}
	return d.Org
}

// FilterSubjects are the journal subject filters for d's org.
func (d Definition) FilterSubjects() []string { return journal.OrgSubjects(d.JournalOrg()) }

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
