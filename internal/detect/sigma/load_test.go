package sigma

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/pattern"
)

// TestPacksLoad checks that every rule file of the SigmaHQ packs loads, except the
// placeholder rule without an overlay value, which is refused naming the placeholder
// at its line.
func TestPacksLoad(t *testing.T) {
	for _, tc := range []struct {
		dir     string
		ov      Overlay
		rules   int
		refused map[string]string // file → reason substring
	}{
		{"sigma", Overlay{}, 23, map[string]string{"rules-placeholder/identity/okta/okta_session_impersonation_granted.yml": "placeholder %legtimate_identifiers% has no value"}},
		{"sigma", testOverlay, 24, nil},
		{"sigma-r2026-01-01", Overlay{}, 23, nil},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			p := loadPack(t, tc.dir, tc.ov)
			var files int
			err := filepath.WalkDir(packDir+tc.dir, func(path string, d fs.DirEntry, err error) error {
				if strings.HasSuffix(path, ".yml") {
					files++
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := len(p.Rules) + len(p.Refused); got != files {
				t.Errorf("got %d rules + refusals, want one per file (%d)", got, files)
			}
			if len(p.Rules) != tc.rules {
				t.Errorf("got %d rules, want %d", len(p.Rules), tc.rules)
			}
			if len(p.Refused) != len(tc.refused) {
				t.Errorf("got refusals %v, want %v", p.Refused, tc.refused)
			}
			for _, r := range p.Refused {
				want, ok := tc.refused[r.File]
				if !ok || !strings.Contains(r.Reason, want) {
					t.Errorf("refusal %v: want reason containing %q", r, want)
				}
				if r.File == "rules-placeholder/identity/okta/okta_session_impersonation_granted.yml" && (r.Line != 30 || r.ID != "fe04b26b-0ac4-45d7-9404-4b9f16a440a9") {
					t.Errorf("refusal %v: want line 30 and the rule's id", r)
				}
			}
			for _, r := range p.Rules {
				if r.Author == "" || r.Title == "" || r.Level == "" || r.Logsource.Product != "okta" {
					t.Errorf("%s: author %q title %q level %q logsource %+v: want all set", r.File, r.Author, r.Title, r.Level, r.Logsource)
				}
			}
			if len(p.Warnings) != 0 {
				t.Errorf("got warnings %v, want none", p.Warnings)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name, doc string
		line      int
		reason    string
	}{
		{"unknown modifier", ruleYAML("    sel:\n        a|bogus: x\n    condition: sel\n"), 6, `unknown modifier "bogus"`},
		{"aggregation", ruleYAML("    sel:\n        a: x\n    condition: sel | count() > 5\n"), 7, "write a correlation rule"},
		{"count by", ruleYAML("    sel:\n        a: x\n    condition: count(sel) by a > 5\n"), 7, "write a correlation rule"},
		{"near", ruleYAML("    sel:\n        a: x\n    condition: sel near sel\n"), 7, "write a correlation rule"},
		{"timeframe", ruleYAML("    sel:\n        a: x\n    timeframe: 5m\n    condition: sel\n"), 7, "write a correlation rule"},
		{"unknown identifier", ruleYAML("    sel:\n        a: x\n    condition: sel and other\n"), 7, `no search identifier "other"`},
		{"of matches nothing", ruleYAML("    sel:\n        a: x\n    condition: 1 of filter_*\n"), 7, `"filter_*" names no search identifier`},
		{"2 of", ruleYAML("    sel:\n        a: x\n    condition: 2 of sel*\n"), 7, `only "1 of" and "all of"`},
		{"bad syntax", ruleYAML("    sel:\n        a: x\n    condition: sel and (sel\n"), 7, "missing )"},
		{"no condition", ruleYAML("    sel:\n        a: x\n"), 4, "condition is required"},
		{"bad regex", ruleYAML("    sel:\n        a|re: '(?<=x)y'\n    condition: sel\n"), 6, "not an RE2 regular expression"},
		{"regex flag without re", ruleYAML("    sel:\n        a|i: x\n    condition: sel\n"), 6, "needs the re modifier"},
		{"bad cidr", ruleYAML("    sel:\n        a|cidr: 10.0.0.0/33\n    condition: sel\n"), 6, "cidr"},
		{"numeric modifier with a string", ruleYAML("    sel:\n        a|gt: x\n    condition: sel\n"), 6, "needs a number"},
		{"exists with a string", ruleYAML("    sel:\n        a|exists: yes\n    condition: sel\n"), 6, "exists takes true or false"},
		{"null in a list", ruleYAML("    sel:\n        a:\n            - x\n            - null\n    condition: sel\n"), 8, "null may not be part of a list"},
		{"base64 with a wildcard", ruleYAML("    sel:\n        a|base64: 'x*'\n    condition: sel\n"), 6, "cannot encode a value with wildcards"},
		{"base64 after contains", ruleYAML("    sel:\n        a|contains|base64: 'x'\n    condition: sel\n"), 6, `must come before "contains"`},
		{"two positions", ruleYAML("    sel:\n        a|contains|startswith: 'x'\n    condition: sel\n"), 6, "cannot be combined"},
		{"re with contains", ruleYAML("    sel:\n        a|re|contains: 'x'\n    condition: sel\n"), 6, "cannot be combined"},
		{"empty map", ruleYAML("    sel: {}\n    condition: sel\n"), 5, "empty search identifier"},
		{"bad level", strings.Replace(ruleYAML("    sel:\n        a: x\n    condition: sel\n"), "title: t\n", "title: t\nlevel: urgent\n", 1), 1, `level "urgent"`},
		{"no title", "id: x\nlogsource: {product: okta}\ndetection:\n    sel:\n        a: x\n    condition: sel\n", 1, "title is required"},
		{"no logsource", "title: t\ndetection:\n    sel:\n        a: x\n    condition: sel\n", 1, "logsource is required"},
		{"collection", "title: t\naction: global\nlogsource: {product: okta}\ndetection:\n    sel:\n        a: x\n    condition: sel\n", 2, "rule collections"},
		{"not yaml", "title: [\n", 1, "not valid YAML"},
		{"two kinds", "title: t\nlogsource: {product: okta}\ndetection:\n    sel:\n        a: x\n    condition: sel\ncorrelation:\n    type: event_count\n", 1, "exactly one of"},
		{"bad field", ruleYAML("    sel:\n        a..b: x\n    condition: sel\n"), 6, "empty path segment"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := LoadFiles(Overlay{}, File{Name: "dir/bad.yml", Data: []byte(tc.doc)})
			if len(p.Rules) != 0 || len(p.Refused) != 1 {
				t.Fatalf("got %d rules, refusals %v; want one refusal", len(p.Rules), p.Refused)
			}
			r := p.Refused[0]
			if r.File != "dir/bad.yml" || r.Line != tc.line || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("got %v, want dir/bad.yml:%d: ...%s...", r, tc.line, tc.reason)
			}
		})
	}
}

func TestMultiDocumentAndDerivedID(t *testing.T) {
	data := "title: a\nlogsource: {product: okta}\ndetection:\n    sel:\n        eventType: x\n    condition: sel\n---\n" +
		"title: b\nname: b_rule\nlogsource: {product: okta}\ndetection:\n    sel:\n        eventType: y\n    condition: sel\n---\n" +
		"title: c\nid: c-id\ncustom_key: kept\ncorrelation:\n    type: event_count\n    rules: [b_rule]\n    timespan: 10m\n    condition: {gte: 3}\n"
	p := LoadFiles(Overlay{}, File{Name: "p/multi.yml", Data: []byte(data)})
	if len(p.Refused) != 0 || len(p.Rules) != 2 || len(p.Correlations) != 1 {
		t.Fatalf("got %d rules, %d correlations, refused %v", len(p.Rules), len(p.Correlations), p.Refused)
	}
	if p.Rules[0].ID != "p/multi.yml" || !p.Rules[0].IDDerived || p.Rules[1].ID != "p/multi.yml#2" {
		t.Errorf("got ids %q %q, want p/multi.yml and p/multi.yml#2", p.Rules[0].ID, p.Rules[1].ID)
	}
	if len(p.Warnings) != 2 || p.Warnings[1].Line != 8 {
		t.Errorf("got warnings %v, want two, the second at line 8", p.Warnings)
	}
	c := p.Correlations[0]
	if !slices.Equal(c.Resolved, []string{"p/multi.yml#2"}) || c.Line != 16 || c.Extra["custom_key"] == nil {
		t.Errorf("got resolved %v line %d extra %v", c.Resolved, c.Line, c.Extra)
	}
}

// specRules are base rules named as the specification's correlation examples refer
// to them, so that the examples resolve.
const specRules = `title: base
id: 5638f7c0-ac70-491d-8465-2a65075e0d86
logsource: {product: windows}
detection: {sel: {EventID: 4625}, condition: sel}
---
title: a
name: recon_cmd_a
logsource: {product: windows}
detection: {sel: {CommandLine|contains: whoami}, condition: sel}
---
title: b
name: recon_cmd_b
logsource: {product: windows}
detection: {sel: {CommandLine|contains: ipconfig}, condition: sel}
---
title: c
name: recon_cmd_c
logsource: {product: windows}
detection: {sel: {CommandLine|contains: net}, condition: sel}
---
title: d
name: rule_a_id
logsource: {product: windows}
detection: {sel: {x: 1}, condition: sel}
---
title: e
name: process_creation
logsource: {product: windows}
detection: {sel: {x: 1}, condition: sel}
---
title: f
name: website_access
logsource: {product: windows}
detection: {sel: {x: 1}, condition: sel}
`

func TestSpecificationExamples(t *testing.T) {
	dir := packDir + "sigma-specification/tests/schema/"
	load := func(t *testing.T, name string) *Pack {
		t.Helper()
		data, err := os.ReadFile(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		p := LoadFiles(Overlay{}, File{Name: name, Data: data}, File{Name: "base.yml", Data: []byte(specRules)})
		if len(p.Refused) != 0 {
			t.Fatalf("refused: %v", p.Refused)
		}
		return p
	}
	corr := []struct {
		file       string
		typ        string
		groupBy    []string
		timespan   time.Duration
		thresholds []Threshold
		field      string
		aliases    bool
	}{
		{"event_count.yml", EventCount, []string{"ComputerName"}, time.Hour, []Threshold{{"gte", 100}}, "", false},
		{"event_count_ecs.yml", EventCount, nil, 0, nil, "", false},
		{"value_count.yml", ValueCount, nil, 0, nil, "", false},
		{"value_sum.yml", ValueSum, nil, 0, nil, "", false},
		{"value_avg.yml", ValueAvg, nil, 0, nil, "", false},
		{"value_percentile.yml", ValuePercentile, []string{"ComputerName"}, 24 * time.Hour, []Threshold{{"lte", 1}}, "Image", false},
		{"temporal.yml", Temporal, []string{"ComputerName", "User"}, 5 * time.Minute, nil, "", false},
		{"temporal_ordered.yml", TemporalOrdered, nil, 0, nil, "", false},
	}
	for _, tc := range corr {
		t.Run(tc.file, func(t *testing.T) {
			p := load(t, "correlation/"+tc.file)
			if len(p.Correlations) != 1 {
				t.Fatalf("got %d correlations, want 1", len(p.Correlations))
			}
			c := p.Correlations[0]
			if c.Type != tc.typ || len(c.Resolved) != len(c.Rules) || c.Depth != 1 {
				t.Errorf("got type %q resolved %v depth %d, want %q, all resolved, depth 1", c.Type, c.Resolved, c.Depth, tc.typ)
			}
			if tc.timespan != 0 && (c.Timespan != tc.timespan || !slices.Equal(c.GroupBy, tc.groupBy) || !slices.Equal(c.Thresholds, tc.thresholds) || c.Field != tc.field) {
				t.Errorf("got %+v", c)
			}
			if strings.HasPrefix(tc.typ, "value_") && c.Field == "" {
				t.Errorf("got no condition.field for %s", tc.typ)
			}
		})
	}
	for _, f := range []string{"filter/filter_1.yml", "filter/filter_ecs.yml"} {
		t.Run(f, func(t *testing.T) {
			p := load(t, f)
			if len(p.Filters) != 1 || len(p.Filters[0].Rules) != 2 {
				t.Fatalf("got filters %v", p.Filters)
			}
		})
	}
	for _, f := range []string{"rules/rule_1.yml", "rules/rule_ecs.yml"} {
		t.Run(f, func(t *testing.T) {
			p := load(t, f)
			r := p.Rule("545a5da6-f103-4919-a519-e9aec1026ee4")
			if r == nil || r.Level != "high" || r.Author != "SomeOne" {
				t.Fatalf("got %+v", r)
			}
			if f == "rules/rule_1.yml" && (len(r.Related) != 1 || r.Related[0].Type != "similar" || len(r.Tags) != 3 || len(r.References) != 2 || r.Modified != "2023-04-14") {
				t.Errorf("got %+v", r)
			}
			if f == "rules/rule_ecs.yml" && (r.Extra["taxonomy"] == nil || r.Logsource.Service != "dns") {
				t.Errorf("got %+v, want taxonomy kept and logsource service dns", r)
			}
		})
	}
}

func TestCorrelationRefusals(t *testing.T) {
	base := "title: base\nname: base\nlogsource: {product: okta}\ndetection: {sel: {eventType: x}, condition: sel}\n"
	corr := func(name, rules string, extra string) string {
		return "title: " + name + "\nname: " + name + "\ncorrelation:\n    type: event_count\n    rules: " + rules + "\n    timespan: 5m\n    condition: {gte: 2}\n" + extra
	}
	cases := []struct {
		name string
		docs []string
		want map[string]string // correlation name → reason substring ("" = loads)
	}{
		{"unknown rule", []string{base, corr("c1", "[nope]", "")}, map[string]string{"c1": `refers to "nope", which is no rule`}},
		{"refused rule", []string{base, "title: r\nid: rid\nlogsource: {product: okta}\ndetection: {sel: {a|bogus: 1}, condition: sel}\n", corr("c1", "[rid]", "")},
			map[string]string{"r": "unknown modifier", "c1": `refers to "rid", which is refused`}},
		{"duplicate name", []string{base, strings.Replace(base, "title: base", "title: base2", 1)}, map[string]string{"base2": `duplicate name "base"`}},
		{"cycle", []string{base, corr("c1", "[c2]", ""), corr("c2", "[c1]", "")}, map[string]string{"c1": "cycle", "c2": "cycle"}},
		{"self", []string{base, corr("c1", "[c1]", "")}, map[string]string{"c1": "cycle"}},
		{"chain of 10 loads", chain(base, corr, 10), nil},
		{"chain of 11 is refused", chain(base, corr, 11), map[string]string{"c11": "11 deep, more than 10"}},
		{"bad type", []string{base, strings.Replace(corr("c1", "[base]", ""), "event_count", "value_median", 1)}, map[string]string{"c1": `type "value_median"`}},
		{"bad timespan", []string{base, strings.Replace(corr("c1", "[base]", ""), "5m", "5M", 1)}, map[string]string{"c1": "timespan"}},
		{"three thresholds", []string{base, strings.Replace(corr("c1", "[base]", ""), "{gte: 2}", "{gte: 2, lt: 9, gt: 1}", 1)}, map[string]string{"c1": "got 3"}},
		{"value_count without field", []string{base, strings.Replace(corr("c1", "[base]", ""), "event_count", "value_count", 1)}, map[string]string{"c1": "needs condition.field"}},
		{"range", []string{base, strings.Replace(corr("c1", "[base]", ""), "{gte: 2}", "{gte: 2, lt: 9}", 1)}, nil},
		{"temporal with expression", []string{base, "title: b2\nname: b2\nlogsource: {product: okta}\ndetection: {sel: {eventType: y}, condition: sel}\n",
			"title: t\nname: t\ncorrelation:\n    type: temporal\n    rules: [base, b2]\n    timespan: 5m\n    condition: base and not b2\n"}, nil},
		{"temporal expression names another rule", []string{base, "title: t\nname: t\ncorrelation:\n    type: temporal\n    rules: [base]\n    timespan: 5m\n    condition: base and not other\n"}, map[string]string{"t": `"other" is not one of`}},
		{"alias not in group-by", []string{base, corr("c1", "[base]", "    aliases: {ip: {base: client.ipAddress}}\n")}, map[string]string{"c1": "not in group-by"}},
		{"alias", []string{base, corr("c1", "[base]", "    group-by: [ip]\n    aliases: {ip: {base: client.ipAddress}}\n    generate: true\n")}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var files []File
			for i, d := range tc.docs {
				files = append(files, File{Name: "f" + string(rune('a'+i)) + ".yml", Data: []byte(d)})
			}
			p := LoadFiles(Overlay{}, files...)
			got := map[string]string{}
			for _, r := range p.Refused {
				got[r.Title] = r.Reason
			}
			for name, want := range tc.want {
				if !strings.Contains(got[name], want) {
					t.Errorf("%s: got reason %q, want %q", name, got[name], want)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("got refusals %v, want %v", got, tc.want)
			}
		})
	}
}

func chain(base string, corr func(string, string, string) string, n int) []string {
	docs := []string{base, corr("c01", "[base]", "")}
	for i := 2; i <= n; i++ {
		docs = append(docs, corr("c"+itoa(i), "[c"+itoa(i-1)+"]", ""))
	}
	return docs
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i/10)) + string(rune('0'+i%10)))
}

