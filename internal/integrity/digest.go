package integrity

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// System Log event types of the trail, in the org they are about.
const (
	// EventDigest carries a signed digest of a range of the org's events.
	EventDigest = "system.integrity.digest"
	// EventTruncation carries a signed truncation digest: events removed
	// on purpose (retention, an operator's purge, a loss found at start).
	EventTruncation = "system.integrity.truncation"
	// EventChainBroken reports a chain link that does not hold, found by
	// the digester (an ERROR).
	EventChainBroken = "system.integrity.chain_broken"
)

// Digest kinds.
const (
	KindDigest     = "digest"
	KindTruncation = "truncation"
)

// Truncation reasons.
const (
	ReasonRetention = "retention"
	ReasonPurge     = "purge"
	ReasonLost      = "lost"
	ReasonMaxAge    = "maxAge"
)

// Digest is the signed statement about a range of one org's chain (Kind
// digest) or about events removed from its start (Kind truncation). It is
// the payload of a SignJSON envelope, which the event EventDigest or
// EventTruncation carries as a string (debugContext.debugData.digest), so
// the signed bytes stay exact whatever re-encodes the event.
type Digest struct {
	Version int    `json:"version"`
	Kind    string `json:"kind"`
	Org     string `json:"org"`
	// FirstPosition and LastPosition bound the range (journal positions,
	// inclusive); Count is its chained events.
	FirstPosition  uint64 `json:"firstPosition,omitempty"`
	LastPosition   uint64 `json:"lastPosition,omitempty"`
	Count          int    `json:"count,omitempty"`
	FirstPublished string `json:"firstPublished,omitempty"`
	LastPublished  string `json:"lastPublished,omitempty"`
	// PrevHead is the chain head before the range, Head the head after
	// its last event (hex).
	PrevHead string `json:"prevHead,omitempty"`
	Head     string `json:"head,omitempty"`
	// MerkleRoot is the RFC 6962 tree head of the range's leaves (hex).
	MerkleRoot string `json:"merkleRoot,omitempty"`
	// PrevDigest is the SHA-256 (hex) of the org's previous digest
	// envelope, "" for the first.
	PrevDigest string `json:"prevDigest"`
	// Breaks are chain links in the range that did not hold when it was
	// digested (the chain goes on from the head the batch stores).
	Breaks []Break `json:"breaks,omitempty"`
	// Time is when the digest was made; KeyID the key that signs it.
	Time  string `json:"time"`
	KeyID string `json:"keyId"`
	// Truncation: events at positions below RemovedBefore were removed
	// for Reason; HeadAtCut is the chain head after the last removed
	// event (the head the first remaining batch stores).
	Reason        string `json:"reason,omitempty"`
	RemovedBefore uint64 `json:"removedBefore,omitempty"`
	// RemovedAfter, for a gap in the middle (a loss), is the position of
	// the last event before it.
	RemovedAfter uint64 `json:"removedAfter,omitempty"`
	HeadAtCut    string `json:"headAtCut,omitempty"`
}

// Break is a chain link that does not hold: the batch whose first event is
// at Position stores a head (Stored) other than the one recomputed from
// the events before it (Want).
type Break struct {
	Position uint64 `json:"position"`
	UUID     string `json:"uuid"`
	Want     string `json:"want"`
	Stored   string `json:"stored"`
	// Follows is the position of the last event of an earlier batch whose
	// head the batch stores (a batch moved or re-inserted), 0 if none.
	Follows uint64 `json:"follows,omitempty"`
	// After is the position of the org's last event before the batch.
	After uint64 `json:"after,omitempty"`
}

// SignedDigest is a digest with its envelope.
type SignedDigest struct {
	Digest
	// Envelope is the signed JSON (SignJSON) as stored.
	Envelope []byte
	// Position is where the event carrying it is in the journal; UUID
	// is that event's uuid.
	Position uint64
	UUID     string
}

// Hash is the SHA-256 (hex) of the envelope, which the next digest names
// as PrevDigest.
func (d SignedDigest) Hash() string {
	s := sha256.Sum256(d.Envelope)
	return hex.EncodeToString(s[:])
}

