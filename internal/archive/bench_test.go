package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/klauspost/compress/gzip"
)

// oktaBatch returns n records holding the real Okta LogEvents of
// testdata/okta (about 1.4 KB each, cycled) with distinct uuids, as an s3
// stream's runner hands them to the codec.
func oktaBatch(tb testing.TB, n int) []event.Record {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			lines = append(lines, bytes.Clone(l))
		}
	}
	if len(lines) == 0 {
		tb.Fatal("logevents.ndjson: no events")
	}
	base := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	recs := make([]event.Record, n)
	for i := range recs {
		id := fmt.Sprintf("bench-%08d", i)
		// The template's own uuid is replaced in place where it has one,
		// so every event differs as in a real batch.
		data := bytes.Replace(lines[i%len(lines)], []byte(`"uuid":"`), []byte(`"uuid":"`+id), 1)
		recs[i] = event.Record{UUID: id, Seq: uint64(i + 1), Org: "acme", EventType: "user.session.start",
			Published: base.Add(time.Duration(i) * time.Millisecond), Data: data}
	}
	return recs
}

// rawSize is the size of recs as NDJSON.
func rawSize(recs []event.Record) int {
	n := 0
	for _, r := range recs {
		n += RawSize(r)
	}
	return n
}

// BenchmarkEncode is an s3 stream's object encoding: 10,000 Okta events
// (the bench/load s3 stream's maxEvents) into one object. One op is one
// event; "ratio" is the object's size over the events' NDJSON.
func BenchmarkEncode(b *testing.B) {
	const batch = 10000
	recs := oktaBatch(b, batch)
	raw := rawSize(recs)
	for _, tc := range []struct {
		format      Format
		compression Compression
	}{
		{NDJSON, Gzip}, {NDJSON, Zstd}, {NDJSON, None},
	} {
		b.Run(string(tc.format)+"-"+string(tc.compression), func(b *testing.B) {
			c, err := NewCodec(tc.format, tc.compression, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(raw / batch))
			b.ReportAllocs()
			size := 0
			for done := 0; done < b.N; done += batch {
				body, err := c.Encode(recs)
				if err != nil {
					b.Fatal(err)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size)/float64(raw), "ratio")
		})
	}
}

// BenchmarkGzipLevels is the NDJSON gzip encoding of BenchmarkEncode at
// each level of klauspost/compress, for choosing gzipLevel: what a level
// costs per event against how large it leaves the objects.
func BenchmarkGzipLevels(b *testing.B) {
	const batch = 10000
	recs := oktaBatch(b, batch)
	raw := rawSize(recs)
	for level := 1; level <= 6; level++ {
		b.Run(fmt.Sprint("level-", level), func(b *testing.B) {
			var buf bytes.Buffer
			zw, err := gzip.NewWriterLevel(&buf, level)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(raw / batch))
			for done := 0; done < b.N; done += batch {
				buf.Reset()
				zw.Reset(&buf)
				if err := encodeNDJSON(zw, recs); err != nil {
					b.Fatal(err)
				}
				if err := zw.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/float64(raw), "ratio")
		})
	}
}
