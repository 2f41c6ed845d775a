package stream

import (
	"encoding/json"
	"time"

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

// FilterSubject is the journal subject filter for d's org.
func (d Definition) FilterSubject() string {
	if d.Org == "" || d.Org == "*" {
		return "audit.>"
	}
	return "audit." + d.Org + ".>"
}
