package correlate

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchInputs builds n matches of base rule "fail" in time order, 1 ms apart, spread
// over users and IPs, with canonical uuids: the shape of a busy org's failed sign-ins.
func benchInputs(n, users, ips int) []Match {
	out := make([]Match, n)
	for i := range out {
		out[i] = Match{
			Rule: "fail", Org: "org1", Time: t0.Add(time.Duration(i) * time.Millisecond), UUID: uid(i),
			Fields: []Field{
				{Value: "00u" + strconv.Itoa(i%users), Present: true},
				{Value: "198.51." + strconv.Itoa(i%ips/256) + "." + strconv.Itoa(i%ips%256), Present: true},
				{Value: "user" + strconv.Itoa(i%users) + "@example.com", Present: true},
			},
		}
	}
	return out
}

// benchRules are the shipped-pack style correlations over failed sign-ins (DETECTIONS.md
// §8 cases 9 and 10), grouped by user or by IP.
func benchRules(n int) []Rule {
	kinds := []Rule{
		{Type: EventCount, GroupBy: []string{"actor.id"}, Timespan: 10 * time.Minute, Condition: cond(GTE, 50)},
		{Type: ValueCount, GroupBy: []string{"client.ipAddress"}, Field: "actor.alternateId", Timespan: 5 * time.Minute, Condition: cond(GT, 900)},
		{Type: EventCount, GroupBy: []string{"client.ipAddress"}, Timespan: time.Hour, Condition: cond(GTE, 500)},
		{Type: Single, GroupBy: []string{"actor.id"}, Suppress: time.Hour},
	}
	var rules []Rule
	for i := range n {
		r := kinds[i%len(kinds)]
		r.ID = fmt.Sprintf("r%d", i)
		r.Rules = []string{"fail"}
		rules = append(rules, r)
	}
	return rules
}

// BenchmarkObserve measures Observe (one op = one event through every correlation
// that references its base rule). 1,000 users and 500 IPs: with 1 ms between events,
// the per-user windows hold ~600 events at 10 minutes.
func BenchmarkObserve(b *testing.B) {
	for _, tc := range []struct {
		name  string
		rules []Rule
	}{
		{"event_count", benchRules(1)},
		{"value_count", benchRules(2)[1:]},
		{"single", benchRules(4)[3:]},
		{"4_rules", benchRules(4)},
		{"16_rules", benchRules(16)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ins := benchInputs(200_000, 1000, 500)
			e, err := New(Config{MaxEventsPerWindow: 10_000}, tc.rules)
			if err != nil {
				b.Fatal(err)
			}
			observeLaps(b, e, ins, 200*time.Second)
		})
	}
}

// BenchmarkObserveInterleaved is BenchmarkObserve's value_count rule (each IP's
// window holds ~600 events and two users, so it never fires) fed as four ingest
// clients sending in parallel give it: each client's batches of 1,000 in time order,
// the clients' batches interleaved, so most arrivals are out of order in their group.
func BenchmarkObserveInterleaved(b *testing.B) {
	const clients, batch = 4, 1000
	in := benchInputs(200_000, 1000, 500)
	ins := make([]Match, 0, len(in))
	for c := 0; c < len(in); c += clients * batch {
		for k := range clients {
			// Client k has the runs of 7 events i with (i/7)%clients == k.
			for i := c; i < min(c+clients*batch, len(in)); i++ {
				if (i/7)%clients == k {
					ins = append(ins, in[i])
				}
			}
		}
	}
	e, err := New(Config{MaxEventsPerWindow: 10_000}, benchRules(2)[1:])
	if err != nil {
		b.Fatal(err)
	}
	observeLaps(b, e, ins, 200*time.Second)
}

// BenchmarkObserveSparse is the common case: many groups, few events each (a window
// rarely holds more than a handful), e.g. failures per user over 100,000 users.
func BenchmarkObserveSparse(b *testing.B) {
	ins := benchInputs(500_000, 100_000, 50_000)
	e, err := New(Config{}, benchRules(1))
	if err != nil {
		b.Fatal(err)
	}
	observeLaps(b, e, ins, 500*time.Second)
}

// BenchmarkGroupMemory measures the live heap per active group: groups groups of one
// event_count rule, each holding events entries, measured with runtime.MemStats after
// a GC (independent of the allocation counting of -benchmem).
func BenchmarkGroupMemory(b *testing.B) {
	for _, tc := range []struct {
		name   string
		rule   Rule
		events int
	}{
		{"event_count/1_event", benchRules(1)[0], 1},
		{"event_count/5_events", benchRules(1)[0], 5},
		{"event_count/20_events", benchRules(1)[0], 20},
		{"value_count/5_events", benchRules(2)[1], 5},
		{"single/1_event", benchRules(4)[3], 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const groups = 20_000
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.StartTimer()
				e, err := New(Config{}, []Rule{tc.rule})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for k := range tc.events {
					for g := range groups {
						n++
						e.Observe(Match{Rule: "fail", Org: "org1", Time: t0.Add(time.Duration(k) * time.Second), UUID: uid(n), Fields: []Field{
							{Value: "00u" + strconv.Itoa(g), Present: true},
							{Value: "198.51.100." + strconv.Itoa(g), Present: true},
							{Value: "user" + strconv.Itoa(k) + "@example.com", Present: true},
						}})
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				if got := e.Stats()[tc.rule.ID].Groups; got != groups {
					b.Fatalf("got %d groups, want %d", got, groups)
				}
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/groups, "heapB/group")
				runtime.KeepAlive(e)
				b.StartTimer()
			}
		})
	}
}

// observeLaps feeds ins to e, one event per b.Loop, and reports events/s;
// each later lap is shifted by lap so that the stream stays in order (the
// uuids repeat, but de-duplication is by time and uuid).
func observeLaps(b *testing.B, e *Engine, ins []Match, lap time.Duration) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := ins[i%len(ins)]
		if i >= len(ins) {
			m.Time = m.Time.Add(time.Duration(i/len(ins)) * lap)
		}
		e.Observe(m)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
