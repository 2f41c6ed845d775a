package oktarule

import (
	"testing"

	"github.com/auditstream/auditstream/internal/benchcost"
	"github.com/auditstream/auditstream/internal/detect/field"
)

// BenchmarkCatalog evaluates every catalog rule (25 detections + 12 hunts) against
// each of the 56 fixture events: one field.Event Reset per event, then each rule's
// full expression (no prefilter). One op = one event.
func BenchmarkCatalog(b *testing.B) {
	p := loadCatalog(b, nil)
	events := readEvents(b)
	var e field.Event
	b.ReportAllocs()
	cpu0 := benchcost.CPU(b)
	b.ResetTimer()
	hits := 0
	for i := 0; b.Loop(); i++ {
		if err := e.Reset(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
		for _, r := range p.Rules {
			if r.Match(&e) {
				hits++
			}
		}
	}
	benchcost.ReportRates(b, cpu0)
	_ = hits
}

// BenchmarkCatalogPrefiltered is BenchmarkCatalog with the rules' prefilters
// (eventType → candidate rules, a map lookup as the runtime's pattern.Set does):
// full evaluation only for candidates and the unindexed rules.
func BenchmarkCatalogPrefiltered(b *testing.B) {
	p := loadCatalog(b, nil)
	events := readEvents(b)
	byType := map[string][]*Rule{}
	var unindexed []*Rule
	for _, r := range p.Rules {
		pf := r.Prefilter()
		if pf == nil {
			unindexed = append(unindexed, r)
			continue
		}
		for _, v := range pf.Values {
			byType[v] = append(byType[v], r)
		}
	}
	et := field.MustParsePath("eventType")
	var e field.Event
	var lower []byte
	b.ReportAllocs()
	cpu0 := benchcost.CPU(b)
	b.ResetTimer()
	hits := 0
	for i := 0; b.Loop(); i++ {
		if err := e.Reset(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
		var buf [1]field.Value
		vals := e.AppendValues(buf[:0], et)
		if len(vals) > 0 {
			lower = append(lower[:0], vals[0].Text...)
			for j, c := range lower {
				if 'A' <= c && c <= 'Z' {
					lower[j] = c + 'a' - 'A'
				}
			}
			for _, r := range byType[string(lower)] {
				if r.Match(&e) {
					hits++
				}
			}
		}
		for _, r := range unindexed {
			if r.Match(&e) {
				hits++
			}
		}
	}
	benchcost.ReportRates(b, cpu0)
	_ = hits
}

// BenchmarkReset is the parse alone (field.Event.Reset), the floor of the two
// benchmarks above.
func BenchmarkReset(b *testing.B) {
	events := readEvents(b)
	var e field.Event
	b.ReportAllocs()
	cpu0 := benchcost.CPU(b)
	for i := 0; b.Loop(); i++ {
		if err := e.Reset(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
	benchcost.ReportRates(b, cpu0)
}

// Evaluating every catalog rule on an event allocates nothing (BENCHMARKS.md).
func TestCatalogMatchAllocatesNothing(t *testing.T) {
	p := loadCatalog(t, nil)
	events := readEvents(t)
	var e field.Event
	for i, ev := range events {
		if err := e.Reset(ev); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(10, func() {
			for _, r := range p.Rules {
				r.Match(&e)
			}
		}); n != 0 {
			t.Errorf("line %d: got %v allocations, want 0", i+1, n)
		}
	}
}
