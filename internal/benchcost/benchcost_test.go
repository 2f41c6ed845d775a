package benchcost_test

import (
	"slices"
	"testing"

	"github.com/auditstream/auditstream/internal/benchcost"
)

// spin burns some CPU time.
func spin() int {
	n := 0
	for i := range 200_000 {
		n += i % 7
	}
	return n
}

func TestCPUGrows(t *testing.T) {
	cpu0 := benchcost.CPU(t)
	for range 50 {
		_ = spin()
	}
	if got := benchcost.CPU(t); got <= cpu0 {
		t.Errorf("CPU after spinning: got %v, want more than %v", got, cpu0)
	}
}

func TestReports(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bench func(*testing.B)
		want  []string
	}{
		{"ReportRates", func(b *testing.B) {
			cpu0 := benchcost.CPU(b)
			for b.Loop() {
				_ = spin()
			}
			benchcost.ReportRates(b, cpu0)
		}, []string{"events/cpu-s", "events/s"}},
		{"PerEvent", func(b *testing.B) {
			done := benchcost.PerEvent(b, 10)
			for b.Loop() {
				_ = spin()
			}
			done()
		}, []string{"B/event", "allocs/event", "cpu-ns/event", "ns/event"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testing.Benchmark(tc.bench)
			var got []string
			for k, v := range r.Extra {
				if v <= 0 && k != "B/event" && k != "allocs/event" {
					t.Errorf("%s: got %v, want more than 0", k, v)
				}
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("metrics: got %v, want %v", got, tc.want)
			}
		})
	}
}
