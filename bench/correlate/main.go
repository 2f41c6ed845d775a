// Command correlate measures the correlation engine (internal/detect/correlate) outside
// the test framework: memory per active group (Go heap after GC, and process RSS from
// /proc), Observe throughput over the whole run, and snapshot size and time.
//
//	go run ./bench/correlate -groups 100000 -events 5 -type event_count
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
)

func main() {
	groups := flag.Int("groups", 100_000, "active groups (users)")
	events := flag.Int("events", 5, "events per group, all inside the window")
	typ := flag.String("type", "event_count", "event_count, value_count or single")
	flag.Parse()
	if err := run(*groups, *events, correlate.Type(*typ)); err != nil {
		fmt.Fprintln(os.Stderr, "correlate:", err)
		os.Exit(1)
	}
}

func run(groups, events int, typ correlate.Type) error {
	rule := correlate.Rule{ID: "r", Type: typ, Rules: []string{"fail"}, GroupBy: []string{"actor.id"}}
	switch typ {
	case correlate.EventCount:
		rule.Timespan, rule.Condition = time.Hour, []correlate.Cond{{Op: correlate.GTE, Value: float64(events + 1)}}
	case correlate.ValueCount:
		rule.Timespan, rule.Field, rule.Condition = time.Hour, "client.ipAddress", []correlate.Cond{{Op: correlate.GT, Value: float64(events + 1)}}
	case correlate.Single:
		rule.Suppress = time.Hour
	default:
		return fmt.Errorf("type %q not measured here", typ)
	}
	e, err := correlate.New(correlate.Config{AllowedLateness: time.Hour, MaxGroupsPerRule: groups}, []correlate.Rule{rule})
	if err != nil {
		return err
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := rss()
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	fields := make([]correlate.Field, 2)
	start := time.Now()
	n := 0
	for k := range events {
		for g := range groups {
			n++
			fields[0] = correlate.Field{Value: "00u" + strconv.Itoa(g), Present: true}
			fields[1] = correlate.Field{Value: "198.51." + strconv.Itoa(k) + "." + strconv.Itoa(g%256), Present: true}
			e.Observe(correlate.Match{Rule: "fail", Org: "org1", Time: t0.Add(time.Duration(n) * time.Millisecond / 10), UUID: uuid(n), Fields: fields})
		}
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	rssAfter := rss()
	st := e.Stats()["r"]
	if st.Groups != groups {
		return fmt.Errorf("got %d groups, want %d", st.Groups, groups)
	}
	snapStart := time.Now()
	snap, err := e.Snapshot()
	if err != nil {
		return err
	}
	snapTime := time.Since(snapStart)
	e2, err := correlate.New(correlate.Config{AllowedLateness: time.Hour, MaxGroupsPerRule: groups}, []correlate.Rule{rule})
	if err != nil {
		return err
	}
	restoreStart := time.Now()
	if _, err := e2.Restore(snap); err != nil {
		return err
	}
	restoreTime := time.Since(restoreStart)
	fmt.Printf("type=%s groups=%d events/group=%d go=%s GOMAXPROCS=%d\n", typ, groups, events, runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Printf("heap: %.0f B/group (HeapAlloc after GC)\n", float64(after.HeapAlloc-before.HeapAlloc)/float64(groups))
	fmt.Printf("rss:  %.0f B/group (/proc/self/statm resident)\n", float64(rssAfter-rssBefore)/float64(groups))
	fmt.Printf("observe: %d events in %s = %.0f events/s (groups being created)\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	fmt.Printf("snapshot: %d bytes (%.0f B/group) in %s; restore %s\n", len(snap), float64(len(snap))/float64(groups), snapTime.Round(time.Millisecond), restoreTime.Round(time.Millisecond))
	runtime.KeepAlive(e)
	runtime.KeepAlive(e2)
	return nil
}

func uuid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// rss returns the resident set size in bytes (Linux), 0 elsewhere.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
