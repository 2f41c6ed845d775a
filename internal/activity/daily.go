package activity

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/internal/epoch"
)

// DailyDays is how many days (UTC) of event counts a profile keeps.
const DailyDays = 90

// dayLayout is how a day is written ("2006-01-02", UTC).
const dayLayout = time.DateOnly

// Daily counts a user's events per day (UTC) for the last DailyDays days
// up to the day of the newest event counted: the events folded into the
// profile (as actor, as a target, or a detection naming the user), each
// once. An event older than the window when it arrives is not counted
// (Dropped says how many). JSON: {"from":"2026-09-07","counts":[3,0,…]},
// counts oldest first, from the day "from" on, one per day (a day with
// no event is 0), at most DailyDays of them; a profile stored before the
// counts were kept has none (the member is absent), and counts only from
// the day its fold saw them.
type Daily struct {
	// end is the day (days since the Unix epoch, UTC) of counts' last
	// entry; counts[i] counts day end-(len(counts)-1-i).
	end    int64
	counts []int64
	// Dropped counts the events older than the window when they were
	// folded.
	Dropped int64
}

// add counts one event at t. Its cost is a division and a compare but
// on the first event of a day (a shift of at most DailyDays counts).
func (d *Daily) add(t time.Time) {
	day := epoch.Day(t)
	n := int64(len(d.counts))
	switch {
	case n > 0 && day == d.end:
		d.counts[n-1]++
	case n == 0:
		d.end, d.counts = day, append(d.counts, 1)
	case day > d.end:
		gap := day - d.end
		if gap >= DailyDays {
			d.counts = append(d.counts[:0], 1)
		} else {
			for range gap {
				d.counts = append(d.counts, 0)
			}
			d.counts[len(d.counts)-1] = 1
			if over := len(d.counts) - DailyDays; over > 0 {
				d.counts = append(d.counts[:0], d.counts[over:]...)
			}
		}
		d.end = day
	default: // an older day
		back := d.end - day // ≥ 1
		if back >= DailyDays {
			d.Dropped++
			return
		}
		if i := n - 1 - back; i >= 0 {
			d.counts[i]++
			return
		}
		// Before the first kept day, within the window: grow at the front.
		grow := int(-(n - 1 - back))
		d.counts = slices.Insert(d.counts, 0, make([]int64, grow)...)
		d.counts[0] = 1
	}
}

// From is the first day counted (UTC midnight); zero when none is.
func (d *Daily) From() time.Time {
	if d == nil || len(d.counts) == 0 {
		return time.Time{}
	}
	return time.Unix((d.end-int64(len(d.counts))+1)*86400, 0).UTC()
}

// Counts are the counts from From on, one per day (a copy).
func (d *Daily) Counts() []int64 {
	if d == nil {
		return nil
	}
	return slices.Clone(d.counts)
}

// On is the count of day (its UTC day).
func (d *Daily) On(day time.Time) int64 {
	if d == nil || len(d.counts) == 0 {
		return 0
	}
	i := int64(len(d.counts)) - 1 - (d.end - epoch.Day(day))
	if i < 0 || i >= int64(len(d.counts)) {
		return 0
	}
	return d.counts[i]
}

func (d *Daily) clone() *Daily {
	if d == nil {
		return nil
	}
	c := *d
	c.counts = slices.Clone(d.counts)
	return &c
}

// appendJSON appends d's JSON (MarshalJSON's bytes).
func (d *Daily) appendJSON(b []byte) []byte {
	b = append(b, `{"from":"`...)
	if len(d.counts) > 0 {
		b = d.From().AppendFormat(b, dayLayout)
	}
	b = append(b, `","counts":[`...)
	for i, n := range d.counts {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, ']')
	if d.Dropped > 0 {
		b = append(b, `,"dropped":`...)
		b = strconv.AppendInt(b, d.Dropped, 10)
	}
	return append(b, '}')
}

// MarshalJSON writes {"from":"2006-01-02","counts":[…]} (and "dropped"
// when some were).
func (d *Daily) MarshalJSON() ([]byte, error) { return d.appendJSON(nil), nil }

// UnmarshalJSON reads what MarshalJSON writes; more than DailyDays counts
// keep the newest.
func (d *Daily) UnmarshalJSON(b []byte) error {
	var v struct {
		From    string  `json:"from"`
		Counts  []int64 `json:"counts"`
		Dropped int64   `json:"dropped"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = Daily{Dropped: v.Dropped}
	if len(v.Counts) == 0 {
		return nil
	}
	from, err := time.Parse(dayLayout, v.From)
	if err != nil {
		return fmt.Errorf("dailyCounts: from: %w", err)
	}
	d.end = epoch.Day(from) + int64(len(v.Counts)) - 1
	if over := len(v.Counts) - DailyDays; over > 0 {
		v.Counts = v.Counts[over:]
	}
	d.counts = v.Counts
	return nil
}
