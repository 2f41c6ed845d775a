package journal

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
)

// TestJournalDecodeSharesInflatedJSON: two readers decoding the same
// compressed message through Journal.Decode get the same JSON buffer
// (decompressed once), the package's Decode a buffer of its own; once
// the cache has held its bound of newer batches the message is
// decompressed again, with the same result.
func TestJournalDecodeSharesInflatedJSON(t *testing.T) {
	recs := distinct(eventtest.OktaSamples(t, "acme"))
	z := compressedBatch(t, recs)
	j := &Journal{inflated: newInflateCache(3 * len(rawJSON(recs)))}
	m := Message{Subject: Subject("acme"), Data: z, Seq: 5}
	a, err := j.Decode(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := j.Decode(Message{Subject: m.Subject, Data: bytes.Clone(z), Seq: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	own, err := Decode(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	same := func(x, y []byte) bool { return unsafe.SliceData(x) == unsafe.SliceData(y) }
	if !same(a[0].Data, b[0].Data) {
		t.Error("the second reader decompressed the batch again")
	}
	if same(a[0].Data, own[0].Data) {
		t.Error("the package's Decode shared the journal's buffer")
	}
	// Three newer batches (other sequences) push it out.
	for seq := uint64(6); seq <= 8; seq++ {
		if _, err := j.Decode(Message{Subject: m.Subject, Data: z, Seq: seq}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(j.inflated.byMsg); n != 3 || j.inflated.bytes > j.inflated.max {
		t.Errorf("cache holds %d batches, %d bytes; want 3, at most %d", n, j.inflated.bytes, j.inflated.max)
	}
	c, err := j.Decode(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if same(a[0].Data, c[0].Data) {
		t.Error("a batch pushed out of the cache came from it")
	}
	for i := range a {
		if !bytes.Equal(a[i].Data, recs[i].Data) || !bytes.Equal(c[i].Data, recs[i].Data) {
			t.Errorf("event %d: JSON differs from what was encoded", i)
		}
	}
}

// rawJSON is the events' JSON back to back, as a batch holds it.
func rawJSON(recs []event.Record) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, r.Data...)
	}
	return b
}
