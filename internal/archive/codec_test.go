package archive

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

func TestNewCodec(t *testing.T) {
	tests := []struct {
		name        string
		format      Format
		compression Compression
		columns     []string
		wantFormat  Format
		wantComp    Compression
		ext, ctype  string
		wantErr     []string
	}{
		{name: "defaults", wantFormat: NDJSON, wantComp: Gzip, ext: ".jsonl.gz", ctype: "application/x-ndjson"},
		{name: "ndjson zstd", format: NDJSON, compression: Zstd, wantFormat: NDJSON, wantComp: Zstd, ext: ".jsonl.zst", ctype: "application/x-ndjson"},
		{name: "ndjson none", format: NDJSON, compression: None, wantFormat: NDJSON, wantComp: None, ext: ".jsonl", ctype: "application/x-ndjson"},
		{name: "csv default compression", format: CSV, wantFormat: CSV, wantComp: Gzip, ext: ".csv.gz", ctype: "text/csv"},
		{name: "csv zstd", format: CSV, compression: Zstd, wantFormat: CSV, wantComp: Zstd, ext: ".csv.zst", ctype: "text/csv"},
		{name: "csv none with columns", format: CSV, compression: None, columns: []string{"EVENT_ID", "actor.id", "event"},
			wantFormat: CSV, wantComp: None, ext: ".csv", ctype: "text/csv"},
		// Parquet compresses inside: the name never gets .gz or .zst.
		{name: "parquet gzip", format: Parquet, wantFormat: Parquet, wantComp: Gzip, ext: ".parquet", ctype: "application/vnd.apache.parquet"},
		{name: "parquet zstd", format: Parquet, compression: Zstd, wantFormat: Parquet, wantComp: Zstd, ext: ".parquet", ctype: "application/vnd.apache.parquet"},
		{name: "parquet none", format: Parquet, compression: None, wantFormat: Parquet, wantComp: None, ext: ".parquet", ctype: "application/vnd.apache.parquet"},
		{name: "unknown format", format: "xml", wantErr: []string{`format "xml": want ndjson, csv or parquet`}},
		{name: "unknown compression", compression: "brotli", wantErr: []string{`compression "brotli": want gzip, zstd or none`}},
		{name: "columns without csv", format: NDJSON, columns: []string{"EVENT_ID"}, wantErr: []string{"columns: only used with format csv"}},
		{name: "columns of parquet", format: Parquet, columns: []string{"EVENT_ID"}, wantErr: []string{"columns: only used with format csv"}},
		{name: "bad csv column", format: CSV, columns: []string{"NOT_A_COLUMN"}, wantErr: []string{`columns: "NOT_A_COLUMN" is neither`}},
		{name: "every problem at once", format: "xml", compression: "lz4", columns: []string{"x"}, wantErr: []string{
			"format", "compression", "columns: only used with format csv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCodec(tt.format, tt.compression, tt.columns)
			if tt.wantErr != nil {
				if err == nil || c != nil {
					t.Fatalf("got %v, %v; want no codec and an error", c, err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Format() != tt.wantFormat || c.Compression() != tt.wantComp || c.Ext() != tt.ext || c.ContentType() != tt.ctype {
				t.Errorf("got %s %s %s %s, want %s %s %s %s", c.Format(), c.Compression(), c.Ext(), c.ContentType(),
					tt.wantFormat, tt.wantComp, tt.ext, tt.ctype)
			}
		})
	}
}

// records are small events of two orgs.
func records() []event.Record {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var recs []event.Record
	for i, org := range []string{"acme", "other", "acme"} {
		pub := t0.Add(time.Duration(i) * time.Minute)
		recs = append(recs, event.Record{UUID: "u" + string(rune('1'+i)), Seq: uint64(i + 1), Org: org, EventType: "user.session.start",
			Published: pub, Data: []byte(`{"uuid":"u` + string(rune('1'+i)) + `","published":"` + pub.Format("2006-01-02T15:04:05.000Z") +
				`","eventType":"user.session.start","actor":{"id":"00u1","alternateId":"a@example.com"},"n":1.50,"ok":true}`)})
	}
	return recs
}

// TestCodecMatrix round-trips every format × compression, checks the
// compression is visible in the bytes, and that the org comes back where
// the format records it.
func TestCodecMatrix(t *testing.T) {
	recs := records()
	magic := map[Compression][]byte{Gzip: gzipMagic, Zstd: zstdMagic}
	for _, f := range []Format{NDJSON, CSV, Parquet} {
		for _, c := range []Compression{Gzip, Zstd, None} {
			t.Run(string(f)+"/"+string(c), func(t *testing.T) {
				var cols []string
				if f == CSV {
					cols = []string{"ORGANIZATION_ID", "event"}
				}
				codec, err := NewCodec(f, c, cols)
				if err != nil {
					t.Fatal(err)
				}
				body, err := codec.Encode(recs)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case f == Parquet:
					if !bytes.HasPrefix(body, []byte("PAR1")) {
						t.Errorf("got %q…, want a Parquet file", body[:min(8, len(body))])
					}
				case c == None:
					if bytes.HasPrefix(body, gzipMagic) || bytes.HasPrefix(body, zstdMagic) {
						t.Errorf("got compressed bytes %x…, want plain", body[:4])
					}
				default:
					if !bytes.HasPrefix(body, magic[c]) {
						t.Errorf("got %x…, want the %s magic %x", body[:4], c, magic[c])
					}
				}
				got, err := Decode("dir/"+ObjectName(recs, codec.Ext()), body)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(recs) {
					t.Fatalf("got %d events, want %d", len(got), len(recs))
				}
				for i, r := range recs {
					if !bytes.Equal(got[i].Data, r.Data) {
						t.Errorf("event %d: got %s, want %s", i, got[i].Data, r.Data)
					}
					wantOrg := r.Org
					if f == NDJSON {
						wantOrg = "" // NDJSON holds the events only
					}
					if got[i].Org != wantOrg {
						t.Errorf("event %d: got org %q, want %q", i, got[i].Org, wantOrg)
					}
				}
			})
		}
	}
}

// TestDecodeByContent: the compression comes from the magic bytes, so a
// renamed object still decodes; Parquet is recognized by its magic too.
func TestDecodeByContent(t *testing.T) {
	recs := records()
	for _, tt := range []struct {
		format      Format
		compression Compression
		key         string
	}{
		{NDJSON, Gzip, "renamed.jsonl"},
		{NDJSON, Zstd, "renamed"},
		{NDJSON, None, "x.jsonl.gz"}, // plain bytes behind a .gz name
		{CSV, Zstd, "x.CSV"},         // upper-case extension
		{Parquet, Zstd, "renamed.bin"},
	} {
		t.Run(string(tt.format)+"/"+tt.key, func(t *testing.T) {
			var cols []string
			if tt.format == CSV {
				cols = []string{"event"}
			}
			codec, err := NewCodec(tt.format, tt.compression, cols)
			if err != nil {
				t.Fatal(err)
			}
			body, err := codec.Encode(recs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode("p/"+tt.key, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(recs) || !bytes.Equal(got[2].Data, recs[2].Data) {
				t.Errorf("got %d events, want %d with the same bytes", len(got), len(recs))
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, key string
		body      []byte
		want      string
	}{
		{name: "truncated gzip", key: "p/x.jsonl.gz", body: gzipMagic, want: "decompress p/x.jsonl.gz"},
		{name: "corrupt zstd", key: "p/x.jsonl.zst", body: append(append([]byte{}, zstdMagic...), 0xff, 0xff, 0xff, 0xff), want: "decompress p/x.jsonl.zst"},
		{name: "not parquet", key: "p/x.parquet", body: []byte("PAR1 but not really"), want: "parquet:"},
		{name: "ragged csv", key: "p/x.csv", body: []byte("event\n\"unterminated\n"), want: "csv:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.key, tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %d events, %v; want an error with %q", len(got), err, tt.want)
			}
		})
	}
}

func TestDecodeNDJSON(t *testing.T) {
	got, err := Decode("x.jsonl", []byte("\n{\"a\":1}\r\n  \n{\"b\":2}"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got[0].Data) != `{"a":1}` || string(got[1].Data) != `{"b":2}` {
		t.Errorf("got %q, want the two events without blank lines or CR", got)
	}
	if got, err := Decode("x.jsonl", nil); err != nil || len(got) != 0 {
		t.Errorf("empty object: got %v, %v; want no events", got, err)
	}
}

// TestEncodeRefusesBadJSON: formats that parse the event name the record
// that does not parse instead of writing a broken object.
func TestEncodeRefusesBadJSON(t *testing.T) {
	bad := []event.Record{{UUID: "broken-1", Seq: 1, Data: []byte(`{"uuid":`)}}
	for _, f := range []Format{CSV, Parquet} {
		t.Run(string(f), func(t *testing.T) {
			codec, err := NewCodec(f, None, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := codec.Encode(bad)
			if err == nil || !strings.Contains(err.Error(), "event broken-1") {
				t.Errorf("got %d bytes, %v; want an error naming event broken-1", len(body), err)
			}
		})
	}
	// NDJSON writes the bytes as stored.
	codec, _ := NewCodec(NDJSON, None, nil)
	body, err := codec.Encode(bad)
	if err != nil || string(body) != "{\"uuid\":\n" {
		t.Errorf("ndjson: got %q, %v; want the stored bytes and a newline", body, err)
	}
}

func TestRawSize(t *testing.T) {
	if got := RawSize(event.Record{Data: []byte(`{"a":1}`)}); got != 8 {
		t.Errorf("got %d, want 8 (the event and a newline)", got)
	}
	codec, _ := NewCodec(NDJSON, None, nil)
	recs := records()
	body, _ := codec.Encode(recs)
	want := 0
	for _, r := range recs {
		want += RawSize(r)
	}
	if len(body) != want {
		t.Errorf("uncompressed NDJSON: got %d bytes, want the sum of RawSize %d", len(body), want)
	}
}
