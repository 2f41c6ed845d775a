package s3

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
)

// oktaBatch returns n records made from the real Okta LogEvents of the
// shared test data (about 1.4 KB each), each with a fresh uuid, published
// within one hour, as the runner hands them to the sink.
func oktaBatch(tb testing.TB, n int, seq uint64) []event.Record {
	tb.Helper()
	f, err := os.Open("../../../testdata/okta/logevents.ndjson")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var templates []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err == nil {
			templates = append(templates, m)
		}
	}
	base := time.Date(2024, 8, 13, 15, 0, 0, 0, time.UTC)
	recs := make([]event.Record, n)
	for i := range recs {
		m := templates[i%len(templates)]
		id := fmt.Sprintf("bench-%d-%08d", seq, i)
		pub := base.Add(time.Duration(i) * time.Millisecond)
		m["uuid"], m["published"] = id, pub.Format("2006-01-02T15:04:05.000Z")
		data, _ := json.Marshal(m)
		recs[i] = event.Record{UUID: id, Seq: seq + uint64(i), Org: "acme", EventType: "user.session.start", Published: pub, Data: data}
	}
	return recs
}

// BenchmarkWrite measures Write of 50,000-event batches (about 70 MB of
// Okta JSON) to versitygw on loopback: encoding plus upload. One op is one
// event.
func BenchmarkWrite(b *testing.B) {
	srv := s3test.Start(b, s3test.Options{})
	srv.CreateBucket(bucket)
	for _, tc := range []struct {
		format      archive.Format
		compression archive.Compression
	}{
		{archive.NDJSON, archive.Gzip},
		{archive.NDJSON, archive.Zstd},
		{archive.NDJSON, archive.None},
		{archive.Parquet, archive.Zstd},
		{archive.CSV, archive.Gzip},
	} {
		b.Run(string(tc.format)+"-"+string(tc.compression), func(b *testing.B) {
			s, err := New(testConfig(srv, func(c *Config) {
				c.Prefix, c.Format, c.Compression = "bench-"+string(tc.format)+"-"+string(tc.compression)+"/", tc.format, tc.compression
			}), sink.Deps{HTTPClient: srv.HTTPClient})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(b.Context())
			const batch = 50000
			recs := oktaBatch(b, batch, 1)
			raw := 0
			for _, r := range recs {
				raw += archive.RawSize(r)
			}
			b.SetBytes(int64(raw / batch))
			b.ResetTimer()
			seq := uint64(1)
			for done := 0; done < b.N; done += batch {
				// Fresh sequence numbers make fresh keys: every op uploads.
				for i := range recs {
					recs[i].Seq = seq + uint64(i)
				}
				seq += batch
				if err := s.Write(b.Context(), sink.Batch{Records: recs}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
