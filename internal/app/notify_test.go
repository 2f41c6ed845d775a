package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink/notify/notifytest"
	"github.com/auditstream/auditstream/internal/wait"
)

// slackHook is a Slack incoming webhook on loopback: it records message
// bodies and answers "ok" (an empty message: 400 no_text).
type slackHook struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []string
}

func newSlackHook(t *testing.T) *slackHook {
	h := &slackHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) == "{}" { // the stream's verification: Slack refuses an empty message
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "no_text")
			return
		}
		if r.Method == http.MethodPost {
			h.mu.Lock()
			h.msgs = append(h.msgs, string(b))
			h.mu.Unlock()
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *slackHook) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// TestHighDetectionsToSlack: the README's "send high detections to Slack"
// stream, through serve: the webhook URL is write-only (not in the
// answer, nor in GET), only the high detection is posted, and a bad
// bodyTemplate or a tenant's loopback webhook is a 400 that stores nothing.
func TestHighDetectionsToSlack(t *testing.T) {
	const secretPath = "/services/T0/B0/XXXXsecretXXXX"
	h := newSlackHook(t)
	r := startApp(t, testConfig(""))
	in := map[string]any{
		"type": "slack", "name": "high-detections", "org": "acme",
		"settings": map[string]any{"webhookUrl": h.URL + secretPath},
		"filter":   map[string]any{"detail": map[string]any{"eventType": []any{map[string]any{"prefix": "security.detection."}}, "severity": []string{"ERROR"}}},
	}
	code, body, id := r.stream(testAdmin, "", in)
	if code != http.StatusOK || id == "" {
		t.Fatalf("create: got %d %s, want 200", code, body)
	}
	code, got := r.call("GET", "/api/v1/logStreams/"+id, testAdmin, nil)
	for _, b := range []string{body, got} {
		if strings.Contains(b, "XXXXsecretXXXX") || strings.Contains(b, "hooks") {
			t.Errorf("answer shows the webhook URL: %s", b)
		}
	}
	if code != http.StatusOK || !strings.Contains(got, `"type":"slack"`) {
		t.Errorf("get: got %d %s", code, got)
	}

	acme := r.token("acme", "logStreams.manage", "logStreams.read", "events.write")
	// A medium detection and a plain ERROR event, then the high one: the
	// stream delivers in journal order, so once the high one is there,
	// anything wrongly let through would have arrived before it.
	events := []json.RawMessage{
		notifytest.Detection("sigma_detection").Data,
		json.RawMessage(`{"eventType":"user.session.start","uuid":"e-plain","severity":"ERROR"}`),
		notifytest.Detection("detection").Data,
	}
	if code, body := r.call("POST", "/api/v1/events", acme, events); code != http.StatusAccepted {
		t.Fatalf("ingest: got %d %s", code, body)
	}
	wait.Eventually(t, "the high detection to reach Slack", func() bool { return len(h.messages()) >= 1 }, wait.Within(20*time.Second))
	msgs := h.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "HIGH: Password spray from one IP") {
		t.Fatalf("messages: got %d %v, want the high detection only", len(msgs), msgs)
	}

	// A tenant cannot aim a webhook at loopback; a template that is not
	// JSON is refused at create; neither stores a stream.
	for _, tc := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"tenant loopback", map[string]any{"type": "slack", "name": "s", "settings": map[string]any{"webhookUrl": h.URL + secretPath}}, "loopback"},
		{"template not json", map[string]any{"type": "http", "name": "t", "settings": map[string]any{"url": "https://alerts.example.com/in", "bodyTemplate": `{"title": "{{.Title}}"}`}}, "output is not JSON"},
		{"template syntax", map[string]any{"type": "http", "name": "t", "settings": map[string]any{"url": "https://alerts.example.com/in", "bodyTemplate": `{{json .Title`}}, "bodyTemplate"},
		{"pagerduty key", map[string]any{"type": "pagerduty", "name": "p", "settings": map[string]any{"routingKey": "short"}}, "routingKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := r.stream(acme, "?verify=false", tc.in)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, "errorCode") {
				t.Errorf("got %d %s, want 400 with an Okta error naming %q", code, body, tc.want)
			}
			if strings.Contains(body, "XXXXsecretXXXX") {
				t.Errorf("error shows the webhook URL: %s", body)
			}
		})
	}
	_, list := r.call("GET", "/api/v1/logStreams", acme, nil)
	if n := strings.Count(list, `"id"`); n != 1 {
		t.Errorf("streams after refused creates: got %d in %s, want 1", n, list)
	}
}
