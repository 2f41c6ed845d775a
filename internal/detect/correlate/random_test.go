package correlate

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// randomStream is a stream of failed sign-ins over a few IPs and users, mostly in time
// order, with out-of-order arrivals inside and beyond the lateness and redeliveries.
func randomStream(seed uint64, n int) []in {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []in
	at := time.Duration(0)
	for i := range n {
		at += time.Duration(rng.IntN(20_000)) * time.Millisecond
		x := in{rule: "fail", at: at, id: i, fields: []string{
			"203.0.113." + strconv.Itoa(rng.IntN(3)), "user" + strconv.Itoa(rng.IntN(12)) + "@example.com", strconv.Itoa(rng.IntN(100)),
		}}
		if rng.IntN(5) == 0 {
			x.org = "org2"
		}
		switch rng.IntN(10) {
		case 0: // late by up to 3 minutes (the lateness is 2)
			x.at -= time.Duration(rng.IntN(180)) * time.Second
		case 1: // redelivery of an earlier event
			if len(out) > 0 {
				x = out[rng.IntN(len(out))]
			}
		}
		out = append(out, x)
	}
	return out
}

func randomRules() []Rule {
	alias := map[string]map[string]string{}
	return []Rule{
		{ID: "spray", Type: ValueCount, Rules: []string{"fail"}, GroupBy: []string{"ip"}, Aliases: alias, Field: "user", Timespan: time.Minute, Condition: cond(GTE, 5)},
		{ID: "spray_gt", Type: ValueCount, Rules: []string{"fail"}, GroupBy: []string{"ip"}, Field: "user", Timespan: 3 * time.Minute, Condition: cond(GT, 7), Suppress: 10 * time.Minute},
		{ID: "count", Type: EventCount, Rules: []string{"fail"}, GroupBy: []string{"user"}, Timespan: 2 * time.Minute, Condition: cond(GTE, 3)},
		{ID: "few", Type: EventCount, Rules: []string{"fail"}, GroupBy: []string{"user"}, Timespan: 2 * time.Minute, Condition: []Cond{{GTE, 2}, {LTE, 3}}},
		{ID: "sum", Type: ValueSum, Rules: []string{"fail"}, GroupBy: []string{"ip"}, Field: "n", Timespan: time.Minute, Condition: cond(GT, 400)},
		{ID: "p90", Type: ValuePercentile, Percentile: 90, Rules: []string{"fail"}, GroupBy: []string{"ip"}, Field: "n", Timespan: 5 * time.Minute, Condition: cond(GTE, 95)},
		{ID: "chain", Type: Temporal, Rules: []string{"spray", "count"}, Timespan: 10 * time.Minute, Generate: true},
	}
}

// TestIncrementalDistinct compares value_count's incremental counting with counting
// every window from scratch over random streams.
func TestIncrementalDistinct(t *testing.T) {
	for seed := range uint64(30) {
		ins := randomStream(seed, 400)
		a := mustNew(t, Config{}, randomRules()...)
		b := mustNew(t, Config{}, randomRules()...)
		b.noIncremental = true
		ga, gb := feed(t, a, ins, 48*time.Hour), feed(t, b, ins, 48*time.Hour)
		if js(t, ga) != js(t, gb) {
			t.Fatalf("seed %d: incremental and from-scratch differ:\n%s\n%s", seed, js(t, ga.Detections), js(t, gb.Detections))
		}
		if seed == 0 && (len(ga.Detections) < 10 || len(ga.Late) == 0) {
			t.Fatalf("seed 0: stream too weak: %d detections, %d late", len(ga.Detections), len(ga.Late))
		}
	}
}

