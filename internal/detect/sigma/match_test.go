package sigma

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// ruleYAML wraps a detection body (indented by four spaces) into a rule document.
func ruleYAML(detection string) string {
	return "title: t\nid: test-rule\nlogsource: {product: okta, service: okta}\ndetection:\n" + detection
}

func compileOne(t *testing.T, detection string, ov Overlay) (*Rule, *Pack) {
	t.Helper()
	p := LoadFiles(ov, File{Name: "r.yml", Data: []byte(ruleYAML(detection))})
	if len(p.Rules) != 1 {
		return nil, p
	}
	return p.Rules[0], p
}

func matches(t *testing.T, r *Rule, event string) bool {
	t.Helper()
	var e field.Event
	if err := e.Reset([]byte(event)); err != nil {
		t.Fatalf("event %s: %v", event, err)
	}
	return r.Match(&e)
}

// wantMatches checks that r matches every event of yes and none of no.
func wantMatches(t *testing.T, r *Rule, yes, no []string) {
	t.Helper()
	for _, ev := range yes {
		if !matches(t, r, ev) {
			t.Errorf("%s: got no match, want a match", ev)
		}
	}
	for _, ev := range no {
		if matches(t, r, ev) {
			t.Errorf("%s: got a match, want none", ev)
		}
	}
}

type matchCase struct {
	name      string
	detection string
	yes, no   []string
}

