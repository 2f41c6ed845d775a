package activity

import (
	"syscall"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// BenchmarkFold is the profile update cost per event: the fixture's
// events (and the extra ones) folded round and round into in-memory
// profiles, positions increasing, no storage.
func BenchmarkFold(b *testing.B) {
	evs := append(oktaEvents(b, "acme"), parseAll(b, "acme", extraEvents...)...)
	profiles := map[string]*Profile{}
	f := folder{lim: Limits{}.withDefaults(), in: &interner{}, targets: new([]target), get: func(user string) *Profile {
		p := profiles[user]
		if p == nil {
			p = newProfile("acme", user)
			profiles[user] = p
		}
		return p
	}}
	pos := uint64(0)
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		for i := range evs {
			pos++
			f.fold(evs[i].Data, pos, evs[i].Published)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
}

// BenchmarkApply is the same through Store.Apply (the lock, the cache,
// the dirty set), messages of 100 events, profiles cached; Flush is not
// included.
func BenchmarkApply(b *testing.B) {
	evs := append(oktaEvents(b, "acme"), parseAll(b, "acme", extraEvents...)...)
	j := journaltest.Open(b)
	s, err := Open(b.Context(), Config{}, Deps{KV: journaltest.KV(b, j, Bucket)})
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]event.Record, 100)
	seq := uint64(0)
	n := 0
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		seq++
		for i := range batch {
			batch[i] = evs[(n+i)%len(evs)]
			batch[i].Seq = journal.Position(seq, i)
		}
		n += len(batch)
		if err := s.Apply(b.Context(), seq, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N*len(batch)), "cpu-ns/event")
}

// cpuTime is the process's CPU time so far (user and system): the
// machine is shared, so wall time overstates the cost.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
