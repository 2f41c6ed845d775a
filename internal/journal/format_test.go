package journal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/klauspost/compress/s2"
)

func sampleRecords() []event.Record {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 123000000, time.UTC)
	return []event.Record{
		{UUID: "u-1", Org: "acme", EventType: "user.session.start", Published: t0, Data: []byte(`{"uuid":"u-1"}`)},
		{UUID: "u-2", Org: "acme", EventType: "a.b", Published: t0.Add(time.Second), Source: "aws.partner/okta",
			Account: "123456789012", Data: []byte(`{"uuid":"u-2","x":[1,2]}`)},
		{UUID: "", Org: "acme", EventType: "", Published: time.Unix(0, 0).UTC(), Data: []byte{}},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	in := sampleRecords()
	var enc batchEncoder
	b := enc.encode("acme", in, nil)
	out, err := Decode(Message{Subject: Subject("acme"), Data: bytes.Clone(b), Seq: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d records, want %d", len(out), len(in))
	}
	for i := range in {
		want := in[i]
		want.Seq = Position(7, i)
		got := out[i]
		if got.UUID != want.UUID || got.Org != want.Org || got.EventType != want.EventType || !got.Published.Equal(want.Published) ||
			got.Source != want.Source || got.Account != want.Account || !bytes.Equal(got.Data, want.Data) || got.Seq != want.Seq {
			t.Errorf("record %d: got %+v, want %+v", i, got, want)
		}
	}
	if seq, idx := SplitPosition(out[2].Seq); seq != 7 || idx != 2 {
		t.Errorf("SplitPosition: got %d, %d, want 7, 2", seq, idx)
	}
}

func TestDecodeLegacy(t *testing.T) {
	in := sampleRecords()[1]
	m := LegacyMessage(in)
	out, err := Decode(Message{Subject: m.Subject, Header: m.Header, Data: m.Data, Seq: 3}, nil)
	if err != nil || len(out) != 1 {
		t.Fatalf("got %v, %v; want one record", out, err)
	}
	got := out[0]
	if got.UUID != in.UUID || got.Org != "acme" || got.EventType != in.EventType || !got.Published.Equal(in.Published) ||
		got.Source != in.Source || got.Account != in.Account || got.Seq != Position(3, 0) || m.Subject != "audit.acme.a.b" {
		t.Errorf("got %+v on %s, want %+v at position %d", got, m.Subject, in, Position(3, 0))
	}
	// The oldest releases kept the uuid in the message id only.
	m.Header.Del(headerUUID)
	if out, _ := Decode(Message{Header: m.Header, Data: m.Data, Seq: 3}, nil); len(out) != 1 || out[0].UUID != "u-2" {
		t.Errorf("uuid from the message id: got %+v, want u-2", out)
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	var enc batchEncoder
	good := bytes.Clone(enc.encode("acme", sampleRecords(), nil))
	cases := map[string][]byte{
		"truncated":        good[:len(good)-3],
		"extra byte":       append(bytes.Clone(good), 'x'),
		"cut in the index": good[:12],
		"no headers, JSON": []byte(`{"uuid":"x"}`),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if out, err := Decode(Message{Data: b, Seq: 1}, nil); !errors.Is(err, ErrCorrupt) || len(out) != 0 {
				t.Errorf("got %d records, %v; want ErrCorrupt and none", len(out), err)
			}
		})
	}
}

func TestOrgSubjects(t *testing.T) {
	if got := OrgSubjects(""); len(got) != 1 || got[0] != AllSubjects {
		t.Errorf("all orgs: got %v", got)
	}
	if got := OrgSubjects("acme"); len(got) != 2 || got[0] != Subject("acme") || got[1] != "audit.acme.>" {
		t.Errorf("acme: got %v", got)
	}
	for subject, org := range map[string]string{"audit.acme": "acme", "audit.acme.user.x": "acme", "deadletter.x": ""} {
		if got := OrgOfSubject(subject); got != org {
			t.Errorf("OrgOfSubject(%s): got %q, want %q", subject, got, org)
		}
	}
	if n := eventsInMsgID(batchMsgID("abc", 7, 42)); n != 42 {
		t.Errorf("events in a batch id: got %d, want 42", n)
	}
	if n := eventsInMsgID("acme/u.1.5"); n != 1 {
		t.Errorf("events in a version 1 id: got %d, want 1", n)
	}
}

// FuzzDecode: no input panics, and what decodes re-encodes to itself.
func FuzzDecode(f *testing.F) {
	var enc batchEncoder
	f.Add(bytes.Clone(enc.encode("acme", sampleRecords(), nil)))
	f.Add([]byte("AR\x01\x00\x04acme\x01"))
	spans := sampleRecords()
	spans[1].Spans = event.Spans{Actor: event.Span{Start: 9, End: 14}, Known: true}
	spans[0].Spans = event.Spans{Known: true}
	f.Add(bytes.Clone(enc.encode("acme", spans, nil)))
	f.Add(compressedBatch(f, eventtest.OktaSamples(f, "acme")))
	for _, name := range []string{"testdata/batch-v1.bin", "testdata/batch-v1-chained.bin"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Decode(Message{Data: b, Seq: 1}, nil)
		if err != nil || !isBatch(b) {
			return
		}
		var e batchEncoder
		if again := e.encode(out[0].Org, out, prevOf(b)); !bytes.Equal(again, b) && canonical(b) {
			t.Errorf("re-encoded %x, want %x", again, b)
		}
	})
}