// TestRandomRestore snapshots at random points of random streams, restores into a new
// engine, redelivers a few inputs, and compares with the uninterrupted run.
func TestRandomRestore(t *testing.T) {
	for seed := range uint64(30) {
		ins := randomStream(seed, 300)
		want := feed(t, mustNew(t, Config{}, randomRules()...), ins, 48*time.Hour)
		rng := rand.New(rand.NewPCG(seed, 9))
		cut := rng.IntN(len(ins))
		a := mustNew(t, Config{}, randomRules()...)
		got := feed(t, a, ins[:cut], 0)
		snap, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		b := mustNew(t, Config{}, randomRules()...)
		if _, err := b.Restore(snap); err != nil {
			t.Fatal(err)
		}
		// Redelivery: the inputs before the cut that are still inside the watermark
		// are duplicates; older ones would be reported late a second time, which the
		// runtime avoids by redelivering from the snapshot's position. Redeliver the
		// last 5 only when they are all inside the watermark.
		from := cut
		for k := cut - 1; k >= max(0, cut-5); k-- {
			if !ins[k].match().Time.Before(b.Watermark("org1")) {
				from = k
			} else {
				break
			}
		}
		got.add(feed(t, b, ins[from:], 48*time.Hour).resultOf())
		if js(t, got.Detections) != js(t, want.Detections) || js(t, got.Suppressed) != js(t, want.Suppressed) {
			t.Fatalf("seed %d cut %d: got %s\nwant %s", seed, cut, js(t, got.Detections), js(t, want.Detections))
		}
	}
}

// FuzzEngine feeds random streams (every rule type, chaining, suppression, late and
// redelivered inputs) and checks the invariants: no panic, a restore at any point
// continues exactly, state stays within the caps.
func FuzzEngine(f *testing.F) {
	f.Add(uint64(1), uint16(200), uint16(50), uint8(3))
	f.Add(uint64(7), uint16(500), uint16(499), uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, n, cut uint16, maxEvents uint8) {
		n = n%600 + 1
		cut %= n
		rules := append(randomRules(),
			Rule{ID: "ordered", Type: TemporalOrdered, Rules: []string{"count", "spray", "fail"}, GroupBy: []string{"ip"}, Timespan: 20 * time.Minute},
			Rule{ID: "single", Type: Single, Rules: []string{"fail"}, GroupBy: []string{"user"}, Suppress: 5 * time.Minute},
			Rule{ID: "absent", Type: Temporal, Rules: []string{"count", "fail"}, GroupBy: []string{"user"}, Expression: "fail and not count", Timespan: 90 * time.Second},
			Rule{ID: "avg", Type: ValueAvg, Rules: []string{"few"}, Field: "user", Timespan: time.Hour, Condition: cond(GT, 1)},
		)
		cfg := Config{MaxEventsPerWindow: int(maxEvents%20) + 8, MaxGroupsPerRule: 4}
		ins := randomStream(seed, int(n))
		want := feed(t, mustNew(t, cfg, rules...), ins, 48*time.Hour)
		a := mustNew(t, cfg, rules...)
		got := feed(t, a, ins[:cut], 0)
		snap, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		b := mustNew(t, cfg, rules...)
		if _, err := b.Restore(snap); err != nil {
			t.Fatal(err)
		}
		got.add(feed(t, b, ins[cut:], 48*time.Hour).resultOf())
		if js(t, got.Detections) != js(t, want.Detections) || js(t, got.Suppressed) != js(t, want.Suppressed) || js(t, got.Late) != js(t, want.Late) {
			t.Fatalf("cut %d: restore diverged:\n%s", cut, firstDiff(js(t, got), js(t, want)))
		}
		for id, s := range b.Stats() {
			if s.Groups > cfg.MaxGroupsPerRule {
				t.Errorf("rule %s: %d groups, cap %d", id, s.Groups, cfg.MaxGroupsPerRule)
			}
		}
		for _, r := range b.rules {
			for _, g := range r.groups {
				if len(g.live) > cfg.MaxEventsPerWindow || len(g.gone) > cfg.MaxEventsPerWindow {
					t.Errorf("rule %s: group holds %d live and %d gone, cap %d", r.ID, len(g.live), len(g.gone), cfg.MaxEventsPerWindow)
				}
			}
		}
	})
}

// firstDiff shows where two long strings start to differ.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-300)
	return "got  ..." + a[from:min(len(a), i+300)] + "\nwant ..." + b[from:min(len(b), i+300)]
}