func TestFilter(t *testing.T) {
	rule, err := os.ReadFile(packDir + "sigma/rules/identity/okta/okta_api_token_created.yml")
	if err != nil {
		t.Fatal(err)
	}
	filter := `title: Terraform service account creates tokens
logsource: {product: okta, service: okta}
filter:
    rules:
        - 19951c21-229d-4ccb-8774-b993c3ff3c5c
    selection:
        actor.alternateId: svc-terraform@example.com
    condition: selection
`
	p := LoadFiles(Overlay{}, File{Name: "api_token_created.yml", Data: rule}, File{Name: "mf_terraform.yml", Data: []byte(filter)})
	if len(p.Refused) != 0 || len(p.Rules) != 1 {
		t.Fatalf("refused %v", p.Refused)
	}
	r := p.Rules[0]
	if !slices.Equal(r.Filters, []string{"mf_terraform.yml"}) {
		t.Errorf("got filters %v, want [mf_terraform.yml]", r.Filters)
	}
	human := `{"eventType":"system.api_token.create","actor":{"alternateId":"alice@example.com"}}`
	svc := `{"eventType":"system.api_token.create","actor":{"alternateId":"svc-terraform@example.com"}}`
	if !matches(t, r, human) || matches(t, r, svc) {
		t.Errorf("human: got %v, want true; service account: got %v, want false", matches(t, r, human), matches(t, r, svc))
	}
}

