package detect

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/wait"
)

const bruteForceID = "2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a01"

// Six failed sign-ins of one user in six minutes raise exactly one brute
// force detection (the sixth is suppressed), journaled in the org with the
// rule's metadata; the alert-on-alert rule fires on it; the Okta rules do
// not see it.
func TestServiceBruteForceOnce(t *testing.T) {
	j := journaltest.Open(t)
	svc, stop := startService(t, j, nativeRegistry(t), Config{}, nil)
	defer stop()
	start := recent()
	appendAll(t, j, failuresEvery("acme", "00uJANE", 6, start, time.Second, "f"))
	appendAll(t, j, []event.Record{oktaEvent("other", "o-1", "user.session.start", "FAILURE", "00uJANE", start)})
	waitRaised(t, svc, 2)
	caughtUp(t, j, svc)
	ds := detections(t, j)
	var bf, chain []event.Record
	for _, d := range ds {
		switch d.EventType {
		case EventTypePrefix + "okta_brute_force_user":
			bf = append(bf, d)
		case EventTypePrefix + "detection_chain":
			chain = append(chain, d)
		default:
			t.Errorf("unexpected detection %s", d.EventType)
		}
	}
	if len(bf) != 1 {
		t.Fatalf("got %d brute force detections, want 1", len(bf))
	}
	d := bf[0]
	if d.Org != "acme" || d.Source != DetectSource {
		t.Errorf("got org %q source %q, want acme %s", d.Org, d.Source, DetectSource)
	}
	if !d.Published.Equal(start.Add(4 * time.Second)) {
		t.Errorf("got published %s, want the fifth event's time %s", d.Published, start.Add(4*time.Second))
	}
	var ev struct {
		Severity string              `json:"severity"`
		Actor    struct{ ID string } `json:"actor"`
		Target   []struct {
			ID, Type    string
			DetailEntry map[string]string
		} `json:"target"`
		DebugContext struct{ DebugData map[string]string } `json:"debugContext"`
	}
	if err := json.Unmarshal(d.Data, &ev); err != nil {
		t.Fatal(err)
	}
	dd := ev.DebugContext.DebugData
	if ev.Severity != "ERROR" || ev.Actor.ID != "00uJANE" || dd["count"] != "5" || dd["groupBy"] != "actor.id=00uJANE" ||
		dd["ruleId"] != bruteForceID || dd["author"] != "auditstream" || dd["correlationType"] != "event_count" {
		t.Errorf("got severity %s actor %s debugData %v, want ERROR, 00uJANE, count 5 by actor.id, author", ev.Severity, ev.Actor.ID, dd)
	}
	refs := 0
	for _, tg := range ev.Target {
		if tg.Type == "LogEvent" {
			refs++
		}
		if tg.Type == "DetectionRule" && (tg.DetailEntry["author"] != "auditstream" || tg.DetailEntry["license"] != "Apache-2.0") {
			t.Errorf("rule target: got %v, want author and license", tg.DetailEntry)
		}
	}
	if refs != 5 {
		t.Errorf("got %d contributing event references, want 5", refs)
	}
	// The alert-on-alert rule saw the detection; no Okta rule did (the
	// token rule and brute force see only Okta sources).
	if len(chain) != 1 {
		t.Errorf("got %d alert-on-alert detections, want 1", len(chain))
	}
}

// A native rule that matches every event type still never sees detection
// events: their logsource is auditstream/detections (no loop).
func TestServiceNoLoop(t *testing.T) {
	files := []byte(`title: Anything
id: any-event
author: auditstream
match: {detail: {eventType: [{prefix: ""}]}}
suppress: {for: "0"}
`)
	reg := NewRegistry(DefaultRoutes(), LoadPack("p", "", fileList("any.yml", files), nil))
	j := journaltest.Open(t)
	svc, stop := startService(t, j, reg, Config{}, nil)
	defer stop()
	appendAll(t, j, []event.Record{oktaEvent("acme", "e1", "user.session.start", "SUCCESS", "00u1", recent())})
	waitRaised(t, svc, 1)
	caughtUp(t, j, svc)
	caughtUp(t, j, svc)
	if n := len(detections(t, j)); n != 1 {
		t.Fatalf("got %d detections, want 1 (detection events must not re-trigger)", n)
	}
}

