package epoch

import (
	"testing"
	"time"
)

func TestHourAndDay(t *testing.T) {
	for _, tc := range []struct {
		t         time.Time
		hour, day int64
	}{
		{time.Unix(0, 0), 0, 0},
		{time.Unix(3599, 999), 0, 0},
		{time.Unix(3600, 0), 1, 0},
		{time.Unix(86400, 0), 24, 1},
		{time.Unix(-1, 0), -1, -1},
		{time.Unix(-3600, 0), -1, -1},
		{time.Unix(-3601, 0), -2, -1},
		{time.Unix(-86401, 0), -25, -2},
		{time.Date(2026, 12, 5, 10, 30, 0, 0, time.FixedZone("x", 5*3600)), 499_013, 20_792},
	} {
		if got := Hour(tc.t); got != tc.hour {
			t.Errorf("Hour(%v): got %d, want %d", tc.t.UTC(), got, tc.hour)
		}
		if got := Day(tc.t); got != tc.day {
			t.Errorf("Day(%v): got %d, want %d", tc.t.UTC(), got, tc.day)
		}
	}
}
