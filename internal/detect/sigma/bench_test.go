package sigma

import (
	"testing"

	"github.com/auditstream/auditstream/internal/benchcost"
	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/pattern"
)

// benchRules loads both SigmaHQ Okta packs (24 + 23 rules) with the test overlay.
func benchRules(b *testing.B) []*Rule {
	b.Helper()
	var rules []*Rule
	for _, dir := range []string{"sigma", "sigma-r2026-01-01"} {
		rules = append(rules, loadPack(b, dir, testOverlay).Rules...)
	}
	if len(rules) != 47 {
		b.Fatalf("got %d rules, want 47", len(rules))
	}
	return rules
}

// BenchmarkEngine measures events/s through field.Event.Reset and every loaded Sigma
// rule over logevents.ndjson (one op = one event). "all" evaluates every rule for
// every event; "prefilter" first picks candidates with one pattern.Set holding every
// rule's Prefilter, as the runtime will, and evaluates those plus the rules without
// a prefilter; "index" picks them with an Index over the parsed event.
func BenchmarkEngine(b *testing.B) {
	events := readEvents(b)
	rules := benchRules(b)
	var bytes int64
	for _, ev := range events {
		bytes += int64(len(ev))
	}
	b.Run("all", func(b *testing.B) {
		var e field.Event
		hits := 0
		b.ReportAllocs()
		b.SetBytes(bytes / int64(len(events)))
		cpu0 := benchcost.CPU(b)
		for i := 0; b.Loop(); i++ {
			if err := e.Reset(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
			for _, r := range rules {
				if r.Match(&e) {
					hits++
				}
			}
		}
		benchcost.ReportRates(b, cpu0)
	})
	b.Run("index", func(b *testing.B) {
		ix := NewIndex(rules)
		var e field.Event
		var cand []*Rule
		hits := 0
		b.ReportAllocs()
		b.SetBytes(bytes / int64(len(events)))
		cpu0 := benchcost.CPU(b)
		for i := 0; b.Loop(); i++ {
			if err := e.Reset(events[i%len(events)]); err != nil {
				b.Fatal(err)
			}
			cand = ix.Candidates(&e, cand[:0])
			for _, r := range cand {
				if r.Match(&e) {
					hits++
				}
			}
		}
		benchcost.ReportRates(b, cpu0)
	})
	b.Run("prefilter", func(b *testing.B) {
		set := pattern.NewSet()
		var always []*Rule
		byID := map[pattern.ID]*Rule{}
		for i, r := range rules {
			pre := r.Prefilter()
			if pre == nil {
				always = append(always, r)
				continue
			}
			id := pattern.ID(string(rune('A'+i/26)) + string(rune('a'+i%26)))
			set.Add(id, pattern.MustCompile(string(pre.Pattern())))
			byID[id] = r
		}
		var e field.Event
		var env pattern.Envelope
		var cand []pattern.ID
		hits := 0
		b.ReportAllocs()
		b.SetBytes(bytes / int64(len(events)))
		cpu0 := benchcost.CPU(b)
		for i := 0; b.Loop(); i++ {
			raw := events[i%len(events)]
			env.Detail = raw
			cand = set.MatchAllEnvelope(&env, cand[:0])
			if len(cand) == 0 && len(always) == 0 {
				continue
			}
			if err := e.Reset(raw); err != nil {
				b.Fatal(err)
			}
			for _, id := range cand {
				if byID[id].Match(&e) {
					hits++
				}
			}
			for _, r := range always {
				if r.Match(&e) {
					hits++
				}
			}
		}
		benchcost.ReportRates(b, cpu0)
	})
}

// TestMatchAllocatesNothing pins the claim of BENCHMARKS.md: evaluating every rule
// of both packs (and a keyword rule) on an event allocates nothing.
func TestMatchAllocatesNothing(t *testing.T) {
	var rules []*Rule
	for _, dir := range []string{"sigma", "sigma-r2026-01-01"} {
		rules = append(rules, loadPack(t, dir, testOverlay).Rules...)
	}
	kw, p := compileOne(t, "    keywords:\n        - 'evil'\n        - 'password'\n    condition: keywords\n", Overlay{})
	if kw == nil {
		t.Fatal(p.Refused)
	}
	rules = append(rules, kw)
	events := readEvents(t)
	var e field.Event
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		if err := e.Reset(events[i%len(events)]); err != nil {
			t.Fatal(err)
		}
		i++
		for _, r := range rules {
			r.Match(&e)
		}
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per event, want 0", allocs)
	}
}