// kill -9 mid-window: the runtime dies (no final checkpoint) after 3 of 5
// failures were evaluated and checkpointed and after it raised the
// detection from the next 2 but before checkpointing them; a new runtime
// resumes from the checkpoint and the journal holds exactly one detection.
func TestServiceRestartMidWindowExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		// crashAfterDetection: the first runtime also evaluates the last two
		// failures (and raises) before it dies.
		crashAfterDetection bool
	}{{"crash before the threshold", false}, {"crash after raising, before checkpoint", true}} {
		t.Run(tc.name, func(t *testing.T) {
			j := journaltest.Open(t)
			reg := nativeRegistry(t)
			evs := failuresEvery("acme", "00uJANE", 5, recent(), time.Second, "k")
			appendAll(t, j, evs[:3])
			svc, stop := startService(t, j, reg, Config{CheckpointInterval: time.Millisecond}, func(s *Service) { s.noFinalSave = true })
			caughtUp(t, j, svc)
			kv := journaltest.KV(t, j, BucketState)
			wait.Eventually(t, "a checkpoint covering 3 failures", func() bool {
				cp, ok, err := loadCheckpoint(t.Context(), kv)
				return err == nil && ok && cp.Seq >= svc.Position()
			}, wait.Within(15*time.Second))
			if tc.crashAfterDetection {
				svc.freezeCheckpoint.Store(true)
				appendAll(t, j, evs[3:])
				waitRaised(t, svc, 1)
				caughtUp(t, j, svc) // it has seen its detection (and raised the alert-on-alert one)
				stop()
			} else {
				stop()
				appendAll(t, j, evs[3:])
			}
			svc2, stop2 := startService(t, j, reg, Config{}, nil)
			defer stop2()
			if tc.crashAfterDetection {
				// The detection journaled after the checkpoint is recognised,
				// not appended again (whatever the journal's de-duplication
				// window).
				caughtUp(t, j, svc2)
				if n := svc2.raised.Load(); n != 0 {
					t.Errorf("restarted runtime appended %d detections, want 0", n)
				}
			} else {
				waitRaised(t, svc2, 1)
			}
			caughtUp(t, j, svc2)
			var n int
			for _, d := range detections(t, j) {
				if d.EventType == EventTypePrefix+"okta_brute_force_user" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("got %d brute force detections, want exactly 1", n)
			}
		})
	}
}

// Replaying the journal gives byte-identical detections.
func TestReplayIdentical(t *testing.T) {
	reg := nativeRegistry(t)
	recs := append(failures("acme", "00uJANE", 6, t0, "r"), failures("acme", "00uBOB", 5, t0.Add(time.Hour), "s")...)
	run := func() []Raised {
		m, err := NewMatcher(reg, correlate.Config{}, Envelope{})
		if err != nil {
			t.Fatal(err)
		}
		var out []Raised
		for i := range recs {
			out = m.Feed(&recs[i], out)
		}
		return out
	}
	a, b := run(), run()
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("got %d and %d detections, want 2 each (one per user)", len(a), len(b))
	}
	for i := range a {
		if a[i].Record.UUID != b[i].Record.UUID || !bytes.Equal(a[i].Record.Data, b[i].Record.Data) {
			t.Errorf("detection %d differs between runs:\n%s\n%s", i, a[i].Record.Data, b[i].Record.Data)
		}
	}
}

