package kvstore

import (
	"crypto/rand"
	"encoding/json"
	"time"
)

// Lifecycle statuses of a definition (Okta's words, for log streams and
// sources alike).
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// Header is what every definition a Catalog keeps (a log stream, a source)
// begins with. Definitions embed it first, so that their stored JSON keeps
// these members first and in this order.
type Header struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Name   string `json:"name"`
	Status string `json:"status"`
	// Org is the org the definition belongs to; auth.AllOrgs for a log
	// stream of every org.
	Org string `json:"org"`
	// Settings are the type's settings in their stored form, secrets
	// included; the API removes the secret paths before it shows them.
	Settings json.RawMessage `json:"settings"`
}

// EntryKey is the definition's id (Entry).
func (h Header) EntryKey() string { return h.ID }

// Stamps are the times and the read-only mark a definition embeds after
// its own members (Entry).
type Stamps struct {
	Created     time.Time `json:"created"`
	LastUpdated time.Time `json:"lastUpdated"`
	// ReadOnly marks definitions declared in the config file.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// EntryCreated is the definition's creation time.
func (s Stamps) EntryCreated() time.Time { return s.Created }

// EntryReadOnly reports whether the definition comes from the config file.
func (s Stamps) EntryReadOnly() bool { return s.ReadOnly }

// markReadOnly sets ReadOnly; OpenCatalog marks the config file's entries
// with it.
func (s *Stamps) markReadOnly() { s.ReadOnly = true }

// NewID returns a fresh definition id in Okta's style: prefix ("0oa" for
// log streams, "0sr" for sources) and 17 random characters.
func NewID(prefix string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [17]byte
	_, _ = rand.Read(b[:])
	out := []byte(prefix)
	for _, c := range b {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}
