package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink/notify"
	"github.com/auditstream/auditstream/internal/sink/notify/notifytest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func TestTemplateRenders(t *testing.T) {
	src := `{"title": {{json .Title}}, "level": "{{jsonesc (upper .Level)}}", "ip": {{json (field .Event "client.ipAddress")}},
 "user": {{json (field .Event "target.1.alternateId")}}, "tags": "{{jsonesc (join "," .Tags)}}", "author": {{json (default "n/a" .Author)}},
 "short": {{json (truncate 8 .Title)}}, "missing": {{json (field .Event "no.such.path")}}}`
	tpl, err := notify.ParseTemplate(src, false)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out, err := tpl.Notice(notify.Parse(notifytest.Detection("detection")))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("output %s: %v", out, err)
	}
	want := map[string]any{"title": "Password spray from one IP", "level": "HIGH", "ip": "203.0.113.7",
		"user": "jane@example.com", "tags": "attack.credential-access,attack.t1110.003", "author": "auditstream",
		"short": "Password…", "missing": nil}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %v, want %v", k, got[k], w)
		}
	}
	// A plain event renders with the same template.
	if _, err := tpl.Notice(notify.Parse(sinktest.Record(1, 30))); err != nil {
		t.Errorf("plain event: got %v, want nil", err)
	}
}

func TestTemplateDigest(t *testing.T) {
	tpl, err := notify.ParseTemplate(`{"text": {{json .Headline}}, "ids": [{{range $i, $n := .Notices}}{{if $i}},{{end}}{{json $n.ID}}{{end}}]}`, true)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	det := notify.Parse(notifytest.Detection("detection"))
	out, err := tpl.Digest(notify.NewDigest([]notify.Notice{det, det}, 5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"text":"2 detections in example (digest)","ids":["5b0c5d0e-8f5e-5b7a-9c55-0d2b7e1f4a10","5b0c5d0e-8f5e-5b7a-9c55-0d2b7e1f4a10"]}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

// TestTemplateRefusedAtCreation: every template that could fail at
// delivery fails at creation instead, with a reason.
func TestTemplateRefusedAtCreation(t *testing.T) {
	tests := []struct {
		name, src string
		digest    bool
		want      string
	}{
		{"empty", "  ", false, "empty"},
		{"syntax", `{"a": {{json .Title}`, false, "bodyTemplate:1:"},
		{"unknown function", `{"a": {{env "HOME"}}}`, false, `function "env" not defined`},
		{"unknown field", `{"a": {{json .Nope}}}`, false, "can't evaluate field Nope"},
		{"not escaped", `{"title": "{{.Title}}"}`, false, "not JSON"},
		{"not json at all", `title {{.Title}}`, false, "not JSON"},
		{"notice field in a digest", `{"a": {{json .Title}}}`, true, "can't evaluate field Title"},
		{"digest field per event", `{"a": {{json .Notices}}}`, false, "can't evaluate field Notices"},
		{"spin", `{{range 1000000000}}{{end}}{}`, false, "range over a number"},
		{"huge output", `{"a":"{{range .Event}}{{end}}{{range $x := .Tags}}{{end}}{{printf "%2000000d" 1}}"}`, false, "over"},
		{"too long", "{}" + strings.Repeat(" ", notify.MaxTemplateBytes), false, "want at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := notify.ParseTemplate(tt.src, tt.digest)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
