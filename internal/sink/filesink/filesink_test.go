package filesink

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/fakeclock"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func newTestSink(t *testing.T, cfg Config, deps sink.Deps) *Sink {
	t.Helper()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

func ids(recs []event.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.UUID
	}
	return out
}

func receivedIDs(got []sinktest.Received) []string {
	out := make([]string, len(got))
	for i, r := range got {
		out[i] = r.ID
	}
	return out
}

func TestRotateBySize(t *testing.T) {
	dir := t.TempDir()
	s := newTestSink(t, Config{Dir: dir, MaxBytes: 4096}, sink.Deps{})
	recs := sinktest.Records(60, 100, 1500)
	for i := 0; i < len(recs); i += 7 {
		b := sink.Batch{Records: recs[i:min(i+7, len(recs))]}
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatalf("write: got %v, want nil", err)
		}
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("close: got %v, want nil", err)
	}
	names := fileNames(t, dir)
	if len(names) < 5 {
		t.Fatalf("files: got %d, want several", len(names))
	}
	for _, name := range names {
		if !strings.HasSuffix(name, finalSuffix) || strings.HasSuffix(name, partSuffix) {
			t.Errorf("file %s: want every file finished after close", name)
		}
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(readLines(t, filepath.Join(dir, name))); info.Size() > 4096 && n > 1 {
			t.Errorf("file %s: got %d bytes in %d lines, want at most 4096 unless one event", name, info.Size(), n)
		}
	}
	got := readDir(t, dir)
	if !slices.Equal(receivedIDs(got), ids(recs)) {
		t.Errorf("events on disk: got %v, want %v", receivedIDs(got), ids(recs))
	}
	for i := range recs {
		if string(got[i].Data) != string(recs[i].Data) {
			t.Errorf("event %d: got %s, want %s", i, got[i].Data, recs[i].Data)
		}
	}
}

func TestRotateByAge(t *testing.T) {
	dir := t.TempDir()
	clk := fakeclock.New(time.Date(2024, 8, 13, 15, 58, 20, 0, time.Local))
	s := newTestSink(t, Config{Dir: dir, Prefix: "audit", MaxAge: sink.Duration(time.Minute)}, sink.Deps{Now: clk.Now})
	recs := sinktest.Records(4, 20, 100)
	for _, step := range []struct {
		advance time.Duration
		rec     int
	}{{0, 0}, {30 * time.Second, 1}, {31 * time.Second, 2}, {10 * time.Second, 3}} {
		clk.Add(step.advance)
		if err := s.Write(t.Context(), sink.Batch{Records: recs[step.rec : step.rec+1]}); err != nil {
			t.Fatalf("write: got %v, want nil", err)
		}
	}
	want := []string{
		"audit-20240813T" + clk.Now().Add(-71*time.Second).UTC().Format("150405") + "Z-00000000000000000001.ndjson",
		"audit-20240813T" + clk.Now().Add(-10*time.Second).UTC().Format("150405") + "Z-00000000000000000003.ndjson.part",
	}
	if got := fileNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("files: got %v, want %v", got, want)
	}
	if got := len(readLines(t, filepath.Join(dir, want[0]))); got != 2 {
		t.Errorf("events in the first file: got %d, want 2", got)
	}
	// An idle stream's old file is finished by the next write, before it
	// takes new events.
	clk.Add(2 * time.Minute)
	more := sinktest.Records(1, 20, 100)
	if err := s.Write(t.Context(), sink.Batch{Records: more}); err != nil {
		t.Fatal(err)
	}
	if got := fileNames(t, dir); len(got) != 3 || !strings.HasSuffix(got[1], finalSuffix) {
		t.Errorf("files: got %v, want the second finished and a third", got)
	}
}

func TestFsync(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fsync     *bool
		wantSyncs int
	}{
		{"default on", nil, 2},
		{"off", new(bool), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSink(t, Config{Dir: t.TempDir(), Fsync: tc.fsync}, sink.Deps{})
			var syncs int
			s.afterSync = func(string) { syncs++ }
			recs := sinktest.Records(4, 20, 100)
			for _, b := range []sink.Batch{{Records: recs[:2]}, {Records: recs[2:]}} {
				if err := s.Write(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			if syncs != tc.wantSyncs {
				t.Errorf("syncs after 2 writes: got %d, want %d", syncs, tc.wantSyncs)
			}
		})
	}
}

