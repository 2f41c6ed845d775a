//go:build unix

package s3test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeGo puts a `go` command first on PATH that appends a line to a log
// and runs script (sh), and returns the log's path.
func fakeGo(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	body := "#!/bin/sh\necho \"$@\" >> " + log + "\n" + script + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

// TestBuildOnce builds versitygw from several goroutines at once (as
// parallel test packages would): the go command runs once, with GOBIN set,
// and every caller gets the same executable; later calls reuse it.
func TestBuildOnce(t *testing.T) {
	log := fakeGo(t, `sleep 0.2; printf '#!/bin/sh\necho fake versitygw\n' > "$GOBIN/versitygw"; chmod +x "$GOBIN/versitygw"`)
	dir := filepath.Join(t.TempDir(), "tools")
	var wg sync.WaitGroup
	paths := make([]string, 4)
	errs := make([]error, 4)
	for i := range paths {
		wg.Add(1)
		go func() { defer wg.Done(); paths[i], errs[i] = build(dir) }()
	}
	wg.Wait()
	want := filepath.Join(dir, "versitygw-"+Version)
	for i := range paths {
		if errs[i] != nil || paths[i] != want {
			t.Fatalf("build %d: got %q, %v, want %q", i, paths[i], errs[i], want)
		}
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("got %v, %v, want an executable at %s", fi, err, want)
	}
	if _, err := build(dir); err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(log)
	if got, wantCall := strings.TrimSpace(string(calls)), "install github.com/versity/versitygw/cmd/versitygw@"+Version; got != wantCall {
		t.Fatalf("go was called with %q, want exactly one %q", got, wantCall)
	}
}

// TestBuildFailureIsAnError: a failing build is an error naming the
// command and carrying its output (Start fails the test on it, never
// skips), and leaves no binary behind.
func TestBuildFailureIsAnError(t *testing.T) {
	fakeGo(t, `echo "no network to proxy.golang.org" >&2; exit 1`)
	dir := t.TempDir()
	_, err := build(dir)
	if err == nil {
		t.Fatal("got no error, want the build failure")
	}
	for _, want := range []string{"go install github.com/versity/versitygw/cmd/versitygw@" + Version, "no network to proxy.golang.org", "VERSITYGW"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got error %q, want it to contain %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "versitygw-"+Version)); err == nil {
		t.Error("a failed build left a binary")
	}
}
