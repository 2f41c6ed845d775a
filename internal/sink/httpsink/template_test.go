package httpsink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
	"github.com/auditstream/auditstream/internal/sink/notify/notifytest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// alertTemplate is a receiver's own alert shape, as an operator writes it.
const alertTemplate = `{"id": {{json .ID}}, "uuid": {{json .UUID}}, "title": {{json .Title}}, "level": {{json .Level}},
 "text": "{{jsonesc .Headline}} by {{jsonesc (default "unknown" .Author)}}", "ip": {{json (field .Event "client.ipAddress")}}}`

const digestTemplate = `{"text": {{json .Headline}}, "uuids": [{{range $i, $n := .Notices}}{{if $i}},{{end}}{{json $n.UUID}}{{end}}]}`

func TestTemplateConformance(t *testing.T) {
	for _, digest := range []time.Duration{0, 5 * time.Minute} {
		t.Run(fmt.Sprintf("digest=%v", digest), func(t *testing.T) {
			tpl := alertTemplate
			if digest > 0 {
				tpl = digestTemplate
			}
			h := sinktest.Harness{
				New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
					fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{Decode: decodeTemplated})
					s, err := New(Config{URL: fake.URL() + "/alerts", BodyTemplate: tpl, Digest: sink.Duration(digest), MaxEvents: 7}, sink.Deps{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close(t.Context()) })
					return s, fake
				},
				MaxRequestEvents: 1,
				DataEqual: func(sent, received []byte) bool {
					return bytes.Contains(received, []byte(notify.Parse(event.Record{Data: sent}).UUID))
				},
			}
			if digest > 0 {
				h.MaxRequestEvents = 7
			}
			sinktest.Run(t, h)
		})
	}
}

func decodeTemplated(_ *http.Request, body []byte) ([]sinktest.Received, error) {
	var one struct {
		UUID  string   `json:"uuid"`
		UUIDs []string `json:"uuids"`
	}
	if err := json.Unmarshal(body, &one); err != nil {
		return nil, fmt.Errorf("templated body %s: %w", body, err)
	}
	ids := one.UUIDs
	if one.UUID != "" {
		ids = []string{one.UUID}
	}
	out := make([]sinktest.Received, len(ids))
	for i, id := range ids {
		out[i] = sinktest.Received{ID: id, Data: body}
	}
	return out, nil
}

func TestTemplateBody(t *testing.T) {
	rc := newReceiver(t, nil)
	s := newTestSink(t, Config{URL: rc.srv.URL, BodyTemplate: alertTemplate}, sink.Deps{})
	if err := s.Write(t.Context(), sink.Batch{Records: []event.Record{notifytest.Detection("detection")}}); err != nil {
		t.Fatal(err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests: got %d, want 1", len(reqs))
	}
	want := `{"id":"5b0c5d0e-8f5e-5b7a-9c55-0d2b7e1f4a10","uuid":"5b0c5d0e-8f5e-5b7a-9c55-0d2b7e1f4a10","title":"Password spray from one IP","level":"high","text":"HIGH: Password spray from one IP by auditstream","ip":"203.0.113.7"}`
	if string(reqs[0].body) != want {
		t.Errorf("body: got %s, want %s", reqs[0].body, want)
	}
	if ct := reqs[0].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type: got %q", ct)
	}
}

// TestTemplateNeverFailsDelivery: a template that fails on an event at
// delivery (it passed the samples at creation) sends the event as stored,
// with a warning.
func TestTemplateNeverFailsDelivery(t *testing.T) {
	rc := newReceiver(t, nil)
	var logs bytes.Buffer
	tpl := `{{if eq .Org "boom"}}{{index .Tags 5}}{{end}}{"uuid": {{json .UUID}}}`
	s := newTestSink(t, Config{URL: rc.srv.URL, BodyTemplate: tpl}, sink.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rec := sinktest.Record(1, 10)
	rec.Org = "boom"
	if err := s.Write(t.Context(), sink.Batch{Records: []event.Record{rec}}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	if got := rc.requests()[0].body; !bytes.Equal(got, rec.Data) {
		t.Errorf("body: got %s, want the event as stored", got)
	}
	if !strings.Contains(logs.String(), "bodyTemplate failed") {
		t.Errorf("logs: got %q, want a warning", logs.String())
	}
}

// TestTemplateRefusedAtCreate: the stream type's Validate (what the API
// calls before storing a stream: its error is a 400) refuses a template
// that could fail at delivery, and body/digest combinations that make no
// sense.
func TestTemplateRefusedAtCreate(t *testing.T) {
	row := Type()
	for _, tt := range []struct{ settings, want string }{
		{`{"url":"https://x.example/a","bodyTemplate":"{\"a\": {{json .Title}}}"}`, ""},
		{`{"url":"https://x.example/a","bodyTemplate":"{\"a\": {{json .Headline}}}","digest":"5m"}`, ""},
		{`{"url":"https://x.example/a","digest":"5m"}`, ""},
		{`{"url":"https://x.example/a","bodyTemplate":"{\"a\": \"{{.Title}}\"}"}`, "bodyTemplate: on a sample detection: output is not JSON"},
		{`{"url":"https://x.example/a","bodyTemplate":"{{json .Nope}}"}`, "can't evaluate field Nope"},
		{`{"url":"https://x.example/a","bodyTemplate":"{{"}`, "bodyTemplate:"},
		{`{"url":"https://x.example/a","bodyTemplate":"{\"a\": {{json .Title}}}","body":"batch"}`, "use body event"},
		{`{"url":"https://x.example/a","bodyTemplate":"{\"a\": {{json .Headline}}}","digest":"5m","body":"ndjson"}`, "leave body out"},
		{`{"url":"https://x.example/a","digest":"5m","body":"event"}`, "digest: sends one request per period"},
		{`{"url":"https://x.example/a","digest":"5s"}`, "digest 5s"},
	} {
		err := row.Validate([]byte(tt.settings), sink.Deps{})
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: got %v, want %q", tt.settings, err, tt.want)
		}
	}
}
