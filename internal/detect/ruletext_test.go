package detect

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

const twoRules = `# the pack's first rule
title: Rule A
id: rule-a
match: {detail: {eventType: [user.session.start]}}
---
title: Rule B
id: rule-b
match: {detail: {eventType: [user.session.end]}}
`

func TestRegistryText(t *testing.T) {
	reg := NewRegistry(DefaultRoutes(), LoadPack("p", "", []sigma.File{{Name: "two.yml", Data: []byte(twoRules)}}, nil))
	want := map[string]string{
		"rule-a": "# the pack's first rule\ntitle: Rule A\nid: rule-a\nmatch: {detail: {eventType: [user.session.start]}}\n",
		"rule-b": "title: Rule B\nid: rule-b\nmatch: {detail: {eventType: [user.session.end]}}\n",
	}
	var n int
	for _, in := range reg.Infos() {
		w, ok := want[in.ID]
		if !ok {
			continue
		}
		n++
		if got := reg.Text(in); got != w {
			t.Errorf("%s (line %d): got %q, want %q", in.ID, in.Line, got, w)
		}
	}
	if n != 2 {
		t.Fatalf("got %d of the two rules listed: %+v", n, reg.Infos())
	}
	if got := reg.Text(Info{ID: "nope", File: "two.yml"}); got != "" {
		t.Errorf("an unknown rule: got %q, want none", got)
	}
}

// TestAPIRuleText: GET of one rule carries its text; two uploads of one
// org (each its own upload.yml) keep their own texts.
func TestAPIRuleText(t *testing.T) {
	j := journaltest.Open(t)
	rules, err := OpenRules(t.Context(), RulesConfig{Routes: DefaultRoutes(), Packs: []*Pack{nativePack(t)}, KV: journaltest.KV(t, j, BucketRules)})
	if err != nil {
		t.Fatal(err)
	}
	srv := apiServer(t, j, rules)
	second := strings.NewReplacer("upload-token-human", "upload-second", "Token created by a human", "Second rule").Replace(uploadedRule)
	for _, doc := range []string{uploadedRule, second} {
		if code, body := do(t, srv, "acme", "POST", "/api/v1/detections/rules", doc); code != http.StatusOK {
			t.Fatalf("upload: got %d %s", code, body)
		}
	}
	for id, want := range map[string]string{"upload-token-human": `title: Token created by a human\nid: upload-token-human\n`,
		"upload-second": `title: Second rule\nid: upload-second\n`, bruteForceID: `id: ` + bruteForceID} {
		code, body := do(t, srv, "acme", "GET", "/api/v1/detections/rules/"+id, "")
		if code != http.StatusOK || !strings.Contains(body, `"text":"`) || !strings.Contains(body, want) {
			t.Errorf("GET rule %s: got %d %s, want its text with %q", id, code, body, want)
		}
	}
}

func TestRegistryTuning(t *testing.T) {
	ov, err := overlay.Parse([]byte(`
rules:
  rule-a:
    suppress: {for: 10m, by: [client.ipAddress]}
    exceptions: ['{"detail":{"client":{"ipAddress":[{"cidr":"10.0.0.0/8"}]}}}']
    severityWhen: [{match: '{"detail":{"outcome":{"result":["FAILURE"]}}}', level: critical}]
`))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(twoRules, "match:", "logsource: {product: okta, service: okta}\nmatch:")
	reg := NewRegistry(DefaultRoutes(), LoadPack("p", "", []sigma.File{{Name: "two.yml", Data: []byte(doc)}}, ov))
	tests := []struct {
		id   string
		want string
	}{
		{"rule-a", `{"suppress":"10m0s","suppressBy":["client.ipAddress"],"exceptions":["{\"detail\":{\"client\":{\"ipAddress\":[{\"cidr\":\"10.0.0.0/8\"}]}}}"],` +
			`"severityWhen":[{"match":"{\"detail\":{\"outcome\":{\"result\":[\"FAILURE\"]}}}","level":"critical"}]}`},
		{"rule-b", `{"suppress":"1h0m0s","suppressBy":["actor.id"]}`},
		{"nope", `{}`},
	}
	for _, tt := range tests {
		in := Info{ID: tt.id}
		for _, x := range reg.Infos() {
			if x.ID == tt.id {
				in = x
			}
		}
		b, _ := json.Marshal(reg.Tuning(in))
		if string(b) != tt.want {
			t.Errorf("%s (status %s %s): got %s, want %s", tt.id, in.Status, in.Reason, b, tt.want)
		}
	}
}