func runMatchCases(t *testing.T, cases []matchCase, ov Overlay) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, p := compileOne(t, tc.detection, ov)
			if r == nil {
				t.Fatalf("refused: %v", p.Refused)
			}
			wantMatches(t, r, tc.yes, tc.no)
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestValuesAndModifiers(t *testing.T) {
	utf16le := func(s string) string {
		var b strings.Builder
		for _, c := range s {
			b.WriteRune(c)
			b.WriteByte(0)
		}
		return b.String()
	}
	cases := []matchCase{
		{"plain equality is case-insensitive", "    sel:\n        eventType: user.session.start\n    condition: sel\n",
			[]string{`{"eventType":"user.session.start"}`, `{"eventType":"USER.SESSION.START"}`, `{"eventtype":"user.session.start"}`, `{"eventType":["x","user.session.start"]}`},
			[]string{`{"eventType":"user.session.start2"}`, `{"eventType":"user.session"}`, `{}`, `{"eventType":null}`, `{"eventType":{"user.session.start":1}}`}},
		{"unicode case folding", "    sel:\n        a: 'ÄRGER'\n    condition: sel\n",
			[]string{`{"a":"ärger"}`, `{"a":"Ärger"}`}, []string{`{"a":"arger"}`}},
		{"list is or", "    sel:\n        a:\n            - x\n            - y\n    condition: sel\n",
			[]string{`{"a":"x"}`, `{"a":"Y"}`}, []string{`{"a":"z"}`}},
		{"map is and", "    sel:\n        a: x\n        b: y\n    condition: sel\n",
			[]string{`{"a":"x","b":"y"}`}, []string{`{"a":"x"}`, `{"b":"y"}`}},
		{"list of maps is or", "    sel:\n        - a: x\n        - b: y\n    condition: sel\n",
			[]string{`{"a":"x"}`, `{"b":"y"}`}, []string{`{"a":"y","b":"x"}`}},
		{"wildcards", "    sel:\n        a: 'ab*c?e'\n    condition: sel\n",
			[]string{`{"a":"abcde"}`, `{"a":"ABxxxcdE"}`, `{"a":"abcée"}`, `{"a":"abccde"}`}, []string{`{"a":"abce"}`, `{"a":"abcdef"}`, `{"a":"xabcde"}`}},
		{"escaped wildcards", "    sel:\n        a: 'a\\*b\\?c\\\\*'\n    condition: sel\n",
			[]string{`{"a":"a*b?c\\"}`, `{"a":"a*b?c\\zz"}`}, []string{`{"a":"axb?c\\"}`, `{"a":"a*bxc\\"}`}},
		{"backslash before a letter is literal", "    sel:\n        a: 'C:\\Windows\\Sys*'\n    condition: sel\n",
			[]string{`{"a":"c:\\windows\\system32"}`}, []string{`{"a":"c:windows"}`}},
		{"backslash before a star escapes it", "    sel:\n        a: 'C:\\Windows\\*'\n    condition: sel\n",
			[]string{`{"a":"c:\\windows*"}`}, []string{`{"a":"c:\\windows\\system32"}`}},
		{"double backslash before a star is a backslash and a wildcard", "    sel:\n        a: 'C:\\Windows\\\\*'\n    condition: sel\n",
			[]string{`{"a":"c:\\windows\\system32"}`}, []string{`{"a":"c:\\windowsx"}`}},
		{"number compares by text", "    sel:\n        securityContext.asNumber: 394089\n    condition: sel\n",
			[]string{`{"securityContext":{"asNumber":394089}}`, `{"securityContext":{"asNumber":"394089"}}`}, []string{`{"securityContext":{"asNumber":39408}}`}},
		{"string true matches JSON true", "    sel:\n        securityContext.isProxy: 'true'\n    condition: sel\n",
			[]string{`{"securityContext":{"isProxy":true}}`, `{"securitycontext":{"isproxy":"TRUE"}}`}, []string{`{"securityContext":{"isProxy":false}}`, `{"securityContext":{"isProxy":null}}`, `{"securityContext":{}}`}},
		{"boolean value", "    sel:\n        a: false\n    condition: sel\n",
			[]string{`{"a":false}`, `{"a":"false"}`}, []string{`{"a":true}`, `{}`}},
		{"null is absent or null", "    sel:\n        a: null\n    condition: sel\n",
			[]string{`{}`, `{"a":null}`, `{"b":1}`}, []string{`{"a":""}`, `{"a":"null"}`, `{"a":0}`}},
		{"empty string is only empty", "    sel:\n        a: ''\n    condition: sel\n",
			[]string{`{"a":""}`}, []string{`{}`, `{"a":null}`, `{"a":" "}`}},
		{"contains", "    sel:\n        a|contains: Admin\n    condition: sel\n",
			[]string{`{"a":"xADMINx"}`, `{"a":"admin"}`, `{"a":{"k":"my admin"}}`}, []string{`{"a":"adm"}`, `{}`}},
		{"contains on an object tests its JSON text", "    sel:\n        d|contains: '\"New Device\":\"POSITIVE\"'\n    condition: sel\n",
			[]string{`{"d":{"New Device" : "POSITIVE"}}`, `{"d":"{\"New Device\":\"POSITIVE\"}"}`}, []string{`{"d":{"New Device":"NEGATIVE"}}`}},
		{"startswith and endswith", "    sel:\n        a|startswith: ab\n        b|endswith: yz\n    condition: sel\n",
			[]string{`{"a":"ABc","b":"xYZ"}`}, []string{`{"a":"cab","b":"xyz"}`, `{"a":"abc","b":"yzx"}`}},
		{"contains all", "    sel:\n        a|contains|all:\n            - one\n            - two\n    condition: sel\n",
			[]string{`{"a":"two and one"}`, `{"a":["one","two"]}`}, []string{`{"a":"one"}`}},
		{"cased", "    sel:\n        a|cased: Abc\n    condition: sel\n",
			[]string{`{"a":"Abc"}`}, []string{`{"a":"abc"}`, `{"a":"ABC"}`}},
		{"cased contains", "    sel:\n        a|contains|cased: Bc\n    condition: sel\n",
			[]string{`{"a":"aBcd"}`}, []string{`{"a":"abcd"}`}},
		{"neq", "    sel:\n        a|neq: x\n    condition: sel\n",
			[]string{`{"a":"y"}`, `{}`}, []string{`{"a":"X"}`}},
		{"exists true", "    sel:\n        a|exists: true\n    condition: sel\n",
			[]string{`{"a":1}`, `{"a":null}`, `{"A":""}`}, []string{`{}`, `{"b":1}`}},
		{"exists false", "    sel:\n        a.b|exists: false\n    condition: sel\n",
			[]string{`{}`, `{"a":{}}`, `{"a":[]}`}, []string{`{"a":{"b":0}}`}},
		{"re is case-sensitive and unanchored", "    sel:\n        a|re: 'b[0-9]+c'\n    condition: sel\n",
			[]string{`{"a":"xb12cx"}`, `{"a":["q","b1c"]}`}, []string{`{"a":"B12C"}`, `{"a":"bc"}`}},
		{"re i", "    sel:\n        a|re|i: '^abc$'\n    condition: sel\n",
			[]string{`{"a":"ABC"}`}, []string{`{"a":"ABCD"}`}},
		{"re m", "    sel:\n        a|re|m: '^b$'\n    condition: sel\n",
			[]string{`{"a":"a\nb\nc"}`}, []string{`{"a":"a b c"}`}},
		{"re s", "    sel:\n        a|re|s: 'a.b'\n    condition: sel\n",
			[]string{`{"a":"a\nb"}`}, []string{`{"a":"ab"}`}},
		{"cidr", "    sel:\n        ip|cidr:\n            - 10.0.0.0/8\n            - '2001:db8::/32'\n    condition: sel\n",
			[]string{`{"ip":"10.1.2.3"}`, `{"ip":"2001:db8::1"}`, `{"ip":"::ffff:10.0.0.1"}`}, []string{`{"ip":"11.0.0.1"}`, `{"ip":"2001:db9::1"}`, `{"ip":"x"}`, `{"ip":10}`}},
		{"numeric", "    sel:\n        n|gt: 5\n        m|lte: 2.5\n    condition: sel\n",
			[]string{`{"n":6,"m":2.5}`, `{"n":"7","m":-1}`}, []string{`{"n":5,"m":1}`, `{"n":6,"m":3}`, `{"n":"x","m":1}`}},
		{"lt and gte", "    sel:\n        n|lt: 0\n    alt:\n        n|gte: 100\n    condition: sel or alt\n",
			[]string{`{"n":-1}`, `{"n":100}`}, []string{`{"n":0}`, `{"n":99.9}`}},
		{"time parts", "    sel:\n        published|hour: 15\n        published|month: 8\n        published|year: 2024\n        published|minute: 58\n        published|day: 13\n        published|week: 33\n    condition: sel\n",
			[]string{`{"published":"2024-08-13T15:58:20.353Z"}`, `{"published":"2024-08-13T17:58:20+02:00"}`}, []string{`{"published":"2024-08-13T16:58:20Z"}`, `{"published":"yesterday"}`}},
		{"time with comparison", "    sel:\n        published|hour|lt: 6\n    condition: sel\n",
			[]string{`{"published":"2024-08-13T05:59:59Z"}`}, []string{`{"published":"2024-08-13T06:00:00Z"}`}},
		{"fieldref", "    sel:\n        actor.id|fieldref: target.id\n    condition: sel\n",
			[]string{`{"actor":{"id":"U1"},"target":[{"id":"x"},{"id":"u1"}]}`}, []string{`{"actor":{"id":"U1"},"target":[{"id":"U2"}]}`, `{"actor":{"id":"U1"}}`}},
		{"fieldref startswith", "    sel:\n        a|fieldref|startswith: b\n    condition: sel\n",
			[]string{`{"a":"foobar","b":"FOO"}`}, []string{`{"a":"foobar","b":"bar"}`}},
		{"windash", "    sel:\n        cmd|windash|contains: ' -enc '\n    condition: sel\n",
			[]string{`{"cmd":"ps -enc x"}`, `{"cmd":"ps /enc x"}`, "{\"cmd\":\"ps \u2013enc x\"}", "{\"cmd\":\"ps \u2014enc x\"}", "{\"cmd\":\"ps \u2015enc x\"}"}, []string{`{"cmd":"ps enc x"}`, `{"cmd":"ps +enc x"}`}},
		{"contains then windash", "    sel:\n        cmd|contains|windash: ' -enc '\n    condition: sel\n",
			[]string{`{"cmd":"ps /enc x"}`}, []string{`{"cmd":"ps enc x"}`}},
		{"base64", "    sel:\n        a|base64: 'hello'\n    condition: sel\n",
			[]string{`{"a":"` + b64("hello") + `"}`}, []string{`{"a":"hello"}`}},
		{"base64offset contains", "    sel:\n        a|base64offset|contains: 'http://'\n    condition: sel\n",
			[]string{`{"a":"` + b64("http://x") + `"}`, `{"a":"` + b64("ahttp://x") + `"}`, `{"a":"` + b64("abhttp://x") + `"}`}, []string{`{"a":"` + b64("https://x") + `"}`}},
		{"wide base64offset", "    sel:\n        a|wide|base64offset|contains: 'ping'\n    condition: sel\n",
			[]string{`{"a":"` + b64("x"+utf16le("ping")) + `"}`, `{"a":"` + b64(utf16le("ping")) + `"}`}, []string{`{"a":"` + b64("ping") + `"}`}},
		{"utf16le base64", "    sel:\n        a|utf16le|base64: 'A'\n    condition: sel\n",
			[]string{`{"a":"` + b64("A\x00") + `"}`}, nil},
		{"utf16be base64", "    sel:\n        a|utf16be|base64: 'A'\n    condition: sel\n",
			[]string{`{"a":"` + b64("\x00A") + `"}`}, nil},
		{"utf16 base64 has a byte order mark", "    sel:\n        a|utf16|base64: 'A'\n    condition: sel\n",
			[]string{`{"a":"` + b64("\xff\xfeA\x00") + `"}`}, nil},
		{"keywords", "    keywords:\n        - 'evil'\n        - 'bad*thing'\n    condition: keywords\n",
			[]string{`{"a":{"b":["x","very EVIL"]}}`, `{"z":"a bad old thing"}`}, []string{`{"evil":"key only"}`, `{"a":"good"}`, `{"n":1}`}},
		{"keyword all", "    keywords:\n        '|all':\n            - 'one'\n            - 'two'\n    condition: keywords\n",
			[]string{`{"a":"one","b":"two"}`}, []string{`{"a":"one"}`}},
		{"array index segment", "    sel:\n        target.0.displayName: x\n    condition: sel\n",
			[]string{`{"target":[{"displayName":"X"},{"displayName":"y"}]}`}, []string{`{"target":[{"displayName":"y"},{"displayName":"x"}]}`}},
	}
	runMatchCases(t, cases, Overlay{})
}