// canonical reports whether b uses minimal varints (the encoder's) and is
// not compressed (S2 blocks have many encodings), so a round trip must
// give the same bytes.
func canonical(b []byte) bool {
	if b[3]&flagCompressed != 0 {
		return false
	}
	out, err := Decode(Message{Data: b, Seq: 1}, nil)
	if err != nil {
		return false
	}
	var e batchEncoder
	return len(e.encode(out[0].Org, out, prevOf(b))) == len(b)
}

// prevOf is the chain head a batch stores, nil for an unchained one.
func prevOf(b []byte) *Head {
	if h, ok := ChainedBatch(b); ok {
		return &h
	}
	return nil
}

// TestChainedBatch: a chained batch decodes to the same records as an
// unchained one and gives back its head; an unchained one has none.
func TestChainedBatch(t *testing.T) {
	in := sampleRecords()
	var enc batchEncoder
	plain := bytes.Clone(enc.encode("acme", in, nil))
	var hs Hasher
	prev := hs.Append(Head{}, []byte("earlier"))
	chained := bytes.Clone(enc.encode("acme", in, &prev))
	if len(chained) != len(plain)+32 || chained[3] != flagChained {
		t.Fatalf("chained batch: got %d bytes with flags %#x, want %d with 0x01", len(chained), chained[3], len(plain)+32)
	}
	a, err1 := Decode(Message{Data: plain, Seq: 5}, nil)
	b, err2 := Decode(Message{Data: chained, Seq: 5}, nil)
	if err1 != nil || err2 != nil || len(a) != len(b) {
		t.Fatalf("decode: got %v, %v", err1, err2)
	}
	for i := range a {
		if a[i].UUID != b[i].UUID || a[i].Org != b[i].Org || !bytes.Equal(a[i].Data, b[i].Data) || a[i].Seq != b[i].Seq {
			t.Errorf("record %d: got %+v, want %+v", i, b[i], a[i])
		}
	}
	if h, ok := ChainedBatch(chained); !ok || h != prev {
		t.Errorf("ChainedBatch: got %v, %v, want %v", h, ok, prev)
	}
	if _, ok := ChainedBatch(plain); ok {
		t.Error("ChainedBatch of an unchained batch: got true")
	}
	if out, err := Decode(Message{Data: append([]byte{'A', 'R', 1, 4}, plain[4:]...), Seq: 1}, nil); !errors.Is(err, ErrNewer) || len(out) != 0 {
		t.Errorf("unknown flag: got %d records, %v, want ErrNewer", len(out), err)
	}
	if out, err := Decode(Message{Data: chained[:12], Seq: 1}, nil); !errors.Is(err, ErrCorrupt) || len(out) != 0 {
		t.Errorf("cut in the head: got %d records, %v, want ErrCorrupt", len(out), err)
	}
}

// TestChainDefinition pins the chain's hashes (docs/integrity.md), which
// every verifier, in any language, recomputes.
func TestChainDefinition(t *testing.T) {
	var hs Hasher
	leaf := hs.Leaf([]byte(`{"uuid":"u-1"}`))
	want := sha256.Sum256(append([]byte{0}, `{"uuid":"u-1"}`...))
	if leaf != Head(want) {
		t.Errorf("leaf: got %v, want %x", leaf, want)
	}
	next := hs.Next(Head{}, leaf)
	wantNext := sha256.Sum256(append(append([]byte{1}, make([]byte, 32)...), leaf[:]...))
	if next != Head(wantNext) {
		t.Errorf("next: got %v, want %x", next, wantNext)
	}
	if got := hs.Append(Head{}, []byte(`{"uuid":"u-1"}`)); got != next {
		t.Errorf("Append: got %v, want %v", got, next)
	}
}

// compressedBatch is a batch of recs chained after Head{1, 2, 3},
// compressed.
func compressedBatch(tb testing.TB, recs []event.Record) []byte {
	tb.Helper()
	var enc batchEncoder
	prev := Head{1, 2, 3}
	enc.encode("acme", recs, &prev)
	z := enc.compress(nil)
	if z == nil {
		tb.Fatal("the sample events did not compress")
	}
	return z
}

