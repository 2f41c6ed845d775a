package activity

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// TestDailyAdd folds event times in orders that move the window: the
// counts per UTC day are right, the window keeps DailyDays days, and an
// event older than it is counted as dropped.
func TestDailyAdd(t *testing.T) {
	d0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	at := func(day int, h int) time.Time { return d0.AddDate(0, 0, day).Add(time.Duration(h) * time.Hour) }
	ny := time.FixedZone("-05", -5*3600)
	tests := []struct {
		name    string
		times   []time.Time
		from    time.Time
		counts  []int64
		dropped int64
	}{
		{"one", []time.Time{at(0, 1)}, d0, []int64{1}, 0},
		{"same day twice", []time.Time{at(0, 1), at(0, 23)}, d0, []int64{2}, 0},
		{"gap", []time.Time{at(0, 1), at(3, 1)}, d0, []int64{1, 0, 0, 1}, 0},
		{"late within the window, after the first day", []time.Time{at(0, 1), at(3, 1), at(1, 5)}, d0, []int64{1, 1, 0, 1}, 0},
		{"late before the first day", []time.Time{at(5, 1), at(2, 1)}, at(2, 0), []int64{1, 0, 0, 1}, 0},
		{"UTC days, not local ones", []time.Time{time.Date(2026, 9, 1, 20, 0, 0, 0, ny)}, d0.AddDate(0, 0, 1), []int64{1}, 0},
		{"before 1970", []time.Time{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)}, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), []int64{1}, 0},
		{"window slides", []time.Time{at(0, 1), at(1, 1), at(DailyDays, 1)}, at(1, 0), append(append([]int64{1}, make([]int64, DailyDays-2)...), 1), 0},
		{"a jump past the window", []time.Time{at(0, 1), at(DailyDays+10, 1)}, at(DailyDays+10, 0), []int64{1}, 0},
		{"too late", []time.Time{at(DailyDays, 1), at(0, 1)}, at(DailyDays, 0), []int64{1}, 1},
		{"oldest day kept", []time.Time{at(DailyDays-1, 1), at(0, 1)}, d0, append(append([]int64{1}, make([]int64, DailyDays-2)...), 1), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Daily
			for _, tm := range tt.times {
				d.add(tm)
			}
			if got := d.From(); !got.Equal(tt.from) {
				t.Errorf("from: got %s, want %s", got, tt.from)
			}
			if got := d.Counts(); !slices.Equal(got, tt.counts) {
				t.Errorf("counts: got %v, want %v", got, tt.counts)
			}
			if d.Dropped != tt.dropped {
				t.Errorf("dropped: got %d, want %d", d.Dropped, tt.dropped)
			}
			if len(d.counts) > DailyDays {
				t.Errorf("kept %d days, want at most %d", len(d.counts), DailyDays)
			}
			// The JSON round trip keeps it.
			b, err := json.Marshal(&d)
			if err != nil {
				t.Fatal(err)
			}
			var back Daily
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if !back.From().Equal(d.From()) || !slices.Equal(back.counts, d.counts) || back.Dropped != d.Dropped {
				t.Errorf("round trip of %s: got from %s counts %v dropped %d", b, back.From(), back.counts, back.Dropped)
			}
		})
	}
}