func TestAliasesOverlay(t *testing.T) {
	ov := Overlay{Aliases: map[string]string{"target.user.display.name": "target.displayName"}}
	p := loadPack(t, "sigma-r2026-01-01", ov)
	r := p.Rule("00a8e92a-776b-425f-80f2-82d8f8fab2e5")
	if r == nil {
		t.Fatalf("rule not loaded: %v", p.Refused)
	}
	ev := `{"eventType":"user.lifecycle.create","target":[{"displayName":"svc_network_backup"}]}`
	if !matches(t, r, ev) {
		t.Errorf("got no match through the alias, want a match")
	}
}

// TestPrefilterPatterns checks that each rule's prefilter, compiled as an EventBridge
// pattern, matches every event the rule matches (it is a necessary condition).
func TestPrefilterPatterns(t *testing.T) {
	p := loadPack(t, "sigma", testOverlay)
	events := readEvents(t)
	var e field.Event
	indexed := 0
	for _, r := range p.Rules {
		pre := r.Prefilter()
		if pre == nil {
			continue
		}
		indexed++
		pat, err := pattern.Compile(pre.Pattern())
		if err != nil {
			t.Fatalf("%s: %s: %v", r.File, pre.Pattern(), err)
		}
		for i, raw := range events {
			if err := e.Reset(raw); err != nil {
				t.Fatal(err)
			}
			if r.Match(&e) && !pat.MatchEnvelope(&pattern.Envelope{Detail: raw}) {
				t.Errorf("%s matches line %d but its prefilter %s does not", r.File, i+1, pre.Pattern())
			}
		}
	}
	// 22 of 24 have one (DETECTIONS.md §5.6); the two requestUri|contains rules do not.
	if indexed != 22 {
		t.Errorf("got %d rules with a prefilter, want 22", indexed)
	}
	up := `{"eventType":"USER.SESSION.START","securityContext":{"isProxy":true}}`
	pat := pattern.MustCompile(string(p.Rule("bde30855-5c53-4c18-ae90-1ff79ebc9578").Prefilter().Pattern()))
	if !pat.MatchEnvelope(&pattern.Envelope{Detail: []byte(up)}) {
		t.Errorf("prefilter must ignore case: %s", pat)
	}
}

