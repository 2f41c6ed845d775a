package outbound

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/httpsink"
)

func TestCheckSelfDial(t *testing.T) {
	own := []net.IP{net.ParseIP("192.0.2.7")}
	tests := []struct {
		address string
		refuse  bool
	}{
		{"127.0.0.1:8080", true},
		{"127.9.9.9:8080", true},
		{"[::1]:8080", true},
		{"0.0.0.0:8080", true},
		{"192.0.2.7:8080", true},
		{"192.0.2.8:8080", false},
		{"127.0.0.1:9090", false},
	}
	for _, tt := range tests {
		err := checkSelfDial(tt.address, "8080", own)
		if got := errors.Is(err, ErrSelfTarget); got != tt.refuse {
			t.Errorf("%s: got refused %v (%v), want %v", tt.address, got, err, tt.refuse)
		}
	}
}

// TestStreamCannotReachOwnAPIByAddress points a webhook stream at the
// service's own port through the machine's LAN address, which the URL
// check does not know as "self": the dialer still refuses, and the API
// sees no request. The same stream shape reaches another port.
func TestStreamCannotReachOwnAPIByAddress(t *testing.T) {
	var lan net.IP
	for _, ip := range OwnAddrs() {
		if ip.To4() != nil && !ip.IsLoopback() {
			lan = ip
			break
		}
	}
	if lan == nil {
		t.Skip("no non-loopback IPv4 address on this machine")
	}
	var hits atomic.Int32
	own, err := net.Listen("tcp", net.JoinHostPort(lan.String(), "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", lan, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })}
	go srv.Serve(own)
	defer srv.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer other.Close()

	// The service listens on all interfaces, on own's port.
	_, port, _ := net.SplitHostPort(own.Addr().String())
	g := New(Config{DataDir: t.TempDir()})
	g.SetListen("0.0.0.0:" + port)
	write := func(url string) error {
		sk, err := httpsink.New(httpsink.Config{URL: url, InsecureHTTP: true}, g.Deps(Owner{Trust: egress.Operator}, nil))
		if err != nil {
			return err
		}
		defer sk.Close(context.Background())
		return sk.Write(t.Context(), sink.Batch{Records: []event.Record{{UUID: "e1", Data: []byte(`{"uuid":"e1"}`)}}})
	}
	if err := write("http://" + own.Addr().String() + "/hook"); !errors.Is(err, ErrSelfTarget) {
		t.Fatalf("write to own API: got %v, want ErrSelfTarget", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("own API got %d requests, want 0", n)
	}
	if err := write(other.URL + "/hook"); err != nil {
		t.Fatalf("write to another server: got %v, want nil", err)
	}
}

func TestFileStreamDirectories(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	root := filepath.Join(base, "exports")
	for _, d := range []string{data, root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(root, "link-to-data")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		roots []string
		dir   string
		ok    bool
	}{
		{"outside data, no roots", nil, filepath.Join(base, "elsewhere"), true},
		{"inside data", nil, filepath.Join(data, "jetstream"), false},
		{"through a link into data", nil, filepath.Join(link, "jetstream"), false},
		{"under a root", []string{root}, filepath.Join(root, "acme", "new"), true},
		{"outside the roots", []string{root}, filepath.Join(base, "elsewhere"), false},
		{"link under a root into data", []string{root}, filepath.Join(link, "x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(Config{DataDir: data, FileRoots: tt.roots})
			err := g.Deps(Owner{Trust: egress.Operator}, nil).Egress.CheckDir(tt.dir)
			if (err == nil) != tt.ok {
				t.Fatalf("forbiddenDir(%s): got %v, want ok=%v", tt.dir, err, tt.ok)
			}
		})
	}
}
