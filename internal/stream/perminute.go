package stream

import (
	"time"

	"github.com/auditstream/auditstream/internal/wire"
)

// HistoryMinutes is how many minutes of per-minute delivery counts a
// stream's status keeps (wire.PerMinute).
const HistoryMinutes = 60

// PerMinute is a stream's recent per-minute history (wire.PerMinute).
type PerMinute = wire.PerMinute

// minuteRing counts deliveries and failures per UTC minute over the last
// HistoryMinutes minutes: a fixed ring, so memory does not grow with
// time or traffic. The zero value is empty. Not safe for concurrent use
// (Status's mutex guards it).
type minuteRing struct {
	last      int64 // unix minute of the newest slot; 0: empty
	delivered [HistoryMinutes]uint64
	failed    [HistoryMinutes]uint64
}

// advance moves the ring forward to minute m, clearing the minutes it
// passes.
func (r *minuteRing) advance(m int64) {
	if r.last == 0 || m-r.last >= HistoryMinutes {
		r.delivered, r.failed = [HistoryMinutes]uint64{}, [HistoryMinutes]uint64{}
		r.last = m
		return
	}
	for ; r.last < m; r.last++ {
		i := (r.last + 1) % HistoryMinutes
		r.delivered[i], r.failed[i] = 0, 0
	}
}

// add counts delivered events and failed writes at t. Counts older than
// the ring are dropped.
func (r *minuteRing) add(t time.Time, delivered, failed uint64) {
	m := t.Unix() / 60
	if m > r.last {
		r.advance(m)
	}
	if r.last-m >= HistoryMinutes {
		return
	}
	i := m % HistoryMinutes
	r.delivered[i] += delivered
	r.failed[i] += failed
}

// export returns the history, oldest minute first, up to now's minute
// (or the newest slot when now is zero or earlier); nil when empty.
func (r *minuteRing) export(now time.Time) *PerMinute {
	if r.last == 0 {
		return nil
	}
	c := *r
	if m := now.Unix() / 60; !now.IsZero() && m > c.last {
		c.advance(m)
	}
	out := &PerMinute{Last: time.Unix(c.last*60, 0).UTC(), Delivered: make([]uint64, HistoryMinutes), Failed: make([]uint64, HistoryMinutes)}
	for k := range HistoryMinutes {
		i := (c.last - int64(HistoryMinutes-1-k)) % HistoryMinutes
		if i < 0 {
			i += HistoryMinutes
		}
		out.Delivered[k], out.Failed[k] = c.delivered[i], c.failed[i]
	}
	return out
}

// load restores a saved history (Status.Restore).
func (r *minuteRing) load(p *PerMinute) {
	*r = minuteRing{}
	if p == nil || p.Last.IsZero() {
		return
	}
	last := p.Last.Unix() / 60
	n := len(p.Delivered)
	for k := range n {
		m := last - int64(n-1-k)
		f := uint64(0)
		if k < len(p.Failed) {
			f = p.Failed[k]
		}
		if p.Delivered[k] == 0 && f == 0 {
			continue
		}
		r.add(time.Unix(m*60, 0), p.Delivered[k], f)
	}
	if r.last == 0 || r.last < last {
		r.advance(last)
	}
}

// PerMinuteAt returns p brought up to now's minute: the minutes since its
// last one count 0, and those older than HistoryMinutes fall off. A nil p
// stays nil.
func PerMinuteAt(p *PerMinute, now time.Time) *PerMinute {
	if p == nil {
		return nil
	}
	var r minuteRing
	r.load(p)
	return r.export(now)
}
