package filesink

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// TestSymlinkSwapAfterOpen is the review's repro (M3): once the sink has
// opened its directory, moving the directory away and putting a symbolic
// link to another directory (the journal's, say) in its place does not
// redirect a single write: the files keep going to the directory opened.
func TestSymlinkSwapAfterOpen(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "swap")
	target := filepath.Join(base, "data", "jetstream")
	if err := os.MkdirAll(target, 0o700); err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, Config{Dir: dir, MaxBytes: 1024}, sink.Deps{})
	recs := sinktest.Records(40, 700, 700)
	if err := s.Write(t.Context(), sink.Batch{Records: recs[:4]}); err != nil {
		t.Fatalf("first write: got %v, want nil", err)
	}
	moved := dir + ".orig"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	for i := 4; i < len(recs); i += 4 {
		if err := s.Write(t.Context(), sink.Batch{Records: recs[i:min(i+4, len(recs))]}); err != nil {
			t.Fatalf("write after the swap: got %v, want nil", err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("close: got %v, want nil", err)
	}
	if entries, _ := os.ReadDir(target); len(entries) != 0 {
		t.Fatalf("the link's target got %d files, want none", len(entries))
	}
	if got := receivedIDs(readDir(t, moved)); !slices.Equal(got, ids(recs)) {
		t.Fatalf("events in the directory opened: got %d, want all %d", len(got), len(recs))
	}
}

// TestBaseConfinesTheDirectory: with a base directory (a tenant's), Dir
// must be relative and stay below it, a link on the way is refused even
// when it points inside the base, and a plain relative directory works.
func TestBaseConfinesTheDirectory(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"acme", "beta/exports"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "beta"), filepath.Join(base, "acme", "link")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"../beta", "acme/../../x", filepath.Join(base, "acme")} {
		if _, err := New(Config{Dir: dir}, sink.Deps{Egress: below(base)}); err == nil || !strings.Contains(err.Error(), "relative") {
			t.Errorf("dir %q: got %v, want a refusal asking for a relative path", dir, err)
		}
	}
	s := newTestSink(t, Config{Dir: "acme/link/exports"}, sink.Deps{Egress: below(base)})
	if err := s.Verify(t.Context()); !errors.Is(err, ErrLink) {
		t.Fatalf("through a link: got %v, want ErrLink", err)
	}
	err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(1, 10, 10)})
	if class, _ := sink.ClassOf(err); !errors.Is(err, ErrLink) || class != sink.ClassConfig {
		t.Fatalf("write through a link: got %v (%v), want ErrLink as a configuration error", err, class)
	}
	if entries, _ := os.ReadDir(filepath.Join(base, "beta", "exports")); len(entries) != 0 {
		t.Fatalf("beta's directory got %d files, want none", len(entries))
	}
	good := newTestSink(t, Config{Dir: "acme/new/exports"}, sink.Deps{Egress: below(base)})
	if err := good.Verify(t.Context()); err != nil {
		t.Fatalf("verify a new relative directory: got %v, want nil", err)
	}
	recs := sinktest.Records(3, 10, 10)
	if err := good.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	if err := good.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := receivedIDs(readDir(t, filepath.Join(base, "acme", "new", "exports"))); !slices.Equal(got, ids(recs)) {
		t.Fatalf("events: got %v, want %v", got, ids(recs))
	}
}

// below places every directory relative to base, as the service does for
// a tenant's file stream.
func below(base string) sink.Egress {
	return sink.EgressFuncs{Place: func(dir string) (string, string, error) { return base, dir, nil }}
}
