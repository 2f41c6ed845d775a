package activity

import (
	"fmt"
	"testing"

	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// triageEvent is a system.detection.update as the detections API writes it:
// a token's action on a Detection target, naming no user.
func triageEvent(uuid, detection, status, note, at string) string {
	return fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"system.detection.update","displayMessage":"Detection %s",`+
		`"actor":{"id":"tok1","type":"Token","alternateId":"ops","displayName":"ops"},"outcome":{"result":"SUCCESS"},`+
		`"target":[{"id":%q,"type":"Detection","alternateId":"security.detection.session_roaming","displayName":"Session roaming across ASNs"}],`+
		`"debugContext":{"debugData":{"status":%q,"note":%q,"ruleId":"r1"}}}`, uuid, at, status, detection, status, note)
}

// A detection in a user's profile follows its triage: acknowledged, then
// closed with the note, also when the triage is folded by a store started
// after the detection was folded and stored (the detection's users come
// from the bucket); another user's profile and the token get nothing.
func TestTriageUpdatesDetection(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	const john = "00uttidj01jqL21aM1d6"
	appendAll(t, j, parseAll(t, "acme", extraEvents[2], extraEvents[3]), 10)
	r := start(t, j, kv, Config{})
	caughtUp(t, j, r.s)
	if d := profiles(t, kv, "acme")[john].Detections; len(d) != 1 || d[0].Status != DetectionOpen {
		t.Fatalf("before triage: got %+v, want one OPEN detection", d)
	}
	appendAll(t, j, parseAll(t, "acme", triageEvent("t-1", "det-1", "ACKNOWLEDGED", "looking", "2024-08-13T17:00:00.000Z")), 10)
	caughtUp(t, j, r.s)
	if d := profiles(t, kv, "acme")[john].Detections; len(d) != 1 || d[0].Status != DetectionAcknowledged || d[0].Note != "looking" {
		t.Fatalf("acknowledged: got %+v, want ACKNOWLEDGED with the note", d)
	}
	r.stop()

	r2 := start(t, j, kv, Config{}) // an empty memory: the users come from the bucket
	appendAll(t, j, parseAll(t, "acme",
		triageEvent("t-2", "det-1", "CLOSED", "benign: VPN", "2024-08-13T18:00:00.000Z"),
		triageEvent("t-3", "det-other", "CLOSED", "", "2024-08-13T18:01:00.000Z")), 10)
	caughtUp(t, j, r2.s)
	ps := profiles(t, kv, "acme")
	d := ps[john].Detections
	if len(d) != 1 || d[0].Status != DetectionClosed || d[0].Note != "benign: VPN" || d[0].Updated.IsZero() || d[0].Count != 2 {
		t.Errorf("closed: got %+v, want CLOSED with the note, count 2", d)
	}
	if len(ps) != 1 {
		t.Errorf("got profiles of %d users, want only john's (the token is no user)", len(ps))
	}
	// The daily counts hold the two detection events, not the triages
	// (they name the detection, not the user).
	if dc := ps[john].Daily; dc == nil || len(dc.Counts()) != 1 || dc.Counts()[0] != 2 {
		t.Errorf("daily counts: got %+v, want the 2 detection events of 2024-08-13", dc)
	}
}