func TestExpand(t *testing.T) {
	ov := Overlay{Placeholders: map[string][]string{"domains": {"@example.com", "*@corp.test"}, "pre": {"x"}}}
	runMatchCases(t, []matchCase{
		{"expand contains", "    sel:\n        a|contains|expand: '%domains%'\n    condition: sel\n",
			[]string{`{"a":"me@example.com"}`, `{"a":"you@corp.test"}`}, []string{`{"a":"me@evil.test"}`}},
		{"expand inside a value", "    sel:\n        a|expand: 'a-%pre%-b'\n    condition: sel\n",
			[]string{`{"a":"a-x-b"}`}, []string{`{"a":"a-%pre%-b"}`}},
		{"without expand a placeholder is literal", "    sel:\n        a: '%pre%'\n    condition: sel\n",
			[]string{`{"a":"%pre%"}`}, []string{`{"a":"x"}`}},
	}, ov)
}

func TestConditions(t *testing.T) {
	const ids = "    sel_a:\n        a: 1\n    sel_b:\n        b: 1\n    filter_c:\n        c: 1\n    _hidden:\n        d: 1\n"
	cases := []struct {
		cond string
		yes  []string
		no   []string
	}{
		{"sel_a", []string{`{"a":1}`}, []string{`{}`}},
		{"sel_a and sel_b", []string{`{"a":1,"b":1}`}, []string{`{"a":1}`}},
		{"sel_a or sel_b", []string{`{"a":1}`, `{"b":1}`}, []string{`{"c":1}`}},
		{"not sel_a", []string{`{}`}, []string{`{"a":1}`}},
		{"sel_a and not filter_c", []string{`{"a":1}`}, []string{`{"a":1,"c":1}`}},
		{"sel_a or sel_b and filter_c", []string{`{"a":1}`, `{"b":1,"c":1}`}, []string{`{"b":1}`}},
		{"(sel_a or sel_b) and filter_c", []string{`{"b":1,"c":1}`}, []string{`{"a":1}`}},
		{"not sel_a and sel_b", []string{`{"b":1}`}, []string{`{"a":1,"b":1}`}},
		{"not (sel_a and sel_b)", []string{`{"a":1}`}, []string{`{"a":1,"b":1}`}},
		{"1 of sel_*", []string{`{"a":1}`, `{"b":1}`}, []string{`{"c":1}`}},
		{"all of sel_*", []string{`{"a":1,"b":1}`}, []string{`{"a":1}`}},
		{"1 of them", []string{`{"c":1}`}, []string{`{"d":1}`}},
		{"all of them", []string{`{"a":1,"b":1,"c":1}`}, []string{`{"a":1,"b":1,"d":1}`}},
		{"sel_a and not 1 of filter_*", []string{`{"a":1}`}, []string{`{"a":1,"c":1}`}},
		{"not 1 of sel_* and _hidden", []string{`{"d":1}`}, []string{`{"a":1,"d":1}`}},
		{"SEL_A AND NOT sel_b", nil, nil}, // identifiers are case-sensitive: refused below
		{"sel_a And sel_b", []string{`{"a":1,"b":1}`}, []string{`{"a":1}`}},
		{"((sel_a))", []string{`{"a":1}`}, nil},
		{"[list]", []string{`{"a":1}`, `{"b":1}`}, []string{`{}`}},
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			cond := "    condition: " + tc.cond + "\n"
			if tc.cond == "[list]" {
				cond = "    condition:\n        - sel_a\n        - sel_b\n"
			}
			r, p := compileOne(t, ids+cond, Overlay{})
			if tc.yes == nil && tc.no == nil {
				if r != nil {
					t.Fatalf("got loaded, want refused")
				}
				return
			}
			if r == nil {
				t.Fatalf("refused: %v", p.Refused)
			}
			wantMatches(t, r, tc.yes, tc.no)
		})
	}
}
