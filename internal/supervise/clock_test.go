package supervise

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// ticking is the fake kind counting its ticks.
type ticking struct {
	retiring
	ticks *atomic.Int32
}

func (k ticking) Tick(context.Context) { k.ticks.Add(1) }

// TestReconcileOnTheClock runs a Core in a testing/synctest bubble (no
// status bucket, so no NATS): an announced change is reconciled at once,
// a change nobody announced (a missed watch update) at the next tick,
// exactly one Interval after the last, and every tick reaches the kind.
func TestReconcileOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 2 * time.Second
		cat := newCatalog(def{ID: "a", Conf: "1"})
		k := &kind{away: map[string]bool{}, lose: map[string]bool{}}
		ticks := &atomic.Int32{}
		c := New(Deps[def, *stat, snap]{Catalog: cat, Kind: ticking{retiring{k}, ticks}, NewStatus: func() *stat { return &stat{} },
			Log: discard, Noun: "fake", Interval: interval})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Run(ctx)
		}()
		synctest.Wait()
		if got := k.take(); !slices.Equal(got, []string{"start a/1"}) {
			t.Fatalf("at start: got %q, want a started", got)
		}

		// A change without a notification waits for the tick.
		cat.mu.Lock()
		cat.defs = []def{{ID: "a", Conf: "2"}}
		cat.mu.Unlock()
		time.Sleep(interval - time.Millisecond)
		synctest.Wait()
		if got := k.take(); len(got) != 0 || ticks.Load() != 0 {
			t.Fatalf("before the tick: got %q and %d ticks, want nothing", got, ticks.Load())
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := k.take(); !slices.Equal(got, []string{"stop a/1", "start a/2"}) || ticks.Load() != 1 {
			t.Fatalf("at the tick: got %q and %d ticks, want a restarted on one tick", got, ticks.Load())
		}

		// An announced change is reconciled at once, no time passing.
		start := time.Now()
		cat.set(def{ID: "a", Conf: "3"})
		synctest.Wait()
		if got := k.take(); !slices.Equal(got, []string{"stop a/2", "start a/3"}) || time.Since(start) != 0 {
			t.Fatalf("on a change: got %q after %v, want a restarted at once", got, time.Since(start))
		}

		// The ticks keep their pace: ten more intervals, ten more ticks.
		time.Sleep(10 * interval)
		synctest.Wait()
		if got := ticks.Load(); got != 11 {
			t.Errorf("ticks after 22s: got %d, want 11", got)
		}
		cancel()
		<-done
		if got := k.take(); !slices.Equal(got, []string{"stop a/3", "drain"}) {
			t.Errorf("on stop: got %q, want a stopped and the kind drained", got)
		}
	})
}
