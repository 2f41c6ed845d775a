package teams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
	"github.com/auditstream/auditstream/internal/sink/notify/notifytest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// hook is a Workflows webhook's path and query; sig is its credential.
const hook = "/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=XXXXsecretXXXX"

func decode(r *http.Request, body []byte) ([]sinktest.Received, error) {
	if r.URL.Query().Get("sig") != "XXXXsecretXXXX" {
		return nil, fmt.Errorf("query %q: want the webhook's", r.URL.RawQuery)
	}
	m, err := readMessage(body)
	if err != nil {
		return nil, err
	}
	var texts []string
	for _, e := range m.Attachments[0].Content.Body {
		texts = append(texts, e.Text)
	}
	var out []sinktest.Received
	for _, id := range notifytest.IDs(strings.Join(texts, " ")) {
		out = append(out, sinktest.Received{ID: id, Data: body})
	}
	return out, nil
}

// readMessage reads a message and checks it the way Teams does: one
// Adaptive Card attachment, under 28 KB.
func readMessage(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("message: %w", err)
	}
	switch {
	case len(body) > 28<<10:
		return m, fmt.Errorf("message of %d bytes, over 28 KB", len(body))
	case m.Type != "message" || len(m.Attachments) != 1:
		return m, fmt.Errorf("type %q with %d attachments, want a message with one", m.Type, len(m.Attachments))
	case m.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive":
		return m, fmt.Errorf("attachment %q, want an adaptive card", m.Attachments[0].ContentType)
	case m.Attachments[0].Content.Type != "AdaptiveCard" || len(m.Attachments[0].Content.Body) == 0:
		return m, errors.New("card without body")
	}
	return m, nil
}

func sameEvent(sent, received []byte) bool {
	n := notify.Parse(event.Record{Data: sent})
	b, _ := json.Marshal(text(n.Headline()))
	return bytes.Contains(received, b[1:len(b)-1])
}

func pad(status int, text string) sinktest.Response {
	body := bytes.Repeat([]byte(" "), sinktest.FailureBodySize)
	copy(body, text)
	return sinktest.Response{Status: status, Body: body}
}

func TestConformance(t *testing.T) {
	notifytest.Conformance(t, notifytest.Harness{
		Digest: 10 * time.Minute,
		Fake: sinktest.HTTPFakeOptions{
			Decode: decode,
			Responses: map[sinktest.Behaviour]sinktest.Response{
				sinktest.Accept:        {Status: http.StatusAccepted},
				sinktest.FailPermanent: pad(http.StatusBadRequest, `{"error":{"code":"InvalidRequestContent"}}`),
			},
		},
		Open: func(url string, digest time.Duration) (sink.Sink, error) {
			return New(Config{WebhookURL: secret.String(url + hook), Digest: sink.Duration(digest)}, sink.Deps{})
		},
		Equal: sameEvent,
	})
}

// newServer is a Teams workflow webhook that answers status with text.
func newServer(t *testing.T, status int, text string) *notifytest.Webhook {
	return notifytest.NewWebhook(t, "", status, text)
}

