package source

import (
	"crypto/rand"
	"encoding/json"
	"time"
)

// Status values of a source (Okta's lifecycle words, as for log streams).
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
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

// Definition is a source as configured.
type Definition struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Name   string `json:"name"`
	Status string `json:"status"`
	// Org is the auditstream org the source's events belong to.
	Org string `json:"org"`
	// Settings are the type's settings in their stored form: secrets the
	// type can hash are hashed, others (an Okta API token, a private key)
	// are kept because the poller must present them. The API never shows
	// the secret paths.
	Settings    json.RawMessage `json:"settings"`
	Created     time.Time       `json:"created"`
	LastUpdated time.Time       `json:"lastUpdated"`
	// ReadOnly marks sources declared in the config file.
	ReadOnly bool `json:"readOnly,omitempty"`
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
func NewID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [17]byte
	_, _ = rand.Read(b[:])
	out := []byte("0sr")
	for _, c := range b {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}
