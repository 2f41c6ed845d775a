package api

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/benchcost"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
)

// benchBody is an NDJSON body of n real Okta LogEvents (testdata/okta at
// the module root, those Parse accepts), each with a uuid of its own, as
// bench/load sends them.
func benchBody(b *testing.B, n int) []byte {
	b.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		b.Fatalf("test data: %v", err)
	}
	defer f.Close()
	var evs [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if _, err := event.Parse(sc.Bytes(), "acme", time.Now()); err == nil {
			// Drop the sample's uuid: each event gets its own below.
			evs = append(evs, bytes.Clone(sc.Bytes()))
		}
	}
	var body []byte
	for i := range n {
		e := evs[i%len(evs)]
		body = fmt.Appendf(body, `{"uuid":"00000000-0000-4000-8000-%012d",`, i)
		body = append(body, stripUUID(e)[1:]...)
		body = append(body, '\n')
	}
	return body
}

// stripUUID removes the sample's "uuid":"..." member (they all have one,
// first or not), keeping the object valid.
func stripUUID(e []byte) []byte {
	i := bytes.Index(e, []byte(`"uuid":"`))
	if i < 0 {
		return e
	}
	j := bytes.IndexByte(e[i+8:], '"') + i + 9
	if j < len(e) && e[j] == ',' {
		j++
	} else if e[i-1] == ',' {
		i--
	}
	return append(bytes.Clone(e[:i]), e[j:]...)
}

// BenchmarkIngestRead measures what POST /api/v1/events does but the
// journal append: reading the body (gzip or not) within the size limits,
// splitting it, validating every event, and handing the buffers back. The
// metrics are per event.
func BenchmarkIngestRead(b *testing.B) {
	const n = 1000
	plain := benchBody(b, n)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(plain)
	zw.Close()
	array := append([]byte{'['}, bytes.ReplaceAll(bytes.TrimSpace(plain), []byte{'\n'}, []byte{','})...)
	array = append(array, ']')
	s := &Server{d: Deps{Limits: httpapi.DefaultLimits, Now: time.Now}}
	for _, bc := range []struct {
		name, ct, enc string
		body          []byte
	}{
		{"ndjson", "application/x-ndjson", "", plain},
		{"ndjson-gzip", "application/x-ndjson", "gzip", zb.Bytes()},
		{"array", "application/json", "", array},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			rd := bytes.NewReader(bc.body)
			r := httptest.NewRequest(http.MethodPost, "/api/v1/events", rd)
			r.Header.Set("Content-Type", bc.ct)
			if bc.enc != "" {
				r.Header.Set("Content-Encoding", bc.enc)
			}
			now := time.Now()
			done := benchcost.PerEvent(b, n)
			for b.Loop() {
				rd.Reset(bc.body)
				r.Body = readCloser{rd}
				body, evs, err := s.readEvents(r, "acme", now)
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) != n {
					b.Fatalf("got %d events, want %d", len(evs), n)
				}
				// As ingest does once the journal has them.
				s.ingestBufs.release(body, evs)
			}
			done()
		})
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