// DigestEvent builds the System Log event carrying a signed digest.
func DigestEvent(kr *Keyring, d Digest, now time.Time) (event.Record, []byte, error) {
	d.Version = 1
	d.KeyID = kr.SigningKeyID()
	if d.Time == "" {
		d.Time = now.UTC().Format(time.RFC3339Nano)
	}
	env, err := SignJSON(kr, d)
	if err != nil {
		return event.Record{}, nil, err
	}
	typ, msg, sev := EventDigest, fmt.Sprintf("Signed digest of %d events", d.Count), sysevent.SeverityInfo
	if d.Kind == KindTruncation {
		typ, msg = EventTruncation, fmt.Sprintf("Events before position %d removed (%s); signed truncation digest", d.RemovedBefore, d.Reason)
	}
	if len(d.Breaks) > 0 {
		sev = sysevent.SeverityError
		msg += fmt.Sprintf("; the hash chain is broken at %d places", len(d.Breaks))
	}
	ev, err := sysevent.New(sysevent.Spec{Type: typ, Severity: sev, Message: msg, Org: d.Org,
		Debug: map[string]any{"digest": string(env)}}, now)
	return ev, env, err
}

// ErrNotDigest: the event carries no digest.
var ErrNotDigest = errors.New("not a digest event")

// IsDigestType reports the event types that carry digests.
func IsDigestType(eventType string) bool {
	return eventType == EventDigest || eventType == EventTruncation
}

// ParseDigestEvent reads the signed digest out of an event's JSON without
// verifying it.
func ParseDigestEvent(data []byte) (SignedDigest, error) {
	var ev struct {
		DebugContext struct {
			DebugData struct {
				Digest string `json:"digest"`
			} `json:"debugData"`
		} `json:"debugContext"`
	}
	if err := json.Unmarshal(data, &ev); err != nil || ev.DebugContext.DebugData.Digest == "" {
		return SignedDigest{}, ErrNotDigest
	}
	env := []byte(ev.DebugContext.DebugData.Digest)
	e, err := ParseEnvelope(env)
	if err != nil {
		return SignedDigest{}, err
	}
	var d Digest
	if err := json.Unmarshal(e.Payload, &d); err != nil {
		return SignedDigest{}, fmt.Errorf("digest: %w", err)
	}
	return SignedDigest{Digest: d, Envelope: env}, nil
}

// Chain recomputes one org's hash chain over its record batches in
// journal order and reports the links that do not hold. The zero value
// expects the chain's start (a batch storing the zero head); Anchor sets
// another head to continue from.
type Chain struct {
	// Head is the head after the last event added.
	Head journal.Head
	// Started is false until a chained batch was added or Anchor called.
	Started bool
	// FirstPrev is the head the first chained batch stored (non-zero when
	// earlier events are gone), and FirstPosition its first event.
	FirstPrev     journal.Head
	FirstPosition uint64
	hs            journal.Hasher
	ends          map[journal.Head]uint64
	lastPos       uint64
}

// Anchor continues the chain from head (a digest's).
func (c *Chain) Anchor(head journal.Head) {
	c.Head, c.Started = head, true
}

// Add checks one message of the org, decoded into recs, and calls fn for
// each of its events with its leaf and the head after it. It reports
// whether the message is chained (unchained ones, written before the
// chain, are skipped) and the break at this batch, if its stored head is
// not the chain's; the chain then goes on from the stored head.
func (c *Chain) Add(m journal.Message, recs []event.Record, fn func(rec *event.Record, leaf, head journal.Head)) (bool, *Break) {
	prev, chained := journal.ChainedBatch(m.Data)
	if !chained || len(recs) == 0 {
		return false, nil
	}
	if c.ends == nil {
		c.ends = map[journal.Head]uint64{}
	}
	var brk *Break
	switch {
	case !c.Started:
		c.Started, c.FirstPrev, c.FirstPosition = true, prev, recs[0].Seq
	case prev != c.Head:
		brk = &Break{Position: recs[0].Seq, UUID: recs[0].UUID, Want: c.Head.String(), Stored: prev.String(), Follows: c.ends[prev], After: c.lastPos}
	}
	h := prev
	for i := range recs {
		leaf := c.hs.Leaf(recs[i].Data)
		h = c.hs.Next(h, leaf)
		if fn != nil {
			fn(&recs[i], leaf, h)
		}
	}
	c.Head = h
	c.lastPos = recs[len(recs)-1].Seq
	c.ends[h] = c.lastPos
	return true, brk
}

// hexHead parses a head written in hex.
func hexHead(s string) (journal.Head, bool) {
	var h journal.Head
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, false
	}
	copy(h[:], b)
	return h, true
}
