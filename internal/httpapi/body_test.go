package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/httpapi"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadPush is the contract both push-ingest endpoints share: media
// type, gzip, the size limit after decompression, and the Okta error of
// each refusal.
func TestReadPush(t *testing.T) {
	t.Parallel()
	ingest := httpapi.Push{MaxBody: 16, Types: []string{"application/json", "application/x-ndjson"}, Hint: "send json"}
	// The limit holds for the body as sent too: a gzip stream is larger
	// than the little JSON it holds.
	gzipped := httpapi.Push{MaxBody: 64, Types: []string{"application/json"}}
	receiver := httpapi.Push{MaxBody: 16, Types: []string{"application/json"}, Untyped: true, Hint: "send json"}
	tests := []struct {
		name     string
		push     httpapi.Push
		ct, enc  string
		body     []byte
		length   int64 // Content-Length to declare; 0: the body's
		want     string
		wantType string
		status   int
		cause    string
	}{
		{name: "json", push: ingest, ct: "application/json", body: []byte(`{"a":1}`), want: `{"a":1}`, wantType: "application/json"},
		{name: "parameters", push: ingest, ct: "application/x-ndjson; charset=utf-8", body: []byte("{}\n{}"), want: "{}\n{}", wantType: "application/x-ndjson"},
		{name: "no type refused", push: ingest, body: []byte(`{}`), status: 415, cause: "send json"},
		{name: "no type taken as the first", push: receiver, body: []byte(`{}`), want: `{}`, wantType: "application/json"},
		{name: "other type", push: receiver, ct: "text/plain", body: []byte(`{}`), status: 415, cause: "send json"},
		{name: "broken type", push: ingest, ct: "application/json; =", body: []byte(`{}`), status: 415},
		{name: "gzip", push: gzipped, ct: "application/json", enc: "gzip", body: gz(t, `{"b":2}`), want: `{"b":2}`, wantType: "application/json"},
		{name: "x-gzip", push: gzipped, ct: "application/json", enc: "X-Gzip", body: gz(t, `{}`), want: `{}`, wantType: "application/json"},
		{name: "identity", push: ingest, ct: "application/json", enc: "identity", body: []byte(`{}`), want: `{}`, wantType: "application/json"},
		{name: "broken gzip", push: ingest, ct: "application/json", enc: "gzip", body: []byte("not gzip"), status: 400, cause: "gzip: "},
		{name: "other encoding", push: ingest, ct: "application/json", enc: "br", body: []byte(`{}`), status: 415, cause: "send gzip or no Content-Encoding"},
		{name: "exactly the limit", push: ingest, ct: "application/json", body: []byte(strings.Repeat("a", 16)), want: strings.Repeat("a", 16), wantType: "application/json"},
		{name: "over the limit", push: ingest, ct: "application/json", body: []byte(strings.Repeat("a", 17)), status: 413, cause: "larger than 16 bytes"},
		{name: "declared over the limit", push: receiver, ct: "application/json", body: []byte(`{}`), length: 1 << 20, status: 413},
		{name: "over the limit once decompressed", push: gzipped, ct: "application/json", enc: "gzip",
			body: gz(t, strings.Repeat("a", 1000)), status: 413, cause: "larger than 64 bytes"},
		{name: "over the limit as sent", push: ingest, ct: "application/json", enc: "gzip", body: gz(t, `{}`), status: 413},
	}
	// The same through Buffers, whose buffers and gzip readers go from
	// one case to the next (released whether or not they were read).
	var bufs httpapi.Buffers
	for _, reader := range []string{"ReadPush", "Buffers"} {
		for _, tc := range tests {
			t.Run(reader+"/"+tc.name, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tc.body))
				if tc.ct != "" {
					r.Header.Set("Content-Type", tc.ct)
				}
				if tc.enc != "" {
					r.Header.Set("Content-Encoding", tc.enc)
				}
				if tc.length != 0 {
					r.ContentLength = tc.length
				}
				read := httpapi.ReadPush
				if reader == "Buffers" {
					read = bufs.ReadPush
				}
				mt, body, err := read(r, tc.push)
				defer bufs.Release(body)
				if tc.status == 0 {
					if err != nil || string(body) != tc.want || mt != tc.wantType {
						t.Fatalf("got %q %q %v, want %q %q", mt, body, err, tc.wantType, tc.want)
					}
					return
				}
				var e *httpapi.Error
				if !errors.As(err, &e) || e.Status != tc.status {
					t.Fatalf("got %v, want a %d", err, tc.status)
				}
				if tc.cause != "" && (len(e.Causes) == 0 || !strings.Contains(e.Causes[0], tc.cause)) {
					t.Errorf("causes: got %q, want one with %q", e.Causes, tc.cause)
				}
			})
		}
	}
}