// TestCompressedBatch: a compressed batch is smaller, carries the flag and
// the same chain head, and decodes to the same records as the batch
// uncompressed, their data in a buffer of their own.
func TestCompressedBatch(t *testing.T) {
	in := distinct(eventtest.OktaSamples(t, "acme"))
	var enc batchEncoder
	prev := Head{1, 2, 3}
	plain := bytes.Clone(enc.encode("acme", in, &prev))
	z := compressedBatch(t, in)
	if z[3] != flagChained|flagCompressed || plain[3] != flagChained {
		t.Errorf("flags: compressed %#x, plain %#x; want %#x and %#x", z[3], plain[3], flagChained|flagCompressed, flagChained)
	}
	if len(z) >= len(plain)/2 {
		t.Errorf("compressed %d bytes of %d, want less than half (the distinct samples shrink about 2.7-fold)", len(z), len(plain))
	}
	if h, ok := ChainedBatch(z); !ok || h != prev {
		t.Errorf("ChainedBatch: got %v %v, want %v", h, ok, prev)
	}
	want, err := Decode(Message{Subject: Subject("acme"), Data: plain, Seq: 9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(Message{Subject: Subject("acme"), Data: z, Seq: 9}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) || len(want) != len(in) {
		t.Fatalf("got %d and %d records, want %d", len(got), len(want), len(in))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.UUID != w.UUID || g.EventType != w.EventType || !g.Published.Equal(w.Published) || g.Seq != w.Seq ||
			g.Spans != w.Spans || !bytes.Equal(g.Data, in[i].Data) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("record %d: got %s (%d bytes), want %s (%d bytes), the same as the batch uncompressed", i, g.UUID, len(g.Data), w.UUID, len(w.Data))
		}
	}
	// Data does not point into the message: its bytes are the block.
	first := &got[0].Data[0]
	if uintptr(unsafe.Pointer(first)) >= uintptr(unsafe.Pointer(&z[0])) && uintptr(unsafe.Pointer(first)) < uintptr(unsafe.Pointer(&z[0]))+uintptr(len(z)) {
		t.Error("a record's data points into the compressed message")
	}
}

// TestCompressOnlyWhenSmaller: JSON that S2 cannot shrink, too little to
// be worth it, or more than a message holds is published as it is.
func TestCompressOnlyWhenSmaller(t *testing.T) {
	small := []byte(`{"a":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`)
	if len(small) >= minCompress || len(s2.Encode(nil, small)) >= len(small) {
		t.Fatalf("the small event (%d bytes) must be under %d bytes and shrink", len(small), minCompress)
	}
	huge := append(append([]byte(`{"a":"`), bytes.Repeat([]byte("a"), maxPayload)...), `"}`...)
	for name, ev := range map[string]event.Record{
		"random":    eventtest.Parse(t, `{"uuid":"n","eventType":"x","pad":"`+eventtest.Noise("n", 2000)+`"}`),
		"too small": {UUID: "s", Org: "acme", Data: small},
		// Decode refuses a block that decodes to more than a message.
		"more than a message holds": {UUID: "h", Org: "acme", Data: huge},
	} {
		var enc batchEncoder
		enc.encode("acme", []event.Record{ev}, nil)
		if z := enc.compress(nil); z != nil {
			t.Errorf("%s: compressed %d bytes to %d, want it left as it is", name, len(ev.Data), len(z))
		}
	}
}

// TestDecodeRefusesDamagedCompression: a block cut short and one whose
// decoded length is not what the index says are ErrCorrupt, with no
// records.
func TestDecodeRefusesDamagedCompression(t *testing.T) {
	samples := eventtest.OktaSamples(t, "acme")
	good := compressedBatch(t, samples)
	var enc batchEncoder
	plain := enc.encode("acme", samples, nil)
	head := bytes.Clone(plain[:enc.dataStart])
	head[3] |= flagCompressed
	cases := map[string][]byte{
		"truncated block": good[:len(good)-10],
		// The index's lengths add up to one byte less than the block.
		"block of another length": append(head, s2.Encode(nil, append(bytes.Clone(plain[enc.dataStart:]), ' '))...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if out, err := Decode(Message{Data: b, Seq: 1}, nil); !errors.Is(err, ErrCorrupt) || len(out) != 0 {
				t.Errorf("got %d records, %v; want ErrCorrupt and none", len(out), err)
			}
		})
	}
}

// TestDecodeNewer: a batch of a version or with a flag this release does
// not know is ErrNewer, not ErrCorrupt: readers that must not lose its
// events wait for an upgrade instead of skipping it.
func TestDecodeNewer(t *testing.T) {
	var enc batchEncoder
	good := bytes.Clone(enc.encode("acme", sampleRecords(), nil))
	for name, b := range map[string][]byte{
		"newer version": append([]byte{'A', 'R', 9, 0}, good[4:]...),
		"unknown flag":  append([]byte{'A', 'R', batchVersion, good[3] | 0x04}, good[4:]...),
	} {
		out, err := Decode(Message{Data: b, Seq: 1}, nil)
		if !errors.Is(err, ErrNewer) || errors.Is(err, ErrCorrupt) || len(out) != 0 {
			t.Errorf("%s: got %d records, %v; want ErrNewer (not ErrCorrupt) and none", name, len(out), err)
		}
	}
}