// Suppression: a group that fires again within the rule's suppress window
// raises nothing (counted); after it, the next detection carries the
// suppressed count.
func TestSuppression(t *testing.T) {
	m, err := NewMatcher(nativeRegistry(t), correlate.Config{}, Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	recs := append(failures("acme", "00uJANE", 10, t0, "a"), failures("acme", "00uJANE", 5, t0.Add(2*time.Hour), "b")...)
	var out []Raised
	for i := range recs {
		out = m.Feed(&recs[i], out)
	}
	if len(out) != 2 {
		t.Fatalf("got %d detections, want 2 (the second window's firing suppressed)", len(out))
	}
	if m.Stats().Suppressed != 1 {
		t.Errorf("got %d suppressed, want 1", m.Stats().Suppressed)
	}
	if out[1].Detection.SuppressedBefore != 1 || !bytes.Contains(out[1].Record.Data, []byte(`"suppressedCount":"1"`)) {
		t.Errorf("second detection: got suppressed %d, want 1 in the event", out[1].Detection.SuppressedBefore)
	}
}

func fileList(name string, data []byte) []sigma.File { return []sigma.File{{Name: name, Data: data}} }

// Firings suppressed after a detection are counted on it in the triage
// store, with the newest event.
func TestServiceSuppressedCountedOnDetection(t *testing.T) {
	j := journaltest.Open(t)
	store := NewStore(journaltest.KV(t, j, BucketDetections))
	svc, stop := startService(t, j, nativeRegistry(t), Config{}, func(s *Service) {
		s.deps.Raised = func(ctx context.Context, rs []Raised) { _ = store.Record(ctx, rs) }
		s.deps.Suppressed = func(ctx context.Context, ss []correlate.Suppression) { _ = store.Suppressed(ctx, ss) }
	})
	defer stop()
	evs := failuresEvery("acme", "00uJANE", 10, recent(), time.Second, "s")
	appendAll(t, j, evs[:5])
	waitRaised(t, svc, 1)
	appendAll(t, j, evs[5:])
	caughtUp(t, j, svc)
	ds, err := store.List(t.Context(), "acme", Filter{Rule: bruteForceID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("got %d detections (%v), want 1", len(ds), err)
	}
	if ds[0].SuppressedCount != 1 || ds[0].LastEvent != "s-09" || ds[0].Status != TriageOpen {
		t.Errorf("got suppressed %d last %q status %s, want 1, s-09, OPEN", ds[0].SuppressedCount, ds[0].LastEvent, ds[0].Status)
	}
}

// Two nodes share the journal: only the lease holder evaluates; when it
// stops, the other takes over from its checkpoint and the detection is
// raised once.
func TestServiceLeaseOneNode(t *testing.T) {
	j := journaltest.Open(t)
	reg := nativeRegistry(t)
	leaseKV := journaltest.KV(t, j, "auditstream_cluster")
	node := func(name string) (*Service, func()) {
		return startService(t, j, reg, Config{CheckpointInterval: time.Millisecond}, func(s *Service) {
			s.leases = lease.New(lease.Config{KV: leaseKV, Prefix: "detect.", Node: name, TTL: LeaseTTL})
		})
	}
	a, stopA := node("a")
	b, stopB := node("b")
	defer stopB()
	evs := failuresEvery("acme", "00uJANE", 5, recent(), time.Second, "l")
	appendAll(t, j, evs[:3])
	wait.Eventually(t, "one node evaluating", func() bool { return a.Position() > 0 || b.Position() > 0 }, wait.Within(15*time.Second))
	holder, other, stopHolder := a, b, stopA
	if b.Position() > 0 {
		holder, other, stopHolder = b, a, stopB
	}
	caughtUp(t, j, holder)
	if other.Position() != 0 {
		t.Fatalf("both nodes evaluate (positions %d and %d), want one", holder.Position(), other.Position())
	}
	stopHolder()
	appendAll(t, j, evs[3:])
	waitRaised(t, other, 1)
	caughtUp(t, j, other)
	n := 0
	for _, d := range detections(t, j) {
		if d.EventType == EventTypePrefix+"okta_brute_force_user" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("got %d brute force detections, want 1", n)
	}
	if holder == b {
		stopA()
	}
}

// Replaying a journal from scratch (a fresh runtime over the same events in
// another journal) appends byte-identical detection events.
func TestServiceReplayByteIdentical(t *testing.T) {
	evs := append(failuresEvery("acme", "00uJANE", 6, recent(), time.Second, "p"), failuresEvery("acme", "00uBOB", 5, recent(), time.Second, "q")...)
	run := func() []event.Record {
		j := journaltest.Open(t)
		svc, stop := startService(t, j, nativeRegistry(t), Config{}, nil)
		defer stop()
		appendAll(t, j, evs)
		waitRaised(t, svc, 4) // two brute force, two alert-on-alert
		caughtUp(t, j, svc)
		return detections(t, j)
	}
	a, b := run(), run()
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("got %d and %d detections, want 4 each", len(a), len(b))
	}
	sort := func(rs []event.Record) {
		slices.SortFunc(rs, func(x, y event.Record) int { return strings.Compare(x.UUID, y.UUID) })
	}
	sort(a)
	sort(b)
	for i := range a {
		if a[i].UUID != b[i].UUID || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("detection %d differs:\n%s\n%s", i, a[i].Data, b[i].Data)
		}
	}
}