// TestDailyCountsOver40Days folds a user's events over 40 days through
// the store (messages of the journal's shape, some events near midnight
// written in another zone, the user as actor and as a target), stores
// them, and reads the profile back from the bucket with a second store:
// the count of every UTC day is right, and so is the API's JSON.
func TestDailyCountsOver40Days(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	s, err := Open(t.Context(), Config{}, Deps{KV: kv})
	if err != nil {
		t.Fatal(err)
	}
	const user = "00udaily1"
	d0 := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	tokyo := time.FixedZone("+09", 9*3600)
	want := map[string]int64{}
	var recs []event.Record
	for day := range 40 {
		n := (day*7)%5 + day%3 // 0 to 6 events, some days none
		for i := range n {
			pub := d0.AddDate(0, 0, day).Add(time.Duration(i)*3*time.Hour + 59*time.Minute)
			if i == n-1 {
				pub = d0.AddDate(0, 0, day).Add(24*time.Hour - time.Second) // 23:59:59 UTC
			}
			var data string
			if i%2 == 0 {
				data = fmt.Sprintf(`{"uuid":"d%d-%d","published":%q,"eventType":"user.session.start","actor":{"id":%q,"type":"User","alternateId":"d@example.com"},"outcome":{"result":"SUCCESS"}}`,
					day, i, pub.In(tokyo).Format(time.RFC3339Nano), user)
			} else {
				data = fmt.Sprintf(`{"uuid":"d%d-%d","published":%q,"eventType":"user.account.reset_password","actor":{"id":"00uadmin","type":"User","alternateId":"admin@example.com"},"target":[{"id":%q,"type":"User","alternateId":"d@example.com"}],"outcome":{"result":"SUCCESS"}}`,
					day, i, pub.In(tokyo).Format(time.RFC3339Nano), user)
			}
			r, err := event.Parse([]byte(data), "acme", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
			want[pub.UTC().Format(time.DateOnly)]++
		}
	}
	for m := 0; m*100 < len(recs); m++ {
		batch := slices.Clone(recs[m*100 : min(len(recs), (m+1)*100)])
		for i := range batch {
			batch[i].Seq = journal.Position(uint64(m+1), i)
		}
		if err := s.Apply(t.Context(), uint64(m+1), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), Config{}, Deps{KV: kv})
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := s2.Profile(t.Context(), "acme", user)
	if err != nil || !ok {
		t.Fatalf("profile: got ok %v err %v, want it", ok, err)
	}
	if p.Daily == nil {
		t.Fatal("profile: got no daily counts")
	}
	var total int64
	for day := range 40 {
		d := d0.AddDate(0, 0, day)
		if got, w := p.Daily.On(d), want[d.Format(time.DateOnly)]; got != w {
			t.Errorf("%s: got %d events, want %d", d.Format(time.DateOnly), got, w)
		}
		total += want[d.Format(time.DateOnly)]
	}
	if !p.Daily.From().Equal(d0) && want[d0.Format(time.DateOnly)] > 0 {
		t.Errorf("from: got %s, want %s", p.Daily.From(), d0)
	}
	var sum int64
	for _, n := range p.Daily.Counts() {
		sum += n
	}
	if sum != total || total != p.AsActor+p.AsTarget {
		t.Errorf("counts sum to %d, want %d (asActor %d + asTarget %d)", sum, total, p.AsActor, p.AsTarget)
	}
	// The API's member.
	b, err := json.Marshal(View{Profile: p})
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Daily struct {
			From   string  `json:"from"`
			Counts []int64 `json:"counts"`
		} `json:"dailyCounts"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if v.Daily.From != p.Daily.From().Format(time.DateOnly) || !slices.Equal(v.Daily.Counts, p.Daily.Counts()) {
		t.Errorf("API dailyCounts: got %+v, want from %s counts %v", v.Daily, p.Daily.From().Format(time.DateOnly), p.Daily.Counts())
	}
}

// TestProfileBeforeDailyDecodes reads a profile stored before daily
// counts were kept (testdata/profile-before-daily.json: john.doe's
// profile of okta-profiles.golden.json as it was, position set): it
// decodes with no counts, folds a new event into a count of one, and is
// stored and read back with it.
func TestProfileBeforeDailyDecodes(t *testing.T) {
	old, err := os.ReadFile("testdata/profile-before-daily.json")
	if err != nil {
		t.Fatal(err)
	}
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	const user = "00uttidj01jqL21aM1d6"
	if _, err := kv.Put(t.Context(), kvKey(key{"acme", user}), old); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), Config{}, Deps{KV: kv})
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := s.Profile(t.Context(), "acme", user)
	if err != nil || !ok {
		t.Fatalf("old profile: got ok %v err %v, want it", ok, err)
	}
	if p.Daily != nil || p.AsActor == 0 || p.Login != "john.doe@example.com" {
		t.Fatalf("old profile: got daily %v asActor %d login %q, want no counts, its own members", p.Daily, p.AsActor, p.Login)
	}
	pub := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	r := rec(user, "10.1.1.1", "Canada", 0, 0)
	r.Published = pub
	r.Seq = journal.Position(6, 0)
	if err := s.Apply(t.Context(), 6, []event.Record{r}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), Config{}, Deps{KV: kv})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err = s2.Profile(t.Context(), "acme", user)
	if err != nil {
		t.Fatal(err)
	}
	if p.Daily == nil || p.Daily.On(pub) != 1 || len(p.Daily.Counts()) != 1 {
		t.Errorf("after one new event: got daily %+v, want one count on %s", p.Daily, pub.Format(time.DateOnly))
	}
}
