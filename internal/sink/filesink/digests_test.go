package filesink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/integrity/integritytest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func verifyDir(t *testing.T, dir string, kr *integrity.Keyring) exportdigest.Report {
	t.Helper()
	st, err := exportdigest.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := exportdigest.Verify(t.Context(), st, exportdigest.VerifyOptions{Keys: kr.Lookup(), Data: IsData})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeAll(t *testing.T, s *Sink, from, n int) {
	t.Helper()
	recs := make([]sink.Batch, 0)
	for i := 0; i < n; i += 5 {
		var b sink.Batch
		for j := i; j < min(i+5, n); j++ {
			b.Records = append(b.Records, sinktest.Record(from+j, 300))
		}
		recs = append(recs, b)
	}
	for _, b := range recs {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
}

func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	return m
}

// exportTwenty writes 20 events with digests into several files of a new
// directory and closes the sink: the directory, the signing keyring and
// the data files.
func exportTwenty(t *testing.T) (dir string, kr *integrity.Keyring, files []string) {
	t.Helper()
	kr = integritytest.Keyring(t)
	dir = t.TempDir()
	s := newTestSink(t, Config{Dir: dir, MaxBytes: 2048}, sink.Deps{Stream: "0ls1", Signer: kr})
	writeAll(t, s, 1, 20)
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	files = dataFiles(t, dir)
	if len(files) < 3 {
		t.Fatalf("got %d files, want several", len(files))
	}
	return dir, kr, files
}

// wantOnlyModified checks that r names file, and only it, as modified.
func wantOnlyModified(t *testing.T, r exportdigest.Report, file string) {
	t.Helper()
	if len(r.Failures) != 1 || r.Failures[0].Kind != exportdigest.ModifiedObject || r.Failures[0].Key != filepath.Base(file) {
		t.Errorf("got %v, want only %s modified", r.Failures, filepath.Base(file))
	}
}

func TestDigestsOfFiles(t *testing.T) {
	dir, kr, files := exportTwenty(t)
	r := verifyDir(t, dir, kr)
	if !r.OK() || len(r.Warnings)+len(r.Infos) > 0 || r.Objects != len(files) || r.Events != 20 {
		t.Fatalf("got %s %v %v %v, want %d files and 20 events verified", r.Summary(), r.Failures, r.Warnings, r.Infos, len(files))
	}

	// A line deleted from a file is named.
	b, _ := os.ReadFile(files[1])
	if err := os.WriteFile(files[1], b[strings.IndexByte(string(b), '\n')+1:], 0o640); err != nil {
		t.Fatal(err)
	}
	r = verifyDir(t, dir, kr)
	wantOnlyModified(t, r, files[1])
}

// TestDigestsOfFilesLinesReordered: two lines of an exported file swapped
// (every event still there) name the file as modified, and only it.
func TestDigestsOfFilesLinesReordered(t *testing.T) {
	dir, kr, files := exportTwenty(t)
	b, _ := os.ReadFile(files[1])
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) < 3 || lines[0] == lines[1] {
		t.Fatalf("got %d lines in %s, want two distinct lines to swap", len(lines)-1, files[1])
	}
	lines[0], lines[1] = lines[1], lines[0]
	if err := os.WriteFile(files[1], []byte(strings.Join(lines, "")), 0o640); err != nil {
		t.Fatal(err)
	}
	r := verifyDir(t, dir, kr)
	wantOnlyModified(t, r, files[1])
}

// TestDigestsOfFilesAfterACrash: the file being written when the process
// died is finished by the next sink and listed in its digest, as are the
// files finished after the last digest.
func TestDigestsOfFilesAfterACrash(t *testing.T) {
	kr := integritytest.Keyring(t)
	dir := t.TempDir()
	crashed := newTestSink(t, Config{Dir: dir, MaxBytes: 2048}, sink.Deps{Stream: "0ls1", Signer: kr})
	writeAll(t, crashed, 1, 10)
	if err := crashed.digests.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	writeAll(t, crashed, 11, 10) // finishes files and leaves one .part: then the process dies
	crashed.digests, crashed.cur = nil, nil

	next := newTestSink(t, Config{Dir: dir, MaxBytes: 2048}, sink.Deps{Stream: "0ls1", Signer: kr})
	writeAll(t, next, 21, 2)
	if err := next.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := verifyDir(t, dir, kr)
	if !r.OK() || len(r.Warnings)+len(r.Infos) > 0 || r.Events != 22 || r.Objects != len(dataFiles(t, dir)) {
		t.Errorf("got %s %v %v %v, want every file and 22 events verified", r.Summary(), r.Failures, r.Warnings, r.Infos)
	}
}

// TestDigestFailureReported: a digest that cannot be written (here its
// directory's name is taken by a file) is handed to the reporter the
// stream gave (sink.DigestReporter), and Close fails with it.
func TestDigestFailureReported(t *testing.T) {
	kr := integritytest.Keyring(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, exportdigest.Dir[:len(exportdigest.Dir)-1]), []byte("in the way"), 0o640); err != nil {
		t.Fatal(err)
	}
	s := newTestSink(t, Config{Dir: dir, MaxBytes: 2048}, sink.Deps{Stream: "0ls1", Signer: kr})
	var _ sink.DigestReporter = s
	var got []error
	s.ReportDigests(func(err error) { got = append(got, err) })
	writeAll(t, s, 1, 20)
	if len(dataFiles(t, dir)) == 0 {
		t.Fatal("got no data files, want the events written despite the digests")
	}
	if err := s.Close(t.Context()); err == nil || !strings.Contains(err.Error(), "last digest") {
		t.Errorf("close: got %v, want the last digest's error", err)
	}
	if len(got) != 1 || got[0] == nil {
		t.Fatalf("reported %v, want one error", got)
	}
}