// TestBuffersReuse reads bodies of many sizes, gzip or not, through one
// Buffers, each released before the next is read: every body is what was
// sent, whatever the buffer held before.
func TestBuffersReuse(t *testing.T) {
	t.Parallel()
	var bufs httpapi.Buffers
	push := httpapi.Push{MaxBody: 1 << 20, Types: []string{"application/json"}}
	for i, n := range []int{100_000, 10, 70_000, 0, 1 << 20, 3, 5000} {
		want := bytes.Repeat([]byte{byte('a' + i)}, n)
		for _, zip := range []bool{false, true} {
			sent := want
			if zip {
				sent = gz(t, string(want))
			}
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(sent))
			r.Header.Set("Content-Type", "application/json")
			if zip {
				r.Header.Set("Content-Encoding", "gzip")
			}
			_, body, err := bufs.ReadPush(r, push)
			if err != nil || !bytes.Equal(body, want) {
				t.Fatalf("%d bytes (gzip %v): got %d bytes, %v, want the %d sent", n, zip, len(body), err, n)
			}
			bufs.Release(body)
		}
	}
}

// TestDecodeBody checks the control plane's strict decoding.
func TestDecodeBody(t *testing.T) {
	t.Parallel()
	type in struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name, ct, body string
		strict         bool
		status         int
	}{
		{"ok", "application/json", `{"name":"a"}`, true, 0},
		{"no type", "", `{"name":"a"}`, true, 0},
		{"unknown member strict", "application/json", `{"nme":"a"}`, true, 400},
		{"unknown member lenient", "application/json", `{"nme":"a"}`, false, 0},
		{"not json", "application/json", `{`, true, 400},
		{"other type", "text/plain", `{}`, true, 415},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", httpapi.MaxControlBody) + `"}`, true, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			var v in
			err := httpapi.DecodeBody(r, &v, tc.strict)
			var e *httpapi.Error
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tc.status != 0 && (!errors.As(err, &e) || e.Status != tc.status):
				t.Fatalf("got %v, want a %d", err, tc.status)
			}
		})
	}
}

// TestReadControlBody reads a body of any media type up to
// MaxControlBody and answers a larger one with Okta's 413 naming the limit.
func TestReadControlBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"yaml", "title: x\n", 0},
		{"at the limit", strings.Repeat("a", httpapi.MaxControlBody), 0},
		{"over the limit", strings.Repeat("a", httpapi.MaxControlBody+1), http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/yaml")
			got, err := httpapi.ReadControlBody(r)
			var e *httpapi.Error
			switch {
			case tc.status == 0 && (err != nil || string(got) != tc.body):
				t.Fatalf("got %d bytes, %v, want the %d bytes sent", len(got), err, len(tc.body))
			case tc.status != 0 && (!errors.As(err, &e) || e.Status != tc.status || !strings.Contains(fmt.Sprint(e.Causes), "at most")):
				t.Fatalf("got %v, want a %d naming the limit", err, tc.status)
			}
		})
	}
}

// TestWriteError renders Okta's body, and hides what an unknown error says.
func TestWriteError(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	httpapi.WriteError(w, slog.New(slog.DiscardHandler), (&httpapi.Error{Status: 429, Code: httpapi.CodeRateLimit, Summary: "slow down",
		RetryAfter: 1500 * time.Millisecond}).WithCauses("one"))
	body, _ := io.ReadAll(w.Body)
	if w.Code != 429 || w.Header().Get("Retry-After") != "2" ||
		!strings.Contains(string(body), `"errorCode":"E0000047"`) || !strings.Contains(string(body), `"errorCauses":[{"errorSummary":"one"}]`) {
		t.Fatalf("got %d Retry-After %q %s", w.Code, w.Header().Get("Retry-After"), body)
	}
	w = httptest.NewRecorder()
	httpapi.WriteError(w, slog.New(slog.DiscardHandler), errors.New("secret internal detail"))
	body, _ = io.ReadAll(w.Body)
	if w.Code != 500 || strings.Contains(string(body), "secret") {
		t.Fatalf("got %d %s, want a bare 500", w.Code, body)
	}
}

// TestGate lets n requests in at once and answers the next with a 429
// that says when to retry; a released place serves again.
func TestGate(t *testing.T) {
	t.Parallel()
	g := httpapi.NewGate(2)
	r1, err1 := g.Enter()
	r2, err2 := g.Enter()
	if err1 != nil || err2 != nil {
		t.Fatalf("got %v, %v, want two places", err1, err2)
	}
	_, err := g.Enter()
	var e *httpapi.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.RetryAfter <= 0 {
		t.Fatalf("third: got %v, want a 429 with Retry-After", err)
	}
	if got := httpapi.StatusOf(err); got != http.StatusTooManyRequests {
		t.Errorf("StatusOf: got %d, want 429", got)
	}
	if got := httpapi.StatusOf(errors.New("x")); got != http.StatusInternalServerError {
		t.Errorf("StatusOf of a plain error: got %d, want 500", got)
	}
	r1()
	r3, err := g.Enter()
	if err != nil {
		t.Fatalf("after a release: got %v, want a place", err)
	}
	r2()
	r3()
}
