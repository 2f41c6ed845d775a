package gotool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFindOrInstallFromEnv: the variable wins when its file exists, and is
// an error (not a build, not a skip) when it does not.
func TestFindOrInstallFromEnv(t *testing.T) {
	tool := Tool{Name: "gotool-test-cmd", Package: "example.com/none", Version: "v0.0.0", Env: "GOTOOL_TEST_CMD"}
	bin := filepath.Join(t.TempDir(), "cmd")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOTOOL_TEST_CMD", bin)
	if got, err := tool.FindOrInstall(time.Second); err != nil || got != bin {
		t.Fatalf("got %q, %v, want %q", got, err, bin)
	}
	t.Setenv("GOTOOL_TEST_CMD", bin+".missing")
	if _, err := tool.FindOrInstall(time.Second); err == nil || !strings.Contains(err.Error(), "GOTOOL_TEST_CMD=") {
		t.Fatalf("got %v, want an error naming GOTOOL_TEST_CMD", err)
	}
}

// TestLookupNotFound wraps ErrNotFound and says how to install the tool.
func TestLookupNotFound(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	tool := Tool{Name: "gotool-test-cmd", Package: "example.com/none", Version: "v1.2.3", Env: "GOTOOL_TEST_CMD"}
	_, err := tool.Lookup(func(k string) string {
		if k == "GOPATH" {
			return t.TempDir()
		}
		return ""
	})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "go install example.com/none@v1.2.3") {
		t.Fatalf("got %v, want ErrNotFound with the install command", err)
	}
}