func TestDetectionCard(t *testing.T) {
	srv := newServer(t, http.StatusOK, "1")
	s, err := New(Config{WebhookURL: secret.String(srv.URL + hook)}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	if err := s.Write(t.Context(), sink.Batch{Records: []event.Record{notifytest.Detection("sigma_detection")}}); err != nil {
		t.Fatalf("write: %v", err)
	}
	m, err := readMessage(srv.Bodies()[0])
	if err != nil {
		t.Fatal(err)
	}
	card := m.Attachments[0].Content
	if card.Version != "1.4" || card.Body[0].Text != "MEDIUM: Okta MFA Reset or Deactivated" || card.Body[0].Color != "Warning" {
		t.Errorf("card head: got version %s, %+v", card.Version, card.Body[0])
	}
	facts := map[string]string{}
	for _, f := range card.Body[1].Facts {
		facts[f.Title] = f.Value
	}
	for k, w := range map[string]string{"Level": "medium", "Org": "example", "Group": "actor.id=00uADMIN", "Count": "1",
		"Actor": "Ada Admin (admin@example.com)", "Rule": "okta_mfa_reset_or_deactivated (sigma)"} {
		if facts[k] != w {
			t.Errorf("fact %s: got %q, want %q", k, facts[k], w)
		}
	}
	if last := card.Body[2].Text; !strings.Contains(last, "Austin Songer") || !strings.Contains(last, "DRL-1.1") {
		t.Errorf("attribution: got %q, want the author and licence", last)
	}
}

func TestDigestCard(t *testing.T) {
	srv := newServer(t, http.StatusAccepted, "")
	s, err := New(Config{WebhookURL: secret.String(srv.URL + hook), Digest: sink.Duration(15 * time.Minute)}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	recs := []event.Record{notifytest.Detection("detection"), notifytest.Detection("sigma_detection")}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(srv.Bodies()) != 1 {
		t.Fatalf("messages: got %d, want 1", len(srv.Bodies()))
	}
	m, err := readMessage(srv.Bodies()[0])
	if err != nil {
		t.Fatal(err)
	}
	body := m.Attachments[0].Content.Body
	if body[0].Text != "2 detections in example (digest)" || !strings.HasPrefix(body[1].Text, "1 high, 1 medium") {
		t.Errorf("digest head: got %q / %q", body[0].Text, body[1].Text)
	}
	if got := len(body); got != 2+2*2 {
		t.Errorf("elements: got %d, want 6", got)
	}
}

// TestAnswers: Teams' answers, including a legacy connector's failure
// inside a 200, are classified; no error shows the sig.
func TestAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		text   string
		want   sink.Class
	}{
		{"ok", http.StatusOK, "1", -1},
		{"workflow accepted", http.StatusAccepted, "", -1},
		{"bad card", http.StatusBadRequest, `{"error":{"code":"InvalidRequestContent"}}`, sink.ClassPermanent},
		{"too large", http.StatusRequestEntityTooLarge, "", sink.ClassPermanent},
		{"unauthorized", http.StatusUnauthorized, `{"error":{"code":"DirectApiAuthorizationRequired"}}`, sink.ClassConfig},
		{"not found", http.StatusNotFound, "", sink.ClassConfig},
		{"throttled", http.StatusTooManyRequests, "", sink.ClassThrottled},
		{"connector throttled in a 200", http.StatusOK, "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0", sink.ClassThrottled},
		{"connector refused in a 200", http.StatusOK, "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413", sink.ClassPermanent},
		{"server error", http.StatusBadGateway, "", sink.ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.status, tt.text)
			s, err := New(Config{WebhookURL: secret.String(srv.URL + hook)}, sink.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			err = s.Write(t.Context(), sink.Batch{Records: []event.Record{notifytest.Detection("detection")}})
			if tt.want < 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var pe *sink.PartialError
			if errors.As(err, &pe) {
				err = pe.Failed[0]
			}
			if class, _ := sink.ClassOf(err); err == nil || class != tt.want {
				t.Errorf("class: got %v (%v), want %v", class, err, tt.want)
			}
			if strings.Contains(err.Error(), "XXXXsecretXXXX") || strings.Contains(err.Error(), "workflows/abc") {
				t.Errorf("error shows the webhook URL: %q", err)
			}
		})
	}
}

func TestTypeRow(t *testing.T) {
	row := Type()
	if row.Name != "teams" || len(row.Secrets) != 1 || row.Secrets[0] != "webhookUrl" {
		t.Errorf("row: got %s %v, want teams [webhookUrl]", row.Name, row.Secrets)
	}
	err := row.Validate([]byte(`{"webhookUrl":"https://example.invalid/x?sig=XXXXsecretXXXX#frag","digest":"1h","timeout":"0s"}`), sink.Deps{})
	if err == nil || !strings.Contains(err.Error(), "fragment") || strings.Contains(err.Error(), "XXXXsecretXXXX") {
		t.Errorf("validate: got %v, want the fragment refused without showing the sig", err)
	}
}

// TestDigestStaysSmall: a full digest of events with huge values stays
// under Teams' 28 KB and still names every event.
func TestDigestStaysSmall(t *testing.T) {
	big := strings.Repeat("x", 5000)
	var notices []notify.Notice
	var want []string
	for i := range notify.MaxDigestItems {
		r := sinktest.Record(i+1, 10)
		r.Data = []byte(fmt.Sprintf(`{"uuid":%q,"eventType":"user.session.start","displayMessage":%q,"actor":{"alternateId":%q},"outcome":{"result":"FAILURE","reason":%q}}`, r.UUID, big, big, big))
		notices = append(notices, notify.Parse(r))
		want = append(want, r.UUID)
	}
	body, err := json.Marshal(Digest(notify.NewDigest(notices, time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 28<<10 {
		t.Errorf("digest: got %d bytes, want at most 28 KB", len(body))
	}
	if got := notifytest.IDs(string(body)); !slices.Equal(got, want) {
		t.Errorf("ids: got %d, want all %d in order", len(got), len(want))
	}
}
