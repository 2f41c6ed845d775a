package journal

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
)

// TestCompressionSetting: a journal written with compression none and
// then with the default (s2) holds batches of both kinds, each as its
// setting wrote it, and reads every event back as it was appended, in
// order; the compressed batches take a fraction of the bytes, and
// Written says so.
func TestCompressionSetting(t *testing.T) {
	dir := t.TempDir()
	open := func(c Compression) *Journal {
		j, err := Open(t.Context(), Options{DataDir: dir, Compression: c}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("open with compression %q: %v", c, err)
		}
		return j
	}
	plain := distinct(eventtest.OktaSamples(t, "acme"))
	packed := distinct(eventtest.OktaSamples(t, "globex"))
	j := open(CompressNone)
	if _, err := j.Append(t.Context(), plain); err != nil {
		t.Fatal(err)
	}
	if b, s := j.Written(); b == 0 || s != b {
		t.Errorf("written uncompressed: %d bytes encoded, %d stored; want the same, not 0", b, s)
	}
	j.Close()
	j = open("")
	defer j.Close()
	if _, err := j.Append(t.Context(), packed); err != nil {
		t.Fatal(err)
	}
	if b, s := j.Written(); s == 0 || 2*s > b {
		t.Errorf("written compressed: %d bytes encoded, %d stored; want less than half stored", b, s)
	}

	sizes := map[bool]int{}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := j.parts[0].stream.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		compressed := m.Data[3]&flagCompressed != 0
		if want := seq == 2; compressed != want {
			t.Errorf("message %d: compressed %v, want %v", seq, compressed, want)
		}
		sizes[compressed] = len(m.Data)
	}
	if sizes[true]*2 > sizes[false] {
		t.Errorf("the compressed batch takes %d bytes, the plain one %d: want less than half", sizes[true], sizes[false])
	}

	var got []event.Record
	err := j.Scan(t.Context(), "", ScanFrom{}, func(recs []event.Record, _ uint64, _ time.Time) bool {
		got = append(got, recs...)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := append(plain, packed...)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].UUID != want[i].UUID || got[i].Org != want[i].Org || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("event %d: got %s/%s (%d bytes), want %s/%s (%d bytes)", i, got[i].Org, got[i].UUID, len(got[i].Data),
				want[i].Org, want[i].UUID, len(want[i].Data))
		}
	}
}

// TestOpenRefusesUnknownCompression: a compression the journal does not
// write is refused at Open, before anything starts.
func TestOpenRefusesUnknownCompression(t *testing.T) {
	if j, err := Open(t.Context(), Options{DataDir: t.TempDir(), Compression: "zstd"}, slog.New(slog.DiscardHandler)); err == nil {
		j.Close()
		t.Fatal("opened with compression zstd, want an error")
	}
}

// distinct is recs without the ones whose uuid came before (the samples
// repeat some events), which the journal would drop as duplicates.
func distinct(recs []event.Record) []event.Record {
	seen := map[string]bool{}
	var out []event.Record
	for _, r := range recs {
		if !seen[r.UUID] {
			seen[r.UUID] = true
			out = append(out, r)
		}
	}
	return out
}
