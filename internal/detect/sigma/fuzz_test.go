package sigma

import (
	"testing"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// FuzzCondition feeds arbitrary conditions to the parser and binder: they must be
// refused or compile to a predicate that evaluates without panicking, and a parsed
// condition printed back must parse to the same tree.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"sel", "sel and not filter", "1 of sel_* and not 1 of filter_*", "all of them", "(a or b) and not (c)",
		"not not a", "a | count() > 5", "1 of them or all of sel*", "((((a))))", "a and", "2 of x", "all of", ")("} {
		f.Add(s)
	}
	idents := map[string]node{"a": constNode(true), "b": constNode(false), "c": constNode(true), "sel": constNode(true), "sel_x": constNode(false), "filter": constNode(false), "filter_y": constNode(true), "_h": constNode(true)}
	names := []string{"_h", "a", "b", "c", "filter", "filter_y", "sel", "sel_x"}
	var e field.Event
	f.Fuzz(func(t *testing.T, s string) {
		x, err := parseCondition(s)
		if err != nil {
			return
		}
		again, err := parseCondition(x.String())
		if err != nil {
			t.Fatalf("%q printed as %q does not parse: %v", s, x.String(), err)
		}
		if again.String() != x.String() {
			t.Fatalf("%q: printed %q reparsed as %q", s, x.String(), again.String())
		}
		n, err := bind(x, idents, names)
		if err != nil {
			return
		}
		n.eval(&e)
	})
}

// FuzzLoad loads arbitrary rule documents: every one is loaded or refused, nothing
// panics, and a loaded rule evaluates on an event.
func FuzzLoad(f *testing.F) {
	for _, d := range []string{
		ruleYAML("    sel:\n        eventType|contains|all:\n            - a\n            - b\n    condition: sel\n"),
		ruleYAML("    sel:\n        - a|re|i: '^x'\n        - b|cidr: 10.0.0.0/8\n    k:\n        - evil\n    condition: 1 of them\n"),
		ruleYAML("    sel:\n        a|windash|base64offset|contains: '-x'\n    condition: not sel\n"),
		ruleYAML("    sel:\n        a|expand: '%p%'\n        b|fieldref: c\n        d|hour|gte: 3\n    condition: sel\n"),
		"title: c\ncorrelation:\n    type: event_count\n    rules: [x]\n    timespan: 5m\n    condition: {gte: 1}\n",
	} {
		f.Add([]byte(d))
	}
	ov := Overlay{Placeholders: map[string][]string{"p": {"v*", "w"}}}
	var e field.Event
	if err := e.Reset([]byte(`{"a":"-x /x","b":"10.1.1.1","c":["x",{"y":1}],"d":"2024-01-01T05:00:00Z","eventType":"ab"}`)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := LoadFiles(ov, File{Name: "f.yml", Data: data})
		for _, r := range p.Rules {
			r.Match(&e)
		}
		for _, r := range p.Refused {
			if r.Reason == "" || r.File != "f.yml" {
				t.Fatalf("refusal without reason or file: %+v", r)
			}
		}
	})
}
