package filesink

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/integrity/integritytest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// TestConformance runs the battery with digests off and on (the sink
// then also writes signed digests from a goroutine of its own).
func TestConformance(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "digests"}[signed], func(t *testing.T) { conformance(t, signed) })
	}
}

func conformance(t *testing.T, signed bool) {
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
			dir := filepath.Join(t.TempDir(), "out")
			var deps sink.Deps
			if signed {
				deps = sink.Deps{Stream: "0ls1", Signer: integritytest.Keyring(t)}
			}
			s, err := New(Config{Dir: dir, Digests: exportdigestSettings}, deps)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close(t.Context()) })
			return s, &dirFake{t: t, dir: dir}
		},
		Unsupported: map[sinktest.Scenario]string{
			sinktest.ScenarioRetryable:       "a transient disk error cannot be injected portably",
			sinktest.ScenarioPermanent:       "a file takes every event",
			sinktest.ScenarioThrottleSeconds: "files do not throttle",
			sinktest.ScenarioThrottleDate:    "files do not throttle",
			sinktest.ScenarioDrain:           "no connections",
			sinktest.ScenarioCancelHang:      "local writes cannot be made to hang",
			sinktest.ScenarioPaused:          "a file sink is never paused: directory problems are configuration errors, see TestDirProblems",
		},
	})
}

// exportdigestSettings make conformance digests frequent.
var exportdigestSettings = exportdigest.Settings{Interval: "1s"}

// dirFake is the destination directory. Pause and Unreachable put a plain
// file where the directory should be, which stops even root.
type dirFake struct {
	t   *testing.T
	dir string
}

func (f *dirFake) Answer(a sinktest.Answer) {
	switch a.Behaviour {
	case sinktest.Accept:
		if info, err := os.Stat(f.dir); err == nil && !info.IsDir() {
			if err := os.Remove(f.dir); err != nil {
				f.t.Fatal(err)
			}
		}
	case sinktest.Pause, sinktest.Unreachable:
		if err := os.RemoveAll(f.dir); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(f.dir, nil, 0o600); err != nil {
			f.t.Fatal(err)
		}
	default:
		f.t.Fatalf("dirFake cannot answer %v", a.Behaviour)
	}
}

// Requests reports everything on disk as one accepted request, files in
// name order, which is journal order.
func (f *dirFake) Requests() []sinktest.Request {
	recs := readDir(f.t, f.dir)
	if len(recs) == 0 {
		return nil
	}
	return []sinktest.Request{{Records: recs, Accepted: true}}
}

func (f *dirFake) Connections() int { return -1 }
func (f *dirFake) Close()           {}

// readDir decodes every .ndjson and .ndjson.part file of dir, in name order.
func readDir(t *testing.T, dir string) []sinktest.Received {
	t.Helper()
	var out []sinktest.Received
	for _, name := range fileNames(t, dir) {
		for _, line := range readLines(t, filepath.Join(dir, name)) {
			id, err := sinktest.RecordID(line)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out = append(out, sinktest.Received{ID: id, Data: line})
		}
	}
	return out
}

// fileNames lists the event files of dir, sorted.
func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), finalSuffix) || strings.HasSuffix(e.Name(), partSuffix) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// readLines returns the lines of an NDJSON file, failing the test if the
// file does not end with a newline.
func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
		t.Fatalf("%s: got a partial last line, want complete NDJSON", path)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		lines = append(lines, bytes.Clone(sc.Bytes()))
	}
	return lines
}
