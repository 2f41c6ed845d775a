package fake

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestStartHandsTheWholeBody(t *testing.T) {
	got := make(chan string, 1)
	srv := Start(t, func(w http.ResponseWriter, _ *http.Request, body []byte) {
		got <- string(body)
		w.WriteHeader(http.StatusAccepted)
	})
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("url: got %s, want loopback", srv.URL)
	}
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status: got %d, want 202", resp.StatusCode)
	}
	if b := <-got; b != "hello" {
		t.Errorf("body: got %q, want hello", b)
	}
}

func TestDecompress(t *testing.T) {
	var gz, zl bytes.Buffer
	g := gzip.NewWriter(&gz)
	_, _ = io.WriteString(g, "data")
	g.Close()
	z := zlib.NewWriter(&zl)
	_, _ = io.WriteString(z, "data")
	z.Close()
	tests := []struct {
		name, enc string
		body      []byte
		allowed   []string
		want      string // "" means an error containing wantErr
		wantErr   string
	}{
		{"none", "", []byte("data"), nil, "data", ""},
		{"gzip", "gzip", gz.Bytes(), []string{"gzip"}, "data", ""},
		{"deflate", "deflate", zl.Bytes(), []string{"gzip", "deflate"}, "data", ""},
		{"not allowed", "deflate", zl.Bytes(), []string{"gzip"}, "", `content-encoding "deflate": want gzip`},
		{"corrupt gzip", "gzip", []byte("nope"), []string{"gzip"}, "", "gzip body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://127.0.0.1/", nil)
			if tt.enc != "" {
				r.Header.Set("Content-Encoding", tt.enc)
			}
			got, err := Decompress(r, tt.body, tt.allowed...)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestLockedAccessors(t *testing.T) {
	var mu sync.Mutex
	n, list := 0, []int{1}
	Set(&mu, &n, 3)
	if got := Get(&mu, &n); got != 3 {
		t.Errorf("get: got %d, want 3", got)
	}
	c := Copy(&mu, &list)
	c[0] = 9
	if list[0] != 1 {
		t.Errorf("copy: got the slice itself (list[0] = %d), want a copy", list[0])
	}
}

func TestServerURL(t *testing.T) {
	var s Server
	s.Serve(t, func(w http.ResponseWriter, _ *http.Request, _ []byte) { w.WriteHeader(http.StatusTeapot) })
	resp, err := http.Get(s.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("status: got %d, want 418", resp.StatusCode)
	}
}
