package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/jsonmap"
)

// MaxTemplateBytes bounds a body template's source and MaxBodyBytes what
// it renders.
const (
	MaxTemplateBytes = 64 << 10
	MaxBodyBytes     = 1 << 20
)

// Template is a templated webhook body: Go text/template over a Notice
// (one event) or a Digest, whose output must be JSON. Build it with
// ParseTemplate, which refuses at creation what would fail at delivery.
type Template struct {
	t *template.Template
}

// Funcs are the helper functions a body template may call besides Go's
// built-in ones. None of them fails.
//
//	json v          v as a JSON value: a string with its quotes, a list, null
//	jsonesc s       s escaped for use between quotes of the template's own
//	field e "a.b"   the value at a dotted path of a decoded event (.Event), nil if none
//	default d v     v, or d when v is empty
//	upper, lower    change case
//	join sep list   a list of strings joined
//	truncate n s    s cut to n characters, with "…"
func Funcs() template.FuncMap {
	return template.FuncMap{
		"json":    jsonValue,
		"jsonesc": jsonEscape,
		"field":   field,
		"default": func(d, v any) any {
			if empty(v) {
				return d
			}
			return v
		},
		"upper":    func(v any) string { return strings.ToUpper(fmt.Sprint(deref(v))) },
		"lower":    func(v any) string { return strings.ToLower(fmt.Sprint(deref(v))) },
		"join":     join,
		"truncate": truncate,
	}
}

// ParseTemplate parses src and tries it on sample events (a detection, an
// ordinary event, an empty one; with digest, a digest of them instead)
// whose strings hold quotes,
// backslashes and new lines: a template that fails on them, or whose
// output is not JSON (a value put between quotes without jsonesc, say),
// is refused here, at creation, never at delivery.
func ParseTemplate(src string, digest bool) (*Template, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty")
	}
	if len(src) > MaxTemplateBytes {
		return nil, fmt.Errorf("%d bytes: want at most %d", len(src), MaxTemplateBytes)
	}
	t, err := template.New("bodyTemplate").Option("missingkey=zero").Funcs(Funcs()).Parse(src)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			if err := checkRanges(tt.Root); err != nil {
				return nil, err
			}
		}
	}
	tp := &Template{t: t}
	for _, sample := range samples(digest) {
		if _, err := tp.render(sample.data); err != nil {
			return nil, fmt.Errorf("on %s: %w", sample.name, err)
		}
	}
	return tp, nil
}

// checkRanges refuses a range over a number, the one loop a template could
// spin in without any event in it ({{range 1000000000}}).
func checkRanges(n parse.Node) error {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return nil
		}
		for _, c := range x.Nodes {
			if err := checkRanges(c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		for _, cmd := range x.Pipe.Cmds {
			for _, arg := range cmd.Args {
				if _, ok := arg.(*parse.NumberNode); ok {
					return fmt.Errorf("line %d: range over a number: range over the event's lists only", x.Line)
				}
			}
		}
		if err := checkRanges(x.List); err != nil {
			return err
		}
		return checkRanges(x.ElseList)
	case *parse.IfNode:
		if err := checkRanges(x.List); err != nil {
			return err
		}
		return checkRanges(x.ElseList)
	case *parse.WithNode:
		if err := checkRanges(x.List); err != nil {
			return err
		}
		return checkRanges(x.ElseList)
	}
	return nil
}

// Notice renders the body of one event's message.
func (t *Template) Notice(n Notice) ([]byte, error) { return t.render(n) }

// Digest renders the body of a digest message.
func (t *Template) Digest(d Digest) ([]byte, error) { return t.render(d) }

// render executes the template on data; an output that is not JSON is an
// error.
func (t *Template) render(data any) ([]byte, error) {
	var buf limited
	if err := t.t.Execute(&buf, data); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	out := bytes.TrimSpace(buf.b)
	if !json.Valid(out) {
		return nil, fmt.Errorf("output is not JSON (use json or jsonesc for values): %s", snippet(out))
	}
	return compactJSON(out), nil
}

// limited is a buffer that refuses to grow past MaxBodyBytes, which ends
// the template's execution.
type limited struct{ b []byte }

func (l *limited) Write(p []byte) (int, error) {
	if len(l.b)+len(p) > MaxBodyBytes {
		return 0, fmt.Errorf("output over %d bytes", MaxBodyBytes)
	}
	l.b = append(l.b, p...)
	return len(p), nil
}

