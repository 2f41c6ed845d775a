package journal

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondOpenOnSameDirFails(t *testing.T) {
	dir := t.TempDir()
	j := openTest(t, dir)
	_, err := Open(t.Context(), Options{DataDir: dir}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrLocked) {
		j.Close()
		t.Fatalf("second open: got %v, want ErrLocked", err)
	}
	pid := strconv.Itoa(os.Getpid())
	if !strings.Contains(err.Error(), "process "+pid) || !strings.Contains(err.Error(), filepath.Join(dir, LockFile)) {
		t.Errorf("second open: got %q, want the holder's pid %s and the lock file", err, pid)
	}
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil || strings.TrimSpace(string(b)) != pid {
		t.Errorf("LOCK content: got %q (%v), want %s", b, err, pid)
	}
	j.Close()
	// Released on Close: the directory opens again.
	j = openTest(t, dir)
	j.Close()
}
