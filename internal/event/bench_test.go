package event

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// oktaEvents reads the real Okta LogEvents of the test data (testdata/okta at
// the module root).
func oktaEvents(tb testing.TB) [][]byte {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		tb.Fatalf("test data: %v", err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// A few sample events carry the string "redacted" as published,
		// which Parse rightly refuses.
		if _, err := Parse(sc.Bytes(), "acme", time.Now()); err == nil {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	return out
}

func BenchmarkParse(b *testing.B) {
	evs := oktaEvents(b)
	now := time.Now()
	var n int64
	for _, e := range evs {
		n += int64(len(e))
	}
	b.SetBytes(n / int64(len(evs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Parse(evs[i%len(evs)], "acme", now); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