// TestIndex checks that Index.Candidates never loses a match: over the golden
// events, the rules matching among the candidates are exactly the rules matching.
func TestIndex(t *testing.T) {
	p := loadPack(t, "sigma", testOverlay)
	ix := NewIndex(p.Rules)
	if got := len(ix.Unindexed()); got != 2 {
		t.Errorf("got %d unindexed rules, want 2", got)
	}
	var e field.Event
	var cand []*Rule
	events := append(readEvents(t), []byte(`{"eventType":"USER.SESSION.START","securityContext":{"isProxy":true}}`))
	for i, raw := range events {
		if err := e.Reset(raw); err != nil {
			t.Fatal(err)
		}
		cand = ix.Candidates(&e, cand[:0])
		for _, r := range p.Rules {
			if r.Match(&e) && !slices.Contains(cand, r) {
				t.Errorf("event %d: %s matches but is not a candidate", i+1, r.File)
			}
		}
		if len(cand) > 2+2 {
			t.Errorf("event %d: got %d candidates, want few", i+1, len(cand))
		}
	}
}

func TestCorrelationGroupPaths(t *testing.T) {
	docs := `title: failed
name: failed
logsource: {product: okta}
detection: {sel: {eventType: user.session.start, outcome.result: FAILURE}, condition: sel}
---
title: locked
id: locked-id
logsource: {product: okta}
detection: {sel: {eventType: user.account.lock}, condition: sel}
---
title: spray then lock
correlation:
    type: value_count
    rules: [failed, locked-id]
    group-by: [ip, actor.id]
    aliases:
        ip:
            failed: client.ipAddress
            locked-id: request.ipChain.ip
    timespan: 1h
    condition: {field: actor.alternateId, gt: 9}
`
	p := LoadFiles(Overlay{}, File{Name: "c.yml", Data: []byte(docs)})
	if len(p.Refused) != 0 || len(p.Correlations) != 1 {
		t.Fatalf("refused %v", p.Refused)
	}
	c := p.Correlations[0]
	str := func(ps []field.Path) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	if got := str(c.GroupPaths("c.yml")); !slices.Equal(got, []string{"client.ipAddress", "actor.id"}) {
		t.Errorf("failed: got %v", got)
	}
	if got := str(c.GroupPaths("locked-id")); !slices.Equal(got, []string{"request.ipChain.ip", "actor.id"}) {
		t.Errorf("locked: got %v", got)
	}
	if c.GroupPaths("other") != nil || c.FieldPath().String() != "actor.alternateId" || c.Thresholds[0] != (Threshold{"gt", 9}) {
		t.Errorf("got %+v", c)
	}
}

