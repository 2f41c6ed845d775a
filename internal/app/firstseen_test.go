package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/detect"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestDetectionsFirstSeenThroughServe: with the activity profiles on, the
// shipped signin_new_country rule raises for a user's first sign-in from a
// country, not for the second, and again for another user; closing the
// detection through the API closes it in the user's activity profile.
// With the profiles off, the rule is listed as "no source" with the reason.
func TestDetectionsFirstSeenThroughServe(t *testing.T) {
	cfg := testConfig("")
	cfg.Detections.Logsources = []config.DetectionLogsource{{Product: "okta", Sources: []string{"auditstream."}}}
	on := true
	cfg.Activity.Enabled = &on
	r := startApp(t, cfg)
	acme := r.token("acme", "events.write", "logs.read", "detections.manage", "activity.read")

	start := time.Now().UTC().Add(-10 * time.Second)
	signIn := func(uuid, user, country string, at time.Time) map[string]any {
		return map[string]any{"uuid": uuid, "eventType": "user.session.start", "published": at.Format(time.RFC3339Nano),
			"actor":   map[string]any{"id": "00u" + user, "type": "User", "alternateId": user + "@example.com"},
			"outcome": map[string]any{"result": "SUCCESS"},
			"client":  map[string]any{"ipAddress": "203.0.113.7", "geographicalContext": map[string]any{"country": country}}}
	}
	for _, ev := range []map[string]any{signIn("fs-1", "JANE", "Norway", start), signIn("fs-2", "JANE", "Norway", start.Add(time.Second)),
		signIn("fs-3", "BOB", "Norway", start.Add(2*time.Second))} {
		if code, body := r.call("POST", "/api/v1/events", acme, ev); code != http.StatusAccepted {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
	}
	q := url.Values{"filter": {`eventType eq "security.detection.signin_new_country"`}}
	var logs []map[string]any
	count := func() int {
		code, body := r.call("GET", "/api/v1/logs?"+q.Encode(), acme, nil)
		if code != http.StatusOK || json.Unmarshal([]byte(body), &logs) != nil {
			return -1
		}
		return len(logs)
	}
	wait.Eventually(t, "two new-country detections", func() bool { return count() == 2 }, wait.Within(20*time.Second),
		wait.Seen(func() string { return fmt.Sprint(count()) }))
	wait.Never(t, "a third new-country detection", time.Second, func() bool { return count() > 2 })
	janeDet := ""
	for _, l := range logs {
		if a, _ := l["actor"].(map[string]any); a["id"] == "00uJANE" {
			janeDet, _ = l["uuid"].(string)
		}
	}
	if janeDet == "" {
		t.Fatalf("no detection with actor 00uJANE in %v", logs)
	}
	if code, body := r.call("POST", "/api/v1/detections/"+janeDet, acme, map[string]any{"status": "CLOSED", "note": "travelling"}); code != http.StatusOK {
		t.Fatalf("close: got %d %s, want 200", code, body)
	}
	status := func() string {
		_, body := r.call("GET", "/api/v1/activity/users/00uJANE", acme, nil)
		var p struct {
			Detections []struct{ ID, Status, Note string }
		}
		_ = json.Unmarshal([]byte(body), &p)
		for _, d := range p.Detections {
			if d.ID == janeDet {
				return d.Status + " " + d.Note
			}
		}
		return "absent: " + body
	}
	wait.Eventually(t, "the detection closed in jane's profile", func() bool { return status() == "CLOSED travelling" },
		wait.Within(20*time.Second), wait.Seen(status))
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	off := false
	cfg2 := testConfig("")
	cfg2.Activity.Enabled = &off
	r2 := startApp(t, cfg2)
	code, body := r2.call("GET", "/api/v1/detections/rules", r2.token("acme", "detections.read"), nil)
	var rules []detect.Info
	if code != http.StatusOK || json.Unmarshal([]byte(body), &rules) != nil {
		t.Fatalf("rules: got %d %s", code, body)
	}
	found := false
	for _, in := range rules {
		if in.Name == "signin_new_country" {
			found = true
			if in.Status != detect.StatusNoSource || in.Reason != detect.NoFirstSeenReason {
				t.Errorf("without activity: got status %q reason %q, want %q %q", in.Status, in.Reason, detect.StatusNoSource, detect.NoFirstSeenReason)
			}
		}
	}
	if !found || !strings.Contains(body, "signin_new_country") {
		t.Errorf("rules: signin_new_country not listed in %s", body)
	}
}
