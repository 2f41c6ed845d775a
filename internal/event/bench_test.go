package event

import (
	"bufio"
	"os"
	"path/filepath"
	"syscall"
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
	cpu0 := cpuTime(b)
	for b.Loop() {
		if _, err := Parse(evs[i%len(evs)], "acme", now); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// BenchmarkParseGenerated parses the same events without uuid and
// published, which Parse fills in.
func BenchmarkParseGenerated(b *testing.B) {
	var evs [][]byte
	var n int64
	for _, e := range oktaEvents(b) {
		e = dropMember(b, dropMember(b, e, "uuid"), "published")
		evs = append(evs, e)
		n += int64(len(e))
	}
	now := time.Now()
	b.SetBytes(n / int64(len(evs)))
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		ev, err := Parse(evs[i%len(evs)], "acme", now)
		if err != nil || ev.UUID == "" {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// dropMember returns e, a compact JSON object, without its top-level
// string member name.
func dropMember(tb testing.TB, e []byte, name string) []byte {
	tb.Helper()
	f, err := scan(e)
	if err != nil {
		tb.Fatal(err)
	}
	var v []byte
	switch name {
	case "uuid":
		v = f.uuid
	case "published":
		v = f.published
	}
	if v == nil {
		return e
	}
	// v points into e: the member is "name":v, then a comma, or a comma
	// before it when it is the last.
	start := cap(e) - cap(v) - len(name) - 3
	end := start + len(name) + 3 + len(v)
	if e[end] == ',' {
		end++
	} else {
		start--
	}
	out := append([]byte(nil), e[:start]...)
	out = append(out, e[end:]...)
	if _, err := scan(out); err != nil {
		tb.Fatalf("dropping %s: %v", name, err)
	}
	return out
}

// BenchmarkParser is BenchmarkParse with one Parser for all events, as an
// ingest request parses its events.
func BenchmarkParser(b *testing.B) { benchParser(b, oktaEvents(b)) }

// BenchmarkParserGenerated is BenchmarkParseGenerated with one Parser.
func BenchmarkParserGenerated(b *testing.B) {
	var evs [][]byte
	for _, e := range oktaEvents(b) {
		evs = append(evs, dropMember(b, dropMember(b, e, "uuid"), "published"))
	}
	benchParser(b, evs)
}

func benchParser(b *testing.B, evs [][]byte) {
	var n int64
	for _, e := range evs {
		n += int64(len(e))
	}
	now := time.Now()
	var p Parser
	b.SetBytes(n / int64(len(evs)))
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		ev, err := p.Parse(evs[i%len(evs)], "acme", now)
		if err != nil || ev.UUID == "" {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// cpuTime is the process's user and system CPU time so far (getrusage, so
// the garbage collector's work counts): cpu-ns/event is disturbed less by
// the other processes of a busy machine than the wall clock.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
