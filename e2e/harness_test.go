package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/syncbuf"
)

const adminToken = "e2e-admin-token-0123456789abcdef0123456789abcdef"

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "auditstream-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "auditstream")
	cmd := exec.Command("go", "build", "-o", binary, "../cmd/auditstream")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build auditstream:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running auditstream process.
type server struct {
	t       *testing.T
	dataDir string
	addr    string
	cmd     *exec.Cmd
	logs    *syncbuf.Buffer
	done    chan struct{}
}

// startServer starts auditstream on a fresh port with dataDir (a new temp
// dir when empty) and waits until it serves.
func startServer(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	addr := freeAddr(t)
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", addr}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "AUDITSTREAM_ADMIN_TOKEN="+adminToken)
	s := &server{t: t, dataDir: dataDir, addr: addr, cmd: cmd, logs: &syncbuf.Buffer{}, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening on ") {
				once()
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("auditstream exited at start:\n%s", s.logs.String())
	case <-time.After(30 * time.Second):
		s.kill()
		t.Fatalf("auditstream did not start in 30s:\n%s", s.logs.String())
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("server logs:\n%s", tail(s.logs.String(), 8000))
		}
	})
	// The query index reads the journal at start (query.index on
	// /readyz): tests begin once it has.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body, _ := s.do("GET", "/readyz", "", "", nil)
		if !strings.Contains(string(body), "query.index") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the query index did not catch up in 30s: %s", body)
		}
	}
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// stop sends SIGTERM and waits.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.kill()
	}
}

// kill sends SIGKILL (a crash) and waits.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *server) url(path string) string { return "http://" + s.addr + path }

// do sends a request with the admin token (or tok) and returns status and body.
func (s *server) do(method, path, token, contentType string, body []byte) (int, []byte, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url(path), bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "SSWS "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// mustJSON sends JSON with the admin token and requires want.
func (s *server) mustJSON(method, path string, in any, want int, out any) {
	s.t.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			s.t.Fatal(err)
		}
	}
	code, b, _ := s.do(method, path, adminToken, "application/json", body)
	if code != want {
		s.t.Fatalf("%s %s: got %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

type streamObj struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

type statusObj struct {
	State        string  `json:"state"`
	Delivered    uint64  `json:"delivered"`
	Failed       uint64  `json:"failed"`
	Retried      uint64  `json:"retried"`
	DeadLettered uint64  `json:"deadLettered"`
	LagEvents    uint64  `json:"lagEvents"`
	LagSeconds   float64 `json:"lagSeconds"`
	LastError    string  `json:"lastError"`
}

func (s *server) createHTTPStream(name, url string, filter any, extra map[string]any) string {
	s.t.Helper()
	settings := map[string]any{"url": url}
	for k, v := range extra {
		settings[k] = v
	}
	in := map[string]any{"type": "http", "name": name, "settings": settings}
	if filter != nil {
		in["filter"] = filter
	}
	var out streamObj
	s.mustJSON("POST", "/api/v1/logStreams", in, 200, &out)
	if out.ID == "" || out.Status != "ACTIVE" {
		s.t.Fatalf("created stream: got %+v, want an id and ACTIVE", out)
	}
	return out.ID
}

func (s *server) status(id string) statusObj {
	s.t.Helper()
	var st statusObj
	s.mustJSON("GET", "/api/v1/logStreams/"+id+"/status", nil, 200, &st)
	return st
}

// ingest posts NDJSON lines and returns the status code and body.
func (s *server) ingest(lines [][]byte) (int, []byte) {
	return s.ingestWith(adminToken, "application/x-ndjson", bytes.Join(lines, []byte("\n")))
}

func (s *server) ingestWith(token, contentType string, body []byte) (int, []byte) {
	s.t.Helper()
	code, b, _ := s.do("POST", "/api/v1/events", token, contentType, body)
	return code, b
}

func (s *server) doGzip(body []byte) (int, []byte, error) {
	req, err := http.NewRequest("POST", s.url("/api/v1/events"), bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "SSWS "+adminToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}
