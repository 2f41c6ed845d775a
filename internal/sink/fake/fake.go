// Package fake is the scaffolding the destinations' protocol fakes share
// (estest, hectest, ddtest, ebtest, cwtest): a loopback httptest server
// whose handler gets each request's whole body, the fakes' locked
// accessors, and request body decompression. What a fake answers is its
// own; only the plumbing lives here.
package fake

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Handler answers one request whose body has been read in full.
type Handler func(w http.ResponseWriter, r *http.Request, body []byte)

// Start starts an httptest server on loopback that reads each request's
// whole body (so a connection is never lost to an unread body) and hands
// it to h; the server is closed when the test ends. A request whose body
// cannot be read is dropped.
func Start(t testing.TB, h Handler) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		h(w, r, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Server is the httptest server of a fake: embed it for URL, and start
// it with Serve.
type Server struct{ srv *httptest.Server }

// Serve starts the server with Start.
func (s *Server) Serve(t testing.TB, h Handler) { s.srv = Start(t, h) }

// URL is the server's base URL (http://127.0.0.1:port).
func (s *Server) URL() string { return s.srv.URL }

// Get returns *p read under mu.
func Get[T any](mu *sync.Mutex, p *T) T {
	mu.Lock()
	defer mu.Unlock()
	return *p
}

// Set sets *p to v under mu.
func Set[T any](mu *sync.Mutex, p *T, v T) {
	mu.Lock()
	defer mu.Unlock()
	*p = v
}

// Copy returns a copy of the slice *p read under mu.
func Copy[T any](mu *sync.Mutex, p *[]T) []T {
	mu.Lock()
	defer mu.Unlock()
	return append([]T(nil), *p...)
}

// Decompress returns body decoded as its Content-Encoding says: as it is
// when there is none, gunzipped for gzip, inflated for deflate (zlib). An
// encoding not in allowed is an error that names them.
func Decompress(r *http.Request, body []byte, allowed ...string) ([]byte, error) {
	ce := r.Header.Get("Content-Encoding")
	if ce == "" {
		return body, nil
	}
	if !slices.Contains(allowed, ce) {
		return nil, fmt.Errorf("content-encoding %q: want %s", ce, strings.Join(allowed, " or "))
	}
	var zr io.Reader
	var err error
	switch ce {
	case "gzip":
		zr, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		zr, err = zlib.NewReader(bytes.NewReader(body))
	default:
		return nil, fmt.Errorf("content-encoding %q: not supported by the fake", ce)
	}
	if err != nil {
		return nil, fmt.Errorf("%s body: %w", ce, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%s body: %w", ce, err)
	}
	return out, nil
}
