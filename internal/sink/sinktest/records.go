package sinktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// Records returns n records shaped like Okta LogEvents, with sequence
// numbers from 1, fresh uuids, and Data of varied sizes between minBytes and
// maxBytes (roughly: the JSON envelope adds ~250 bytes to the padding). The
// sizes are deterministic for a given n and bounds; the uuids are not.
func Records(n, minBytes, maxBytes int) []event.Record {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(maxBytes)))
	recs := make([]event.Record, n)
	for i := range recs {
		pad := minBytes
		if maxBytes > minBytes {
			pad += rng.IntN(maxBytes - minBytes)
		}
		recs[i] = Record(i+1, pad)
	}
	return recs
}

// Record returns one record like those of Records, with sequence number
// seq, a fresh uuid and pad bytes of padding in its Data.
func Record(seq, pad int) event.Record {
	id := uuid.NewString()
	published := time.Date(2024, 8, 13, 15, 58, 20, 0, time.UTC).Add(time.Duration(seq) * time.Millisecond)
	data, err := json.Marshal(map[string]any{
		"uuid":         id,
		"published":    published.Format(time.RFC3339Nano),
		"eventType":    "user.session.start",
		"severity":     "INFO",
		"version":      "0",
		"actor":        map[string]any{"id": "00u1", "type": "User", "alternateId": "ada@example.com"},
		"outcome":      map[string]any{"result": "SUCCESS"},
		"debugContext": map[string]any{"debugData": map[string]any{"pad": padding(pad, seq)}},
	})
	if err != nil {
		panic(err) // cannot happen: plain maps and strings
	}
	return event.Record{
		UUID:      id,
		Seq:       uint64(seq),
		Org:       "example",
		EventType: "user.session.start",
		Published: published,
		Data:      data,
	}
}

// RecordOfSize returns a record like Record's whose s.EncodedSize is size,
// searching over the padding. ok is false when no padding gives exactly
// size (an encoding that grows in steps, or size too small for an event).
func RecordOfSize(s sink.Sink, seq, size int) (r event.Record, ok bool) {
	pad := 0
	for range 64 {
		r = Record(seq, pad)
		got := s.EncodedSize(r)
		if got == size {
			return r, true
		}
		next := pad + size - got
		if next < 0 || next == pad {
			return r, false
		}
		pad = next
	}
	return r, false
}

// padding returns n bytes of padding: characters JSON escapes first (so a
// sink that re-encodes instead of passing Data through is noticed), then
// letters, so that Data grows by one byte per byte of padding.
func padding(n, seq int) string {
	const special = ` <>&"\é€ `
	const letters = "abcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	b.Grow(n)
	if n >= len(special) {
		b.WriteString(special)
	}
	rotated := letters[seq%26:] + letters[:seq%26]
	rest := n - b.Len()
	b.WriteString(strings.Repeat(rotated, rest/26+1)[:rest])
	return b.String()
}

// Batches groups recs into batches the way the runner does: in order, each
// batch as large as s.Limits allows counting s.EncodedSize, a new batch
// when the next record would not fit. A record that fits no batch is an
// error, as the runner would dead-letter it.
func Batches(s sink.Sink, recs []event.Record) ([]sink.Batch, error) {
	lim := s.Limits()
	var (
		out   []sink.Batch
		cur   []event.Record
		bytes int
	)
	for _, r := range recs {
		size := s.EncodedSize(r)
		if lim.MaxEventBytes > 0 && size > lim.MaxEventBytes {
			return nil, fmt.Errorf("record %s: encoded size %d over MaxEventBytes %d", r.UUID, size, lim.MaxEventBytes)
		}
		if lim.MaxBytes > 0 && size > lim.MaxBytes {
			return nil, fmt.Errorf("record %s: encoded size %d over MaxBytes %d", r.UUID, size, lim.MaxBytes)
		}
		full := (lim.MaxEvents > 0 && len(cur) == lim.MaxEvents) ||
			(lim.MaxBytes > 0 && bytes+size > lim.MaxBytes)
		if full && len(cur) > 0 {
			out = append(out, sink.Batch{Records: cur})
			cur, bytes = nil, 0
		}
		cur = append(cur, r)
		bytes += size
	}
	if len(cur) > 0 {
		out = append(out, sink.Batch{Records: cur})
	}
	return out, nil
}

// RecordID reads the "uuid" member of an event, the ID fakes report.
func RecordID(data []byte) (string, error) {
	var ev struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return "", fmt.Errorf("decode event: %w", err)
	}
	if ev.UUID == "" {
		return "", fmt.Errorf("event has no uuid")
	}
	return ev.UUID, nil
}

// ReceivedFrom is the end of a fake's DecodeFunc: each item's event (a
// copy of what data returns) with its uuid as ID, in order.
func ReceivedFrom[T any](items []T, data func(T) []byte) ([]Received, error) {
	out := make([]Received, len(items))
	for i, it := range items {
		d := bytes.Clone(data(it))
		id, err := RecordID(d)
		if err != nil {
			return nil, err
		}
		out[i] = Received{ID: id, Data: d}
	}
	return out, nil
}

// EqualWithout reports whether event and got are the same JSON object
// once the members named drop are removed from got: a destination's
// document is the event plus members the sink adds.
func EqualWithout(event, got []byte, drop ...string) bool {
	var a, b map[string]any
	if json.Unmarshal(event, &a) != nil || json.Unmarshal(got, &b) != nil {
		return false
	}
	for _, k := range drop {
		delete(b, k)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
