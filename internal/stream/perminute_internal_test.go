package stream

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestStatusPerMinute: a status counts deliveries and failures per
// minute over the last hour, in a fixed ring: older minutes fall off, the
// snapshot is brought up to the time asked, and a restore carries it on.
func TestStatusPerMinute(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 30, 0, time.UTC)
	minute := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	tests := []struct {
		name          string
		adds          []struct{ at, delivered, failed int }
		now           int
		wantDelivered map[int]uint64 // index in the 60 → count; the rest 0
		wantFailed    map[int]uint64
	}{
		{"one minute", []struct{ at, delivered, failed int }{{0, 3, 0}, {0, 2, 1}}, 0,
			map[int]uint64{59: 5}, map[int]uint64{59: 1}},
		{"minutes apart, brought up to now", []struct{ at, delivered, failed int }{{0, 1, 0}, {5, 2, 0}, {5, 0, 1}}, 10,
			map[int]uint64{49: 1, 54: 2}, map[int]uint64{54: 1}},
		{"older than an hour falls off", []struct{ at, delivered, failed int }{{0, 7, 0}, {30, 1, 0}, {70, 4, 0}}, 70,
			map[int]uint64{19: 1, 59: 4}, nil},
		{"a count too old for the ring is dropped", []struct{ at, delivered, failed int }{{100, 1, 0}, {20, 9, 0}}, 100,
			map[int]uint64{59: 1}, nil},
		{"nothing for over an hour", []struct{ at, delivered, failed int }{{0, 7, 2}}, 200, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Status
			for _, a := range tt.adds {
				if a.delivered > 0 {
					s.addDelivered(a.delivered, minute(a.at))
				}
				for range a.failed {
					s.failure(minute(a.at), StateRetrying, errors.New("boom"), willRetry)
				}
			}
			check := func(what string, snap Snapshot) {
				t.Helper()
				p := snap.PerMinute
				if p == nil || len(p.Delivered) != HistoryMinutes || len(p.Failed) != HistoryMinutes {
					t.Fatalf("%s: got %+v, want %d minutes", what, p, HistoryMinutes)
				}
				if want := minute(tt.now).Truncate(time.Minute); !p.Last.Equal(want) {
					t.Errorf("%s: got last minute %v, want %v", what, p.Last, want)
				}
				for i := range HistoryMinutes {
					if p.Delivered[i] != tt.wantDelivered[i] || p.Failed[i] != tt.wantFailed[i] {
						t.Errorf("%s: minute %d: got %d delivered %d failed, want %d and %d", what, i,
							p.Delivered[i], p.Failed[i], tt.wantDelivered[i], tt.wantFailed[i])
					}
				}
			}
			rec := s.Record("s1", minute(tt.now))
			snap := rec
			snap.PerMinute = PerMinuteAt(rec.PerMinute, minute(tt.now))
			check("snapshot", snap)
			var restored Status
			restored.Restore(rec)
			again := restored.Record("s1", minute(tt.now))
			again.PerMinute = PerMinuteAt(again.PerMinute, minute(tt.now))
			check("restored", again)
			// The saved record does not change with the clock alone: an
			// idle stream's status is not written again every minute.
			if later := s.Record("s1", minute(tt.now+5)); !reflect.DeepEqual(later, rec) {
				t.Errorf("record five minutes later: got %+v, want %+v", later.PerMinute, rec.PerMinute)
			}
		})
	}
	var empty Status
	if p := empty.Snapshot().PerMinute; p != nil {
		t.Errorf("a stream that never delivered: got %+v, want no history", p)
	}
}
