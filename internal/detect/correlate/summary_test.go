package correlate

import (
	"testing"
	"time"
)

// suppress.summary: when a suppression period with suppressed firings ends,
// one roll-up detection counts them: by the clock (Advance), by a later
// event of the org, or by the group's next firing (the summary first);
// none when nothing was suppressed; the same id on replay and after a
// snapshot restore.
func TestSuppressionSummary(t *testing.T) {
	reset := Rule{ID: "mfa_reset", Type: Single, Rules: []string{"reset"}, GroupBy: []string{"actor.id"}, Suppress: time.Hour, SuppressSummary: true}
	three := []in{
		{rule: "reset", id: 1, fields: []string{"A"}},
		{rule: "reset", at: 4 * time.Minute, id: 2, fields: []string{"A"}},
		{rule: "reset", at: 9 * time.Minute, id: 3, fields: []string{"A"}},
		{rule: "reset", at: 10 * time.Minute, id: 4, fields: []string{"B"}}, // B: nothing suppressed
	}
	lateness := DefaultAllowedLateness
	cases := []struct {
		name string
		// then is fed after three; advance > 0 then moves the clock.
		then    []in
		advance time.Duration
		// want: the detections after three, in order ("summary" or "detection").
		want []string
	}{
		{name: "clock passes the period's end", advance: time.Hour + lateness, want: []string{"summary"}},
		{name: "clock just before the end", advance: time.Hour + lateness - 1, want: nil},
		// The event is applied before the clock it moves runs the timers.
		{name: "a later event of the org", then: []in{{rule: "reset", at: time.Hour + lateness + time.Minute, id: 9, fields: []string{"C"}}},
			want: []string{"detection", "summary"}},
		{name: "the group fires again after the period, before the clock", then: []in{{rule: "reset", at: time.Hour, id: 9, fields: []string{"A"}}},
			want: []string{"summary", "detection"}},
		{name: "still inside the period", then: []in{{rule: "reset", at: time.Hour - 1, id: 9, fields: []string{"A"}}}, want: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := func(snapAfterThree bool) outcome {
				e := mustNew(t, Config{}, reset)
				first := feed(t, e, three, 0)
				if len(first.Detections) != 2 || len(first.Suppressed) != 2 {
					t.Fatalf("got %d detections, %d suppressed, want 2 and 2", len(first.Detections), len(first.Suppressed))
				}
				if snapAfterThree {
					snap, err := e.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					e = mustNew(t, Config{}, reset)
					if _, err := e.Restore(snap); err != nil {
						t.Fatal(err)
					}
				}
				got := feed(t, e, tc.then, tc.advance)
				var kinds []string
				for _, d := range got.Detections {
					if d.SummaryOf != "" {
						kinds = append(kinds, "summary")
						if d.SummaryOf != first.Detections[0].ID || d.Count != 2 || d.Group[0].Value != "A" ||
							!d.Time.Equal(t0.Add(time.Hour)) || !d.WindowStart.Equal(t0) || !d.WindowEnd.Equal(t0.Add(time.Hour)) ||
							len(d.Events) != 1 || d.Events[0] != uid(3) {
							t.Errorf("got summary %s, want 2 suppressed of %s over [t0, t0+1h], last event %s", js(t, d), first.Detections[0].ID, uid(3))
						}
					} else {
						kinds = append(kinds, "detection")
						if d.Group[0].Value == "A" && d.SuppressedBefore != 0 {
							t.Errorf("got suppressed_before %d after a summary, want 0", d.SuppressedBefore)
						}
					}
				}
				if js(t, kinds) != js(t, tc.want) {
					t.Fatalf("got %v, want %v: %s", kinds, tc.want, js(t, got.Detections))
				}
				// Once only: the clock moving on raises nothing more.
				if more := feed(t, e, nil, 5*time.Hour); len(more.Detections) != 0 && len(tc.want) > 0 {
					t.Errorf("got %s after the summary, want nothing", js(t, more.Detections))
				}
				return got
			}
			a, b := run(false), run(true)
			if js(t, a.Detections) != js(t, b.Detections) {
				t.Errorf("restored from a snapshot: got %s, want %s", js(t, b.Detections), js(t, a.Detections))
			}
		})
	}
	// No summary without suppressed firings, nor without the flag.
	for _, r := range []Rule{reset, {ID: "mfa_reset", Type: Single, Rules: []string{"reset"}, GroupBy: []string{"actor.id"}, Suppress: time.Hour}} {
		e := mustNew(t, Config{}, r)
		ins := three[3:]
		if !r.SuppressSummary {
			ins = three
		}
		got := feed(t, e, ins, 3*time.Hour)
		for _, d := range got.Detections {
			if d.SummaryOf != "" {
				t.Errorf("rule summary=%v: got summary %s, want none", r.SuppressSummary, js(t, d))
			}
		}
	}
	if s := mustNew(t, Config{}, reset); s != nil {
		got := feed(t, s, three, 2*time.Hour)
		if st := s.Stats()["mfa_reset"]; st.Summaries != 1 || len(got.Detections) != 3 {
			t.Errorf("got %d summaries, %d detections, want 1 and 3", st.Summaries, len(got.Detections))
		}
	}
	if _, err := New(Config{}, []Rule{{ID: "x", Type: Single, Rules: []string{"b"}, SuppressSummary: true}}); err == nil {
		t.Errorf("summary without a suppression period: got no error, want one")
	}
}

// A windowed correlation's summary counts its suppressed firings.
func TestSuppressionSummaryWindowed(t *testing.T) {
	r := fatigue
	r.Suppress, r.SuppressSummary = time.Hour, true
	e := mustNew(t, Config{}, r)
	// 15 denials in 10 minutes: three firings of 5, the 2nd and 3rd suppressed.
	var ats []time.Duration
	for i := range 15 {
		ats = append(ats, time.Duration(i)*40*time.Second)
	}
	got := feed(t, e, denials("U", 1, ats...), 3*time.Hour)
	if len(got.Detections) != 2 || got.Detections[1].SummaryOf != got.Detections[0].ID || got.Detections[1].Count != 2 {
		t.Fatalf("got %s, want one detection and its summary of 2", js(t, got.Detections))
	}
}