func snippet(b []byte) string {
	s := string(b)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func jsonValue(v any) string {
	b, err := json.Marshal(deref(v))
	if err != nil {
		return "null"
	}
	return string(b)
}

func jsonEscape(v any) string {
	s := fmt.Sprint(deref(v))
	if v == nil {
		s = ""
	}
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

func deref(v any) any {
	if p, ok := v.(*string); ok && p != nil {
		return *p
	}
	return v
}

// field returns the value at a dotted path in a decoded event; array
// elements are named by their index ("target.0.id").
func field(root any, path string) any { return jsonmap.Lookup(root, strings.Split(path, ".")) }

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func join(sep string, list any) string {
	switch x := list.(type) {
	case []string:
		return strings.Join(x, sep)
	case []any:
		parts := make([]string, len(x))
		for i, v := range x {
			parts[i] = fmt.Sprint(v)
		}
		return strings.Join(parts, sep)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func truncate(n int, v any) string {
	s := fmt.Sprint(deref(v))
	if v == nil {
		s = ""
	}
	r := []rune(s)
	if n < 1 || len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

type sample struct {
	name string
	data any
}

// hostile is in every string of the samples: JSON's special characters.
const hostile = "q\"uote \\back\nline <tag> & é"

// samples are what ParseTemplate tries a template on.
func samples(digest bool) []sample {
	at := time.Date(2026, 11, 21, 10, 15, 3, 0, time.UTC)
	det, _ := json.Marshal(map[string]any{
		"uuid": "7c7e1f0e-3a55-5d6b-9a0e-2f1d7e0c9b11", "published": at.Format(event.TimeFormat),
		"eventType": DetectionPrefix + "sample_rule", "version": "0", "severity": "ERROR",
		"displayMessage": "Sample " + hostile,
		"actor":          map[string]any{"id": "00u1", "type": "User", "alternateId": "ada" + hostile, "displayName": "Ada " + hostile},
		"client":         map[string]any{"ipAddress": "192.0.2.1", "geographicalContext": map[string]any{"country": "Ice" + hostile, "city": hostile}},
		"outcome":        map[string]any{"result": "UNKNOWN", "reason": "high: " + hostile},
		"target": []any{
			map[string]any{"id": "rule-1", "type": "DetectionRule", "alternateId": "sample_rule", "displayName": "Sample " + hostile,
				"detailEntry": map[string]any{"level": "high", "author": "Au " + hostile, "license": "DRL-1.1", "tags": "attack.t1110 " + hostile, "ruleFormat": "sigma"}},
			map[string]any{"id": "00u2", "type": "User", "alternateId": "jane" + hostile},
			map[string]any{"id": "3f0b6c1e-0000-4000-8000-000000000001", "type": "LogEvent"},
		},
		"transaction":  map[string]any{"type": "JOB", "id": "7c7e1f0e-3a55-5d6b-9a0e-2f1d7e0c9b11", "detail": map[string]any{}},
		"debugContext": map[string]any{"debugData": map[string]any{"detectionId": "7c7e1f0e-3a55-5d6b-9a0e-2f1d7e0c9b11", "groupBy": "actor.id=" + hostile, "count": "12", "windowStart": at.Add(-time.Minute).Format(event.TimeFormat), "windowEnd": at.Format(event.TimeFormat)}},
	})
	plain, _ := json.Marshal(map[string]any{
		"uuid": "3f0b6c1e-0000-4000-8000-000000000001", "published": at.Format(event.TimeFormat),
		"eventType": "user.session.start", "severity": "INFO", "displayMessage": "User login " + hostile,
		"actor":   map[string]any{"id": "00u2", "type": "User", "alternateId": hostile},
		"outcome": map[string]any{"result": "FAILURE", "reason": hostile},
	})
	dn := Parse(event.Record{UUID: "7c7e1f0e-3a55-5d6b-9a0e-2f1d7e0c9b11", Org: "org" + hostile, Source: DetectionSource, Published: at, Data: det})
	pn := Parse(event.Record{UUID: "3f0b6c1e-0000-4000-8000-000000000001", Org: "org" + hostile, Published: at, Data: plain})
	var bare Notice
	if digest {
		return []sample{{"a sample digest", NewDigest([]Notice{dn, pn, bare}, 5*time.Minute)}}
	}
	return []sample{{"a sample detection", dn}, {"a sample event", pn}, {"an event with no fields", bare}}
}
