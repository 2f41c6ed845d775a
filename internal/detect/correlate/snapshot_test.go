package correlate

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// journal is case 9's five denials in journal order (position = index + 1).
var journal = denials("U", 1, 0, 150*time.Second, 300*time.Second, 450*time.Second, 10*time.Minute-ms(1))

// TestKillMidWindow is "kill -9 mid-window": the process snapshots after 3 of 5
// events, processes a 4th, dies; a new process restores the snapshot and the journal
// redelivers from the snapshot's position, at least once (the 3rd again). Exactly one
// detection results, byte-identical to an uninterrupted run's.
func TestKillMidWindow(t *testing.T) {
	rules := []Rule{fatigue}
	want := feed(t, mustNew(t, Config{}, rules...), journal, 0)
	if len(want.Detections) != 1 {
		t.Fatalf("uninterrupted: got %d detections, want 1", len(want.Detections))
	}
	cases := []struct {
		name       string
		snapAfter  int // events fed before the snapshot
		fedAfter   int // events fed after it before the crash (lost)
		redeliver  int // first position redelivered (1-based)
		wantBefore int // detections emitted before the crash
		wantAfter  int // detections emitted after the restart
	}{
		{name: "snapshot after 3, crash after 4, redeliver from 4", snapAfter: 3, fedAfter: 1, redeliver: 4, wantAfter: 1},
		{name: "snapshot after 3, crash after 4, redeliver from 3", snapAfter: 3, fedAfter: 1, redeliver: 3, wantAfter: 1},
		{name: "snapshot after 3, redeliver everything", snapAfter: 3, fedAfter: 0, redeliver: 1, wantAfter: 1},
		{name: "snapshot after 0", snapAfter: 0, fedAfter: 2, redeliver: 1, wantAfter: 1},
		// The firing was emitted but the snapshot is older: it fires again with the
		// same id, which the journal's Nats-Msg-Id de-duplication absorbs.
		{name: "crash after the firing, before the snapshot", snapAfter: 3, fedAfter: 2, redeliver: 4, wantBefore: 1, wantAfter: 1},
		// The snapshot covers the firing: redelivery raises nothing.
		{name: "snapshot after the firing, everything redelivered", snapAfter: 5, fedAfter: 0, redeliver: 1, wantBefore: 1, wantAfter: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNew(t, Config{}, rules...)
			before := feed(t, a, journal[:tc.snapAfter], 0)
			snap, err := a.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			before.add(feed(t, a, journal[tc.snapAfter:tc.snapAfter+tc.fedAfter], 0).resultOf())
			if len(before.Detections) != tc.wantBefore {
				t.Fatalf("before the crash: got %d detections, want %d", len(before.Detections), tc.wantBefore)
			}
			// kill -9: a is gone; b starts from the snapshot.
			b := mustNew(t, Config{}, rules...)
			rep, err := b.Restore(snap)
			if err != nil || len(rep.Discarded) != 0 {
				t.Fatalf("Restore: %v, discarded %v", err, rep.Discarded)
			}
			after := feed(t, b, journal[tc.redeliver-1:], 0)
			if len(after.Detections) != tc.wantAfter {
				t.Fatalf("after the restart: got %d detections, want %d: %s", len(after.Detections), tc.wantAfter, js(t, after.Detections))
			}
			all := append(before.Detections, after.Detections...)
			for _, d := range all {
				if js(t, d) != js(t, want.Detections[0]) {
					t.Errorf("got %s\nwant %s", js(t, d), js(t, want.Detections[0]))
				}
			}
		})
	}
}

func (o outcome) resultOf() Result {
	return Result{Detections: o.Detections, Suppressed: o.Suppressed, Late: o.Late}
}

