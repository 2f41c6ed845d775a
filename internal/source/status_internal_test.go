package source

import (
	"testing"
	"time"
)

// TestAlertEpisode: an alert is raised once while its condition holds and
// it may be, cleared once the condition ends, and its clearing is a
// recovery only when the other alert is down.
func TestAlertEpisode(t *testing.T) {
	tests := []struct {
		name                string
		holds, mayRaise, up bool
		other               bool
		want                string
		wantUp              bool
	}{
		{"raise", true, true, false, false, HealthSilent, true},
		{"raise while the other is up", true, true, false, true, HealthSilent, true},
		{"holds but may not be raised yet", true, false, false, false, "", false},
		{"already up", true, true, true, false, "", true},
		{"recovered", false, true, true, false, HealthRecovered, false},
		{"cleared while the other is up", false, true, true, true, "", false},
		{"nothing", false, false, false, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := tt.up
			if got := alertEpisode(tt.holds, tt.mayRaise, &up, tt.other, HealthSilent); got != tt.want || up != tt.wantUp {
				t.Fatalf("got %q up %v, want %q up %v", got, up, tt.want, tt.wantUp)
			}
		})
	}
}

// TestBackfillProgressReached: a backfill's progress is the newest
// published time it read, which never goes back; the status shows the
// live cursor's time as readUpTo.
func TestBackfillProgressReached(t *testing.T) {
	var s Status
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.StartBackfill(Backfill{Since: t0, Until: t0.Add(10 * time.Hour)})
	for _, p := range []struct {
		n       int
		reached time.Time
	}{{3, t0.Add(2 * time.Hour)}, {0, time.Time{}}, {2, t0.Add(time.Hour)}, {4, t0.Add(5 * time.Hour)}} {
		s.BackfillProgress(p.n, p.reached)
	}
	b := s.Snapshot(t0).Backfill
	if b.Events != 9 || !b.Reached.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("got %d events reached %v, want 9 reached %v", b.Events, b.Reached, t0.Add(5*time.Hour))
	}
	s.Polled(t0, Page{Stored: 1, Newest: t0.Add(-time.Minute)})
	if got := s.Snapshot(t0).ReadUpTo; !got.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("readUpTo: got %v, want the newest event read", got)
	}
}
