package pattern

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSet builds a Set of n log-stream patterns (see genStreamPattern).
func benchSet(b *testing.B, n int) *Set {
	r := rand.New(rand.NewPCG(42, uint64(n)))
	s := NewSet()
	for i := 0; i < n; i++ {
		s.Add(ID(fmt.Sprintf("stream-%04d", i)), MustCompile(genStreamPattern(r)))
	}
	return s
}

// BenchmarkSetMatchAllEnvelope matches the Okta LogEvents, wrapped in the envelope as the
// log-stream runner does, against 1, 100 and 1,000 patterns. One op is one event.
func BenchmarkSetMatchAllEnvelope(b *testing.B) {
	events := loadOkta(b)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("patterns=%d", n), func(b *testing.B) {
			s := benchSet(b, n)
			var dst []ID
			for _, ev := range events { // warm the index and the buffers
				dst = s.MatchAllEnvelope(ev.env, dst[:0])
			}
			matches := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dst = s.MatchAllEnvelope(events[i%len(events)].env, dst[:0])
				matches += len(dst)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
		})
	}
}

// BenchmarkSetMatchAllJSON is the same with the envelope given as JSON.
func BenchmarkSetMatchAllJSON(b *testing.B) {
	events := loadOkta(b)
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("patterns=%d", n), func(b *testing.B) {
			s := benchSet(b, n)
			var dst []ID
			for _, ev := range events {
				dst = s.MatchAll(ev.json, dst[:0])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dst = s.MatchAll(events[i%len(events)].json, dst[:0])
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkPatternMatch is one pattern matched alone.
func BenchmarkPatternMatch(b *testing.B) {
	events := loadOkta(b)
	p := MustCompile(`{"detail-type":["SystemLog"],"detail":{"eventType":[{"prefix":"user.session."}],"outcome":{"result":["FAILURE"]}}}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.MatchEnvelope(events[i%len(events)].env)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkCompile(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	srcs := make([][]byte, 64)
	for i := range srcs {
		srcs[i] = []byte(genStreamPattern(r))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Compile(srcs[i%len(srcs)]); err != nil {
			b.Fatal(err)
		}
	}
}