// TestSnapshotKeepsEverything restores mid-stream for every rule type and checks the
// rest of the run gives what an uninterrupted run gives.
func TestSnapshotKeepsEverything(t *testing.T) {
	rules := []Rule{
		fatigue, spray, brute, roaming,
		{ID: "quiet", Type: EventCount, Rules: []string{"deny"}, GroupBy: []string{"actor.id"}, Timespan: 10 * time.Minute, Condition: cond(LT, 3)},
		{ID: "ordered", Type: TemporalOrdered, Rules: []string{"fatigue", "mfa_ok"}, GroupBy: []string{"actor.id"}, Timespan: 10 * time.Minute, Generate: true, Suppress: time.Hour},
		{ID: "single", Type: Single, Rules: []string{"mfa_ok"}, GroupBy: []string{"actor.id"}, Suppress: time.Hour},
		{ID: "avg", Type: ValueAvg, Rules: []string{"sess"}, Field: "securityContext.asNumber", Timespan: time.Hour, Condition: cond(GT, 8000)},
	}
	var ins []in
	for k := range 3 {
		base := time.Duration(k) * 20 * time.Minute
		for i := range 6 {
			ins = append(ins, in{rule: "deny", at: base + time.Duration(i)*time.Minute, id: 100*k + i, fields: []string{"U"}})
			ins = append(ins, in{rule: "fail", at: base + time.Duration(i)*20*time.Second, id: 1000 + 100*k + i, fields: []string{"203.0.113.7", "user" + string(rune('a'+i+k))}})
			ins = append(ins, in{rule: "sess", at: base + time.Duration(i)*time.Minute, id: 2000 + 100*k + i, fields: []string{"S", []string{"7922", "9009"}[i%2]}})
		}
		ins = append(ins, in{rule: "mfa_ok", at: base + 7*time.Minute, id: 3000 + k, fields: []string{"U"}})
	}
	want := feed(t, mustNew(t, Config{}, rules...), ins, 3*time.Hour)
	if len(want.Detections) < 8 {
		t.Fatalf("scenario too weak: %d detections", len(want.Detections))
	}
	for cut := 0; cut <= len(ins); cut += 7 {
		a := mustNew(t, Config{}, rules...)
		got := feed(t, a, ins[:cut], 0)
		snap, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		b := mustNew(t, Config{}, rules...)
		if _, err := b.Restore(snap); err != nil {
			t.Fatal(err)
		}
		if again, _ := b.Snapshot(); !bytes.Equal(again, snap) {
			t.Fatalf("cut %d: the restored state snapshots differently", cut)
		}
		got.add(feed(t, b, ins[max(0, cut-3):], 3*time.Hour).resultOf()) // 3 redelivered
		if js(t, got.Detections) != js(t, want.Detections) {
			t.Fatalf("cut %d: got %s\nwant %s", cut, js(t, got.Detections), js(t, want.Detections))
		}
		if js(t, got.Suppressed) != js(t, want.Suppressed) {
			t.Fatalf("cut %d: got suppressions %s\nwant %s", cut, js(t, got.Suppressed), js(t, want.Suppressed))
		}
	}
}

func TestDeterminism(t *testing.T) {
	rules := []Rule{fatigue, spray, {ID: "ordered", Type: TemporalOrdered, Rules: []string{"fatigue", "mfa_ok"}, GroupBy: []string{"actor.id"}, Timespan: 10 * time.Minute, Generate: true}}
	ins := append(journal, in{rule: "mfa_ok", at: 12 * time.Minute, id: 9, fields: []string{"U"}})
	ins = append(ins, seq(12, 10*time.Second, func(i int) in {
		return in{rule: "fail", id: 100 + i, fields: []string{"203.0.113.7", "user" + string(rune('a'+i))}}
	})...)
	for i := len(ins) - 12; i < len(ins); i++ {
		ins[i].at += 12 * time.Minute
	}
	run := func() (string, []byte) {
		e := mustNew(t, Config{}, rules...)
		o := feed(t, e, ins, time.Hour)
		snap, err := e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return js(t, o), snap
	}
	d1, s1 := run()
	d2, s2 := run()
	if d1 != d2 {
		t.Errorf("two runs differ:\n%s\n%s", d1, d2)
	}
	if !bytes.Equal(s1, s2) {
		t.Errorf("two snapshots differ")
	}
	if !strings.Contains(d1, `"rule":"ordered"`) || !strings.Contains(d1, `"rule":"spray"`) {
		t.Errorf("got %s, want detections of ordered and spray", d1)
	}
}

func TestRestoreRejects(t *testing.T) {
	a := mustNew(t, Config{}, fatigue, brute)
	feed(t, a, append(journal[:2], in{rule: "fail", at: 150 * time.Second, id: 50, fields: []string{"203.0.113.7"}}), 0)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	changed := fatigue
	changed.Timespan = time.Hour
	b := mustNew(t, Config{}, changed, brute)
	rep, err := b.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Discarded) != 1 || rep.Discarded[0] != "fatigue" {
		t.Errorf("got discarded %v, want [fatigue]", rep.Discarded)
	}
	if s := b.Stats(); s["fatigue"].Groups != 0 || s["brute"].Groups != 1 {
		t.Errorf("got %+v, want fatigue empty and brute restored", s)
	}
	if _, err := b.Restore([]byte(`{"version":99}`)); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("got %v, want a version error", err)
	}
	if _, err := b.Restore([]byte(`{`)); err == nil {
		t.Errorf("got nil, want a decode error")
	}
}
