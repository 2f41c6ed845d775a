package httpsink

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/benchcost"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// benchBatch is a batch of n records of the real Okta LogEvents in
// testdata/okta (those Parse accepts), each with a uuid of its own.
func benchBatch(b *testing.B, n int) sink.Batch {
	b.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		b.Fatalf("test data: %v", err)
	}
	defer f.Close()
	var evs []event.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	now := time.Now()
	for sc.Scan() {
		if r, err := event.Parse([]byte(sc.Text()), "acme", now); err == nil {
			evs = append(evs, r)
		}
	}
	recs := make([]event.Record, n)
	for i := range recs {
		recs[i] = evs[i%len(evs)]
		recs[i].UUID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		recs[i].Seq = uint64(i + 1)
	}
	return sink.Batch{Records: recs}
}

// BenchmarkEncode measures what the sink does with a batch of 1,000
// records before sending it: the body, the webhook-id, and in "signed"
// the Standard Webhooks signature.
func BenchmarkEncode(b *testing.B) {
	const n = 1000
	batch := benchBatch(b, n)
	size := 0
	for _, r := range batch.Records {
		size += len(r.Data)
	}
	for _, bc := range []struct {
		name   string
		body   Body
		signed bool
	}{
		{"array", BodyBatch, false},
		{"ndjson", BodyNDJSON, false},
		{"ndjson-signed", BodyNDJSON, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &Sink{cfg: Config{Body: bc.body}}
			if bc.signed {
				s.key, _ = signingKey(testSecret)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			done := benchcost.PerEvent(b, n)
			for b.Loop() {
				body, _ := s.encode(batch)
				id := batchID(batch)
				if bc.signed {
					_ = sign(s.key, id, strconv.FormatInt(time.Now().Unix(), 10), body)
				}
				if n := payloadLen(body); n < size {
					b.Fatalf("got a body of %d bytes, want at least %d", n, size)
				}
				body.writeTo(io.Discard) // what the transport reads
			}
			done()
		})
	}
}

// BenchmarkWrite measures Write of a batch of 1,000 records to an
// endpoint on loopback that reads and discards the body.
func BenchmarkWrite(b *testing.B) {
	const n = 1000
	batch := benchBatch(b, n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	s, err := New(Config{URL: srv.URL, Body: BodyNDJSON}, sink.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(b.Context())
	b.ReportAllocs()
	done := benchcost.PerEvent(b, n)
	for b.Loop() {
		if err := s.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// payloadLen is p's length in bytes.
func payloadLen(p payload) int {
	if p.joined != nil {
		return int(p.joined.Len())
	}
	return len(p.bytes)
}
