package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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

// hookPath is a webhook URL's path; its last part is the credential.
const hookPath = "/services/T000/B000/XXXXsecretXXXX"

// answer is a Slack answer: its text, padded like sinktest's failures so
// that a sink that does not drain the body loses its connection.
func answer(status int, text string) sinktest.Response {
	body := []byte(text)
	if status != http.StatusOK {
		body = bytes.Repeat([]byte(" "), sinktest.FailureBodySize)
		copy(body, text)
	}
	return sinktest.Response{Status: status, Header: http.Header{"Content-Type": {"text/plain"}}, Body: body}
}

// decode reads a message back: one Received per uuid it names, each with
// the message (or the digest's section) as Data.
func decode(r *http.Request, body []byte) ([]sinktest.Received, error) {
	if r.URL.Path != hookPath {
		return nil, fmt.Errorf("path %s: want the webhook's", r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return nil, fmt.Errorf("content-type %q", ct)
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	if err := checkMessage(m); err != nil {
		return nil, err
	}
	var out []sinktest.Received
	for _, b := range m.Blocks {
		var texts []string
		if b.Text != nil {
			texts = append(texts, b.Text.Text)
		}
		for _, e := range b.Elements {
			texts = append(texts, e.Text)
		}
		for _, id := range notifytest.IDs(strings.Join(texts, " ")) {
			out = append(out, sinktest.Received{ID: id, Data: body})
		}
	}
	return out, nil
}

// checkMessage applies Slack's limits, as Slack answers invalid_blocks.
func checkMessage(m Message) error {
	if m.Text == "" || len(m.Blocks) == 0 || len(m.Blocks) > 50 {
		return fmt.Errorf("text %q, %d blocks: want text and 1 to 50 blocks", m.Text, len(m.Blocks))
	}
	for _, b := range m.Blocks {
		switch {
		case b.Type == "header" && (b.Text == nil || b.Text.Type != "plain_text" || len([]rune(b.Text.Text)) > 150):
			return fmt.Errorf("header %+v: want plain_text of at most 150 characters", b.Text)
		case b.Type == "section" && len(b.Fields) > 10:
			return fmt.Errorf("section with %d fields, want at most 10", len(b.Fields))
		case b.Type == "section" && b.Text != nil && len([]rune(b.Text.Text)) > 3000:
			return fmt.Errorf("section text of %d characters", len([]rune(b.Text.Text)))
		}
	}
	return nil
}

// sameEvent: the message received names the event's headline, escaped.
func sameEvent(sent, received []byte) bool {
	n := notify.Parse(event.Record{Data: sent})
	return bytes.Contains(received, []byte(escape(n.Headline())))
}

func TestConformance(t *testing.T) {
	notifytest.Conformance(t, notifytest.Harness{
		Digest: 5 * time.Minute,
		Fake: sinktest.HTTPFakeOptions{
			Decode: decode,
			// Verify's probe is an empty message, which Slack refuses with
			// 400 no_text.
			Route: func(r *http.Request) bool { return r.ContentLength != int64(len(`{}`)) },
			Probe: http.StatusBadRequest,
			Responses: map[sinktest.Behaviour]sinktest.Response{
				sinktest.Accept:        answer(http.StatusOK, "ok"),
				sinktest.FailPermanent: answer(http.StatusBadRequest, "invalid_payload"),
				sinktest.FailRetryable: answer(http.StatusInternalServerError, "rollup_error"),
				sinktest.Throttle:      answer(http.StatusTooManyRequests, "rate_limited"),
				sinktest.Pause:         answer(http.StatusGone, "channel_is_archived"),
			},
		},
		Open: func(url string, digest time.Duration) (sink.Sink, error) {
			return New(Config{WebhookURL: secret.String(url + hookPath), Digest: sink.Duration(digest)}, sink.Deps{})
		},
		Equal: sameEvent,
	})
}

// newServer is a Slack incoming webhook at hookPath that answers 200 ok
// until scripted otherwise.
func newServer(t *testing.T) *notifytest.Webhook {
	return notifytest.NewWebhook(t, hookPath, http.StatusOK, "ok")
}

// messages are the messages posted to srv.
func messages(t *testing.T, srv *notifytest.Webhook) []Message {
	var out []Message
	for _, b := range srv.Bodies() {
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %s: %v", b, err)
		}
		out = append(out, m)
	}
	return out
}

func TestDetectionMessage(t *testing.T) {
	srv := newServer(t)
	s, err := New(Config{WebhookURL: secret.String(srv.URL + hookPath)}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	recs := []event.Record{notifytest.Detection("detection"), notifytest.Detection("sigma_detection")}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: %v", err)
	}
	msgs := messages(t, srv)
	if len(msgs) != 2 {
		t.Fatalf("messages: got %d, want 2 (one per detection)", len(msgs))
	}
	m := msgs[0]
	if m.Text != ":red_circle: HIGH: Password spray from one IP" {
		t.Errorf("text: got %q", m.Text)
	}
	if got := m.Blocks[0].Text.Text; got != ":red_circle: HIGH: Password spray from one IP" {
		t.Errorf("header: got %q", got)
	}
	fields := map[string]string{}
	for _, f := range m.Blocks[1].Fields {
		name, value, _ := strings.Cut(f.Text, "\n")
		fields[strings.Trim(name, "*")] = value
	}
	want := map[string]string{
		"Level": "high", "Org": "example", "Group": "client.ipAddress=203.0.113.7", "Count": "12, value 12",
		"Window": "2026-11-21T10:10:41.002Z – 2026-11-21T10:15:03.412Z", "Users": "Jane Doe (jane@example.com)",
		"Client": "203.0.113.7, Reykjavik, Iceland, AS64500 example transit", "Rule": "okta_password_spray_by_ip (native)",
	}
	for k, w := range want {
		if fields[k] != w {
			t.Errorf("field %s: got %q, want %q", k, fields[k], w)
		}
	}
	if ctx := msgs[1].Blocks[2].Elements[0].Text; !strings.Contains(ctx, "rule by Austin Songer @austinsonger") || !strings.Contains(ctx, "DRL-1.1") {
		t.Errorf("sigma context: got %q, want the author and DRL-1.1", ctx)
	}
	if strings.Contains(string(mustJSON(msgs)), "http") {
		t.Error("messages: got a link, want none")
	}
}

// TestEventsCannotMention: values from events are escaped, so an actor
// named <!channel> does not notify a channel.
func TestEventsCannotMention(t *testing.T) {
	m := One(notify.Parse(event.Record{UUID: "u", Data: []byte(`{"uuid":"u","eventType":"user.session.start","displayMessage":"hi <!channel> & <https://evil.example|click>","actor":{"alternateId":"<@U123>"}}`)}))
	raw := string(mustJSON(m))
	for _, bad := range []string{"<!channel>", "<@U123>", "<https://"} {
		if strings.Contains(raw, bad) {
			t.Errorf("message has %q unescaped: %s", bad, raw)
		}
	}
	if !strings.Contains(m.Text, "&lt;!channel&gt;") {
		t.Errorf("text: got %q, want the mention escaped", m.Text)
	}
}

func TestDigestMessage(t *testing.T) {
	srv := newServer(t)
	s, err := New(Config{WebhookURL: secret.String(srv.URL + hookPath), Digest: sink.Duration(5 * time.Minute)}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	if got := s.Limits(); got.MaxAge != 5*time.Minute || got.MaxEvents != notify.MaxDigestItems {
		t.Errorf("limits: got %+v, want MaxAge 5m and MaxEvents %d", got, notify.MaxDigestItems)
	}
	recs := []event.Record{notifytest.Detection("detection"), notifytest.Detection("sigma_detection"), sinktest.Record(1, 10)}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: %v", err)
	}
	msgs := messages(t, srv)
	if len(msgs) != 1 {
		t.Fatalf("messages: got %d, want 1 digest", len(msgs))
	}
	m := msgs[0]
	if m.Blocks[0].Text.Text != "3 events in example (digest)" {
		t.Errorf("header: got %q", m.Blocks[0].Text.Text)
	}
	if got := m.Blocks[1].Text.Text; !strings.HasPrefix(got, "1 high, 1 medium, 1 low") {
		t.Errorf("summary: got %q", got)
	}
	if got := len(m.Blocks); got != 3+3 {
		t.Fatalf("blocks: got %d, want header, summary, divider and 3 lines", got)
	}
	if line := m.Blocks[4].Text.Text; !strings.Contains(line, "Okta MFA Reset or Deactivated") || !strings.Contains(line, "Austin Songer") {
		t.Errorf("line: got %q, want the title and the author", line)
	}
}

// TestAnswers: Slack's answers are classified, their text quoted, and
// the webhook URL's path, its credential, is in no error.
func TestAnswers(t *testing.T) {
	tests := []struct {
		status     int
		text       string
		retryAfter string
		want       sink.Class
		wantDelay  time.Duration
	}{
		{http.StatusBadRequest, "invalid_payload", "", sink.ClassPermanent, 0},
		{http.StatusForbidden, "invalid_token", "", sink.ClassConfig, 0},
		{http.StatusNotFound, "channel_not_found", "", sink.ClassConfig, 0},
		{http.StatusGone, "channel_is_archived", "", sink.ClassPaused, 0},
		{http.StatusTooManyRequests, "rate_limited", "30", sink.ClassThrottled, 30 * time.Second},
		{http.StatusInternalServerError, "rollup_error", "", sink.ClassRetryable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			srv := newServer(t)
			srv.Answer(tt.status, tt.text, tt.retryAfter)
			var logs bytes.Buffer
			s, err := New(Config{WebhookURL: secret.String(srv.URL + hookPath)}, sink.Deps{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			err = s.Write(t.Context(), sink.Batch{Records: []event.Record{notifytest.Detection("detection")}})
			var pe *sink.PartialError
			if errors.As(err, &pe) {
				err = pe.Failed[0] // a permanent failure of one message is reported per record
			}
			class, delay := sink.ClassOf(err)
			if class != tt.want || delay != tt.wantDelay {
				t.Errorf("class: got %v %v, want %v %v (%v)", class, delay, tt.want, tt.wantDelay, err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error: got %q, want Slack's %q in it", err, tt.text)
			}
			if strings.Contains(err.Error(), "XXXXsecretXXXX") || strings.Contains(logs.String(), "XXXXsecretXXXX") {
				t.Errorf("error or logs show the webhook's credential: %q %q", err, logs.String())
			}
			var se *sink.StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.status {
				t.Errorf("status error: got %v, want status %d", err, tt.status)
			}
		})
	}
}

// TestUnreachableHidesURL: a transport error names the host, not the
// webhook's path.
func TestUnreachableHidesURL(t *testing.T) {
	srv := newServer(t)
	u := srv.URL + hookPath
	srv.Close()
	s, err := New(Config{WebhookURL: secret.String(u)}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	for _, err := range []error{
		s.Write(t.Context(), sink.Batch{Records: []event.Record{notifytest.Detection("detection")}}),
		s.Verify(t.Context()),
	} {
		if err == nil || strings.Contains(err.Error(), "XXXXsecretXXXX") || !strings.Contains(err.Error(), "/…") {
			t.Errorf("error: got %v, want one that shows the URL as host/…", err)
		}
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"good", Config{WebhookURL: "https://hooks.slack.com/services/T/B/x", Digest: sink.Duration(5 * time.Minute)}, nil},
		{"missing", Config{}, []string{"webhookUrl: required"}},
		{"every problem", Config{WebhookURL: "ftp://user:pw@hooks.slack.com/x", Digest: sink.Duration(time.Second), Timeout: sink.Duration(time.Hour)},
			[]string{"webhookUrl: scheme", "digest 1s", "timeout 1h0m0s"}},
		{"plain http", Config{WebhookURL: "http://hooks.slack.com/services/T/B/x"}, []string{"unencrypted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.withDefaults().Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "services/T/B") || strings.Contains(err.Error(), "pw@") {
				t.Errorf("got %q, want the URL not shown", err)
			}
		})
	}
}

// TestTypeRow: the webhook URL is a secret (write-only in the API, sealed
// at rest), and the egress policy applies at validation.
func TestTypeRow(t *testing.T) {
	row := Type()
	if row.Name != "slack" || len(row.Secrets) != 1 || row.Secrets[0] != "webhookUrl" {
		t.Errorf("row: got %s %v, want slack [webhookUrl]", row.Name, row.Secrets)
	}
	deny := sink.Deps{Egress: sink.EgressFuncs{URL: func(*url.URL) error { return errors.New("loopback not allowed") }}}
	err := row.Validate([]byte(`{"webhookUrl":"http://127.0.0.1:9/services/T/B/XXXXsecretXXXX"}`), deny)
	if !errors.Is(err, sink.ErrForbiddenTarget) || strings.Contains(err.Error(), "XXXXsecretXXXX") {
		t.Errorf("validate to a refused target: got %v, want ErrForbiddenTarget without the path", err)
	}
	if err := row.Validate([]byte(`{"webhookUrl":"https://hooks.slack.com/x","channel":"#sec"}`), sink.Deps{}); err == nil {
		t.Error("unknown setting: got nil, want an error")
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestVerify: Verify posts an empty message, which a good webhook refuses
// with 400 no_text (nothing is posted); a revoked or unknown one fails.
func TestVerify(t *testing.T) {
	tests := []struct {
		status  int
		text    string
		wantErr bool
	}{
		{http.StatusBadRequest, "no_text", false},
		{http.StatusForbidden, "invalid_token", true},
		{http.StatusNotFound, "no_service", true},
		{http.StatusGone, "channel_is_archived", true},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			srv := newServer(t)
			srv.Answer(tt.status, tt.text, "")
			s, err := New(Config{WebhookURL: secret.String(srv.URL + hookPath)}, sink.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			err = s.Verify(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("verify: got %v, want error %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "XXXXsecretXXXX") {
				t.Errorf("verify error shows the credential: %v", err)
			}
			if bodies := srv.Bodies(); len(bodies) != 1 || string(bodies[0]) != "{}" {
				t.Errorf("posted: got %q, want one empty message", bodies)
			}
		})
	}
}