// interleavedStream is what several ingest clients sending in parallel give:
// events in time order, dealt to clients, and the clients' batches arriving
// interleaved, so most arrivals are earlier than the newest already seen (yet
// within the lateness), with a few redeliveries.
func interleavedStream(seed uint64, n, clients int) []in {
	rng := rand.New(rand.NewPCG(seed, 11))
	queues := make([][]in, clients)
	at := time.Duration(0)
	for i := range n {
		at += time.Duration(rng.IntN(4_000)) * time.Millisecond
		x := in{rule: "fail", at: at, id: i, fields: []string{
			"203.0.113." + strconv.Itoa(rng.IntN(2)), "user" + strconv.Itoa(rng.IntN(15)) + "@example.com", strconv.Itoa(rng.IntN(100)),
		}}
		c := rng.IntN(clients)
		queues[c] = append(queues[c], x)
	}
	var out []in
	for {
		c := rng.IntN(clients)
		if len(queues[c]) == 0 {
			empty := true
			for _, q := range queues {
				empty = empty && len(q) == 0
			}
			if empty {
				return out
			}
			continue
		}
		k := min(len(queues[c]), 1+rng.IntN(12))
		out = append(out, queues[c][:k]...)
		queues[c] = queues[c][k:]
		if rng.IntN(20) == 0 {
			out = append(out, out[rng.IntN(len(out))]) // a redelivery
		}
	}
}

// distinctRules are value_count rules whose conditions hold for a growing
// count (gte), a band (gte and lte: the first window in time order that holds
// is not the largest) and an exact value.
func distinctRules() []Rule {
	return []Rule{
		{ID: "spray", Type: ValueCount, Rules: []string{"fail"}, GroupBy: []string{"ip"}, Field: "user", Timespan: time.Minute, Condition: cond(GTE, 6)},
		{ID: "band", Type: ValueCount, Rules: []string{"fail"}, GroupBy: []string{"ip"}, Field: "user", Timespan: 2 * time.Minute, Condition: []Cond{{GTE, 4}, {LTE, 5}}},
		{ID: "exact", Type: ValueCount, Rules: []string{"fail"}, Field: "user", Timespan: 30 * time.Second, Condition: cond(EQ, 3), Suppress: time.Minute},
		{ID: "chain", Type: Temporal, Rules: []string{"spray", "band"}, GroupBy: []string{"ip"}, Timespan: 10 * time.Minute, Generate: true},
	}
}

// TestIncrementalDistinctOutOfOrder compares value_count's incremental counting
// of out-of-order arrivals (windows slid forward) with counting every window from
// scratch, on interleaved streams where most arrivals are out of order.
func TestIncrementalDistinctOutOfOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		clients int
		cfg     Config
	}{
		{"4 clients", 4, Config{}},
		{"8 clients", 8, Config{}},
		{"4 clients, small windows", 4, Config{MaxEventsPerWindow: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(20) {
				ins := interleavedStream(seed, 600, tc.clients)
				a := mustNew(t, tc.cfg, distinctRules()...)
				b := mustNew(t, tc.cfg, distinctRules()...)
				b.noIncremental = true
				ga, gb := feed(t, a, ins, 48*time.Hour), feed(t, b, ins, 48*time.Hour)
				if js(t, ga) != js(t, gb) {
					t.Fatalf("seed %d: incremental and from-scratch differ:\n%s", seed, firstDiff(js(t, ga), js(t, gb)))
				}
				if seed == 0 {
					late, newest := 0, time.Duration(-1)
					for _, x := range ins {
						if x.at < newest {
							late++
						}
						newest = max(newest, x.at)
					}
					if late < len(ins)/3 || len(ga.Detections) < 20 {
						t.Fatalf("seed 0: stream too weak: %d of %d out of order, %d detections", late, len(ins), len(ga.Detections))
					}
				}
			}
		})
	}
}

// FuzzIncrementalDistinctOutOfOrder is TestIncrementalDistinctOutOfOrder over
// random seeds, lengths, client counts and window caps.
func FuzzIncrementalDistinctOutOfOrder(f *testing.F) {
	f.Add(uint64(3), uint16(300), uint8(4), uint8(0))
	f.Add(uint64(9), uint16(900), uint8(7), uint8(12))
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, clients, maxEvents uint8) {
		cfg := Config{}
		if maxEvents > 0 {
			cfg.MaxEventsPerWindow = int(maxEvents%40) + 8
		}
		ins := interleavedStream(seed, int(n%1000)+1, int(clients%8)+1)
		a := mustNew(t, cfg, distinctRules()...)
		b := mustNew(t, cfg, distinctRules()...)
		b.noIncremental = true
		if ga, gb := feed(t, a, ins, 48*time.Hour), feed(t, b, ins, 48*time.Hour); js(t, ga) != js(t, gb) {
			t.Fatalf("incremental and from-scratch differ:\n%s", firstDiff(js(t, ga), js(t, gb)))
		}
	})
}
