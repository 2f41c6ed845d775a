package query

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"

	"github.com/auditstream/auditstream/internal/journal"
)

// A cursor (the after parameter) is opaque to clients: base64url of a small
// JSON position, a dot, and an HMAC-SHA256 over it keyed by the install's
// secret, so a cursor cannot be forged or edited. It carries a fingerprint
// of the query it belongs to (org, mode, filter, q, sortOrder, since,
// until as given), so it cannot be replayed against another query.
//
// Version 2 cursors (with record batches, issue 12) hold journal
// positions (journal.Position: message sequence and index in the message).
// Cursors of earlier releases have no version and hold message sequences
// of one-event (version 1) messages: openCursor maps such a sequence s to
// journal.Position(s, 0), the position of that very event, so a client
// that pages across an upgrade neither skips nor repeats events.

// cursor is a position in one query's results.
type cursor struct {
	// V is the cursor's version: cursorVersion, or 0 for a cursor issued
	// before record batches (openCursor upgrades it).
	V uint8 `json:"v,omitempty"`
	// Mode is "p" (polling: journal order) or "b" (bounded: published order).
	Mode string `json:"m"`
	// Seq is a journal position: for polling, the last one examined (or
	// endOf a message examined whole); for bounded queries the position of
	// the last event returned (the final tie-break).
	Seq uint64 `json:"s,omitempty"`
	// Pub and UUID are the last bounded event returned.
	Pub  int64  `json:"p,omitempty"`
	UUID string `json:"u,omitempty"`
	// Lo and Hi are a bounded query's effective time range (unix nanos),
	// fixed on its first page so "until = now" does not move.
	Lo int64 `json:"lo,omitempty"`
	Hi int64 `json:"hi,omitempty"`
	// Parts is a polling cursor of every org on a partitioned journal:
	// the position in each partition (as Seq), noPosition where nothing
	// was examined yet; Turn is the partition the next page reads first.
	Parts []uint64 `json:"ps,omitempty"`
	Turn  int      `json:"t,omitempty"`
	// FP is the query fingerprint.
	FP uint64 `json:"f"`
}

// errBadCursor is any cursor this server did not issue, or issued for
// another query.
var errBadCursor = errors.New("invalid cursor")

// macLen is how many bytes of the HMAC a cursor carries.
const macLen = 16

// cursorVersion is the version of the cursors this release issues.
const cursorVersion = 2

// sealCursor returns the cursor c as a client sees it (c.V is set to
// cursorVersion).
func sealCursor(key []byte, c cursor) string {
	c.V = cursorVersion
	payload, _ := json.Marshal(c)
	return sealPayload(key, payload)
}

// sealPayload signs a cursor's JSON.
func sealPayload(key, payload []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	sum := m.Sum(nil)[:macLen]
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sum)
}

func openCursor(key []byte, s string, fp uint64) (cursor, error) {
	p, sig, ok := strings.Cut(s, ".")
	if !ok {
		return cursor{}, errBadCursor
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return cursor{}, errBadCursor
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return cursor{}, errBadCursor
	}
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	if !hmac.Equal(got, m.Sum(nil)[:macLen]) {
		return cursor{}, errBadCursor
	}
	var c cursor
	if err := json.Unmarshal(payload, &c); err != nil || c.FP != fp || (c.Mode != "p" && c.Mode != "b") {
		return cursor{}, errBadCursor
	}
	switch c.V {
	case 0: // a message sequence of a version 1 message (one event)
		c.Seq, c.V = journal.Position(c.Seq, 0), cursorVersion
	case cursorVersion:
	default:
		return cursor{}, errBadCursor
	}
	return c, nil
}

// fingerprint hashes the parts of a query a cursor is bound to.
func fingerprint(parts ...string) uint64 {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return binary.BigEndian.Uint64(h.Sum(nil))
}