func TestRecoverLeftovers(t *testing.T) {
	dir := t.TempDir()
	old := sinktest.Records(3, 20, 100)
	complete := string(old[0].Data) + "\n" + string(old[1].Data) + "\n"
	partial := complete + string(old[2].Data[:10])
	files := map[string]string{
		"events-20240101T000000Z-00000000000000000001.ndjson.part": partial,
		"events-20240101T000001Z-00000000000000000009.ndjson.part": "{\"uuid\":",
		"other-20240101T000000Z-00000000000000000001.ndjson.part":  "not ours",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestSink(t, Config{Dir: dir}, sink.Deps{})
	recs := sinktest.Records(2, 20, 100)
	for i := range recs {
		recs[i].Seq += 100
	}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "events-20240101T000000Z-00000000000000000001.ndjson"))
	if err != nil {
		t.Fatalf("recovered file: %v", err)
	}
	if string(data) != complete {
		t.Errorf("recovered file: got %q, want %q", data, complete)
	}
	if _, err := os.Stat(filepath.Join(dir, "events-20240101T000001Z-00000000000000000009.ndjson.part")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("part file without a complete line: got %v, want it removed", err)
	}
	otherPath := filepath.Join(dir, "other-20240101T000000Z-00000000000000000001.ndjson.part")
	if data, err := os.ReadFile(otherPath); err != nil || string(data) != "not ours" {
		t.Errorf("another prefix's part file: got %q (%v), want it untouched", data, err)
	}
	if err := os.Remove(otherPath); err != nil {
		t.Fatal(err)
	}
	want := append(ids(old[:2]), ids(recs)...)
	if got := receivedIDs(readDir(t, dir)); !slices.Equal(got, want) {
		t.Errorf("events on disk: got %v, want %v", got, want)
	}
}

func TestSameNameNumbered(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2024, 8, 13, 15, 58, 20, 0, time.UTC) }
	recs := sinktest.Records(1, 20, 100)
	for range 2 { // a replay of the same event in the same second
		s := newTestSink(t, Config{Dir: dir}, sink.Deps{Now: now})
		if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"events-20240813T155820Z-00000000000000000001-2.ndjson",
		"events-20240813T155820Z-00000000000000000001.ndjson",
	}
	if got := fileNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("files: got %v, want %v", got, want)
	}
}

func TestDirProblems(t *testing.T) {
	base := t.TempDir()
	notDir := filepath.Join(base, "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, Config{Dir: filepath.Join(notDir, "sub")}, sink.Deps{})
	err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(1, 20, 100)})
	if class, _ := sink.ClassOf(err); err == nil || class != sink.ClassConfig {
		t.Errorf("write under a file: got %v (%v), want config", err, class)
	}
	if err := s.Verify(t.Context()); err == nil {
		t.Error("verify under a file: got nil, want an error")
	}

	good := filepath.Join(base, "new", "dir")
	s = newTestSink(t, Config{Dir: good}, sink.Deps{})
	if err := s.Verify(t.Context()); err != nil {
		t.Fatalf("verify: got %v, want nil", err)
	}
	if entries, err := os.ReadDir(good); err != nil || len(entries) != 0 {
		t.Errorf("after verify: got %v entries (%v), want an empty directory", len(entries), err)
	}

	_, err = New(Config{Dir: good}, sink.Deps{Egress: sink.EgressFuncs{Dir: func(string) error { return errors.New("outside /var/lib/auditstream") }}})
	if !errors.Is(err, ErrForbiddenDir) {
		t.Errorf("new with a forbidden dir: got %v, want ErrForbiddenDir", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "minimal", cfg: Config{Dir: "/var/lib/auditstream/out"}},
		{name: "full", cfg: Config{Dir: "/x", Prefix: "okta.prod_1", MaxBytes: 1 << 30, MaxAge: sink.Duration(5 * time.Minute), Fsync: new(bool)}},
		{name: "missing dir", cfg: Config{}, want: []string{"dir: required"}},
		{name: "every problem", cfg: Config{Dir: "rel/dir", Prefix: "../x", MaxBytes: 10, MaxAge: sink.Duration(time.Millisecond)}, want: []string{
			`dir "rel/dir": want an absolute path`, `prefix "../x"`, "maxBytes 10", "maxAge 1ms",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.WantProblems(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestAbortCutsBackTheBatch(t *testing.T) {
	dir := t.TempDir()
	s := newTestSink(t, Config{Dir: dir}, sink.Deps{})
	recs := sinktest.Records(2, 20, 100)
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	// Half a batch reaches the file, then the write fails.
	s.cur.start = s.cur.size
	if _, err := s.cur.w.WriteString(`{"uuid":"half`); err != nil {
		t.Fatal(err)
	}
	if err := s.cur.w.Flush(); err != nil {
		t.Fatal(err)
	}
	s.abort()
	names := fileNames(t, dir)
	if len(names) != 1 || !strings.HasSuffix(names[0], finalSuffix) {
		t.Fatalf("files: got %v, want one finished file", names)
	}
	if got := receivedIDs(readDir(t, dir)); !slices.Equal(got, ids(recs)) {
		t.Errorf("events on disk: got %v, want %v", got, ids(recs))
	}
	// The next write starts a new file.
	if err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(1, 20, 100)}); err != nil {
		t.Fatal(err)
	}
	if got := len(fileNames(t, dir)); got != 2 {
		t.Errorf("files: got %d, want 2", got)
	}
}
