package journal

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// TestBatchSpans: a record batch carries each event's actor and target
// spans (known, absent members, not known) and Decode gives them back;
// spans that do not fit their event are written as not known.
func TestBatchSpans(t *testing.T) {
	in := sampleRecords()
	in[0].Data = []byte(`{"uuid":"u-1","actor":{"id":"a"},"target":[{"id":"t"}]}`)
	in[0].Spans = event.Spans{Actor: event.Span{Start: 22, End: 32}, Target: event.Span{Start: 42, End: 54}, Known: true}
	in[1].Spans = event.Spans{Known: true} // neither member
	// in[2]: not known
	bad := in[1]
	bad.Spans = event.Spans{Actor: event.Span{Start: 5, End: 500}, Known: true} // does not fit its data
	in = append(in, bad)
	var enc batchEncoder
	out, err := Decode(Message{Subject: Subject("acme"), Data: bytes.Clone(enc.encode("acme", in, nil)), Seq: 7}, nil)
	if err != nil || len(out) != len(in) {
		t.Fatalf("got %d records, %v; want %d", len(out), err, len(in))
	}
	want := []event.Spans{in[0].Spans, in[1].Spans, {}, {}}
	for i := range out {
		if out[i].Spans != want[i] {
			t.Errorf("record %d: got spans %+v, want %+v", i, out[i].Spans, want[i])
		}
	}
	if a, tg, ok := out[0].Spans.Of(out[0].Data); !ok || string(a) != `{"id":"a"}` || string(tg) != `[{"id":"t"}]` {
		t.Errorf("record 0: got actor %s, target %s (%v)", a, tg, ok)
	}
}

// TestBatchSpansOkta: the spans of real Okta LogEvents, as ingest parses
// them, survive the record batch.
func TestBatchSpansOkta(t *testing.T) {
	recs := oktaEvents(t)
	var enc batchEncoder
	out, err := Decode(Message{Subject: Subject("acme"), Data: bytes.Clone(enc.encode("acme", recs, nil)), Seq: 1}, nil)
	if err != nil || len(out) != len(recs) {
		t.Fatalf("got %d records, %v; want %d", len(out), err, len(recs))
	}
	for i := range out {
		if !recs[i].Spans.Known || out[i].Spans != recs[i].Spans {
			t.Errorf("record %d: got spans %+v, want %+v (known)", i, out[i].Spans, recs[i].Spans)
		}
	}
}

// TestDecodeBatchV1: record batches written before the spans (batch
// version 1, kept byte for byte in testdata) still decode, with the spans
// not known, chained or not.
func TestDecodeBatchV1(t *testing.T) {
	recs := oktaEvents(t)[:3]
	for _, name := range []string{"batch-v1.bin", "batch-v1-chained.bin"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if b[2] != batchVersionNoSpans {
				t.Fatalf("fixture has batch version %d, want %d", b[2], batchVersionNoSpans)
			}
			out, err := Decode(Message{Subject: Subject("acme"), Data: b, Seq: 9}, nil)
			if err != nil || len(out) != len(recs) {
				t.Fatalf("got %d records, %v; want %d", len(out), err, len(recs))
			}
			for i, got := range out {
				want := recs[i]
				if got.UUID != want.UUID || got.Org != "acme" || got.EventType != want.EventType || !got.Published.Equal(want.Published) ||
					!bytes.Equal(got.Data, want.Data) || got.Seq != Position(9, i) || got.Spans != (event.Spans{}) {
					t.Errorf("record %d: got %+v, want %+v without spans", i, got, want)
				}
			}
			if out[1].Source != "aws.partner/okta.com/acme" || out[1].Account != "123456789012" {
				t.Errorf("record 1: got source %q account %q", out[1].Source, out[1].Account)
			}
			_, chained := ChainedBatch(b)
			if want := name == "batch-v1-chained.bin"; chained != want {
				t.Errorf("chained: got %v, want %v", chained, want)
			}
		})
	}
}

// TestDecodeRefusesBadSpans: spans that do not fit their event, or an
// unknown spans marker, make the batch unreadable (as any other damage).
func TestDecodeRefusesBadSpans(t *testing.T) {
	rec := event.Record{UUID: "u", Org: "acme", EventType: "x", Data: []byte(`{"actor":1}`),
		Spans: event.Spans{Actor: event.Span{Start: 9, End: 10}, Known: true}}
	var enc batchEncoder
	good := bytes.Clone(enc.encode("acme", []event.Record{rec}, nil))
	if _, err := Decode(Message{Data: good, Seq: 1}, nil); err != nil {
		t.Fatal(err)
	}
	// The event's spans are the 9 bytes before the data: their length
	// (8), then actor start 9, length 1, target start 0, length 0 (16
	// bits each, little-endian).
	at := len(good) - len(rec.Data) - 9
	if !bytes.Equal(good[at:at+9], []byte{8, 9, 0, 1, 0, 0, 0, 0, 0}) {
		t.Fatalf("spans bytes: got %v", good[at:at+9])
	}
	set := func(spans ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[at:], spans)
		return b
	}
	cases := map[string][]byte{
		"length byte 4":    set(4),
		"length byte 200":  set(200),
		"length byte 16":   set(16),
		"start past data":  set(8, 11),
		"start, no length": set(8, 9, 0, 0),
		"length, no start": set(8, 9, 0, 1, 0, 0, 0, 1),
		"length past data": set(8, 9, 0, 3),
		"target past data": set(8, 9, 0, 1, 0, 10, 0, 2),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if out, err := Decode(Message{Data: b, Seq: 1}, nil); !errors.Is(err, ErrCorrupt) || len(out) != 0 {
				t.Errorf("got %d records, %v; want ErrCorrupt and none", len(out), err)
			}
		})
	}
}

// TestBatchSpansWide: spans past 64 KiB (a large event) take 32 bits.
func TestBatchSpansWide(t *testing.T) {
	data := append(append([]byte(`{"eventType":"x","pad":"`), bytes.Repeat([]byte("p"), 70000)...), `","actor":{"id":"a"},"target":[]}`...)
	rec, err := event.Parse(data, "acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rec.Spans.Target.End <= 1<<16 {
		t.Fatalf("target span %+v: want it past 64 KiB", rec.Spans.Target)
	}
	var enc batchEncoder
	b := enc.encode("acme", []event.Record{rec}, nil)
	if at := len(b) - len(rec.Data) - 17; b[at] != 16 {
		t.Fatalf("spans length byte: got %d, want 16", b[at])
	}
	out, err := Decode(Message{Data: bytes.Clone(b), Seq: 1}, nil)
	if err != nil || len(out) != 1 || out[0].Spans != rec.Spans {
		t.Fatalf("got %+v, %v; want spans %+v", out, err, rec.Spans)
	}
}
