package query

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// BenchmarkPlannerScan times the index's part of a query: a scan of
// 300,000 indexed events (the console benchmark's shape: 10,000 actor
// ids, a random alternateId each, 50 target ids, so nearly every event
// has its own who tuple) with the planner's keep, for one user as actor,
// and as actor or target (the user-activity filter).
func BenchmarkPlannerScan(b *testing.B) {
	const n = 300_000
	ix := newIndex(discard)
	pub := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]event.Record, 0, 100)
	for i := range n {
		recs = append(recs, event.Record{Seq: journal.Position(uint64(i/100+1), i%100), Org: "acme",
			EventType: fmt.Sprintf("app.family%d.action%d", rng.IntN(5), rng.IntN(10)),
			Published: pub.Add(time.Duration(i) * time.Second),
			Data: fmt.Appendf(nil, `{"actor":{"id":"00u%d","alternateId":"user%d@example.com"},"target":[{"id":"0oa%d"}]}`,
				i%10000, rng.IntN(10000), i%50)})
		if len(recs) == 100 {
			ix.addBatch(recs)
			recs = recs[:0]
		}
	}
	for _, filter := range []string{
		`actor.id eq "00u42"`,
		`actor.id eq "00u42" or target.id eq "00u42"`,
		`eventType eq "app.family1.action3" or eventType eq "app.family2.action4"`,
	} {
		f, err := ParseFilter(filter)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filter, func(b *testing.B) {
			kept := 0
			for b.Loop() {
				p := newPlanner("acme", f)
				kept = 0
				ix.scan(pub.UnixNano(), pub.Add(n*time.Second).UnixNano(), true, p.keep, func(batch []entry) bool {
					kept += len(batch)
					return true
				})
			}
			b.ReportMetric(float64(kept), "kept")
		})
	}
}