// TestSpecificationFolder loads the specification's examples as one pack, as they
// are: each file is loaded or refused with the right reason.
func TestSpecificationFolder(t *testing.T) {
	p := loadPack(t, "sigma-specification", Overlay{})
	want := map[string]string{
		"tests/schema/rules/rule_ecs.yml":               "duplicate id",
		"tests/schema/correlation/event_count_ecs.yml":  "duplicate id",
		"tests/schema/correlation/event_count.yml":      "no rule id or name in the pack",
		"tests/schema/correlation/value_count.yml":      "no rule id or name in the pack",
		"tests/schema/correlation/value_sum.yml":        "no rule id or name in the pack",
		"tests/schema/correlation/value_avg.yml":        "no rule id or name in the pack",
		"tests/schema/correlation/value_percentile.yml": "no rule id or name in the pack",
		"tests/schema/correlation/temporal.yml":         "no rule id or name in the pack",
		"tests/schema/correlation/temporal_ordered.yml": "no rule id or name in the pack",
	}
	got := map[string]string{}
	for _, r := range p.Refused {
		got[r.File] = r.Reason
	}
	for f, reason := range want {
		if !strings.Contains(got[f], reason) {
			t.Errorf("%s: got %q, want a refusal containing %q", f, got[f], reason)
		}
	}
	if len(got) != len(want) || len(p.Rules) != 1 || len(p.Filters) != 2 {
		t.Errorf("got %d refusals, %d rules, %d filters; want %d, 1, 2", len(got), len(p.Rules), len(p.Filters), len(want))
	}
}
