// Package eventtest has what tests of several packages need of events:
// the repository's sample Okta LogEvents, parsed as ingest parses them.
package eventtest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// OktaSamples are the repository's sample Okta LogEvents
// (testdata/okta/logevents.ndjson) as ingest parses them for org, in file
// order, without positions. The few samples Parse refuses (a redacted
// published time) are left out; it fails the test when fewer than 50
// remain.
func OktaSamples(tb testing.TB, org string) []event.Record {
	tb.Helper()
	_, self, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(self), "..", "..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []event.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ev, err := event.Parse(bytes.Clone(sc.Bytes()), org, time.Now())
		if err != nil {
			continue
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) < 50 {
		tb.Fatalf("got %d sample events, want at least 50", len(out))
	}
	return out
}

// Parse parses raw as ingest does for org "acme", received now, and fails
// the test when it does not parse.
func Parse(tb testing.TB, raw string) event.Record {
	tb.Helper()
	ev, err := event.Parse([]byte(raw), "acme", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}
