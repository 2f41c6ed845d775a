// Package epoch numbers the UTC hours and days since the Unix epoch, the
// buckets the archive's partitions, the detection index and the activity
// profiles' daily counts are keyed by.
package epoch

import "time"

// Hour is t's UTC hour as hours since the Unix epoch, rounded down (also
// before 1970).
func Hour(t time.Time) int64 { return floorDiv(t.Unix(), 3600) }

// Day is t's UTC day as days since the Unix epoch, rounded down (also
// before 1970).
func Day(t time.Time) int64 { return floorDiv(t.Unix(), 86400) }

// floorDiv is s/n rounded down, for n > 0.
func floorDiv(s, n int64) int64 {
	q := s / n
	if s%n < 0 {
		q--
	}
	return q
}
