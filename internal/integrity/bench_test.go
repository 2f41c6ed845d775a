package integrity_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// BenchmarkVerify measures `verify journal`'s CPU per event: 20,000
// events of about 150 bytes in batches of 100 with a digest every 2,000,
// read once from a real journal, then verified from memory (chain, digest
// signatures, Merkle roots). ns/event × 10 million is the CPU time of
// verifying 10 million events (BENCHMARKS.md); reading them from the
// journal comes on top.
func BenchmarkVerify(b *testing.B) {
	j := journaltest.Open(b)
	kr := keyring(b, newKeys(b, "k1"), "")
	dg := integrity.NewDigester(integrity.DigesterConfig{Interval: time.Minute},
		integrity.DigesterDeps{Journal: j, Keys: kr, State: journaltest.KV(b, j, integrity.Bucket)})
	const rounds, per = 10, 2000
	for r := range rounds {
		appendAll(b, j, evs(b, "acme", string(rune('a'+r)), per))
		if _, err := dg.Pass(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	var msgs []journal.Message
	err := j.ScanMessages(b.Context(), "acme", journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		m.Data = bytes.Clone(m.Data)
		msgs = append(msgs, m)
		return true
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var events int
	for b.Loop() {
		v := integrity.NewVerifier("acme", kr.Lookup())
		for _, m := range msgs {
			v.Add(m)
		}
		r := v.Finish()
		if !r.OK() || r.Digests != rounds {
			b.Fatalf("got %s", r)
		}
		events = r.Events
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}
