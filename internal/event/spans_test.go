package event_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// checkSpans fails t unless ev's spans are known and name in ev.Data
// exactly the raw values encoding/json finds for the top-level actor and
// target members (nil when absent).
func checkSpans(t *testing.T, ev event.Record) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatalf("stored %q: %v", ev.Data, err)
	}
	actor, target, ok := ev.Spans.Of(ev.Data)
	if !ok {
		t.Fatalf("spans %+v of %q: not known or out of range", ev.Spans, ev.Data)
	}
	if want := m["actor"]; !bytes.Equal(actor, want) || (actor == nil) != (want == nil) {
		t.Errorf("actor of %q: got %q, want %q", ev.Data, actor, want)
	}
	if want := m["target"]; !bytes.Equal(target, want) || (target == nil) != (want == nil) {
		t.Errorf("target of %q: got %q, want %q", ev.Data, target, want)
	}
}

// TestParseSpans: Parse records where the actor and target values are in
// the stored JSON, whether the JSON was kept, had members added at the
// front, was compacted, or both, and with escaped member names.
func TestParseSpans(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	cases := map[string]string{
		"compact, kept":          `{"uuid":"u1","published":"2026-12-05T08:00:00.000Z","eventType":"x","actor":{"id":"a"},"target":[{"id":"t"}]}`,
		"members added in front": `{"eventType":"x","actor":{"id":"a"},"target":[{"id":"t"}]}`,
		"loose":                  "{ \"eventType\" : \"x\",\n  \"actor\" : { \"id\" : \"a b\" } ,\n \"target\" :\t[ { \"id\" : \"t\" } ]\n}",
		"loose, target first":    `{"eventType":"x", "target": [ 1, 2 ], "x": "  ", "actor" : "s p" }`,
		"target only":            `{"eventType":"x", "target" : null }`,
		"actor only, last":       `{"eventType":"x","actor":true}`,
		"neither":                `{"eventType":"x","a":{"actor":1,"target":2}}`,
		"escaped names":          `{"eventType":"x","\u0061ctor":{"id":"a"},"t\u0061rget":[]}`,
		"escaped strings inside": `{"eventType":"x","actor":{"id":"a\"\\"},"target":"\" , }"}`,
		"empty containers":       `{ "eventType":"x","actor":{},"target":[] }`,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			ev, err := event.Parse([]byte(raw), "acme", now)
			if err != nil {
				t.Fatal(err)
			}
			checkSpans(t, ev)
			var p event.Parser
			pe, err := p.Parse([]byte(raw), "acme", now)
			if err != nil {
				t.Fatal(err)
			}
			checkSpans(t, pe)
			oe, _, err := p.ParseObject([]byte(raw+`, {"eventType":"y"}]`), "acme", now)
			if err != nil {
				t.Fatal(err)
			}
			checkSpans(t, oe)
		})
	}
}

// TestParseSpansOkta: the spans of every sample Okta LogEvent, as sent,
// without uuid and published (added in front) and indented (compacted).
func TestParseSpansOkta(t *testing.T) {
	now := time.Now()
	both := 0
	for i, raw := range oktaSamples(t) {
		var indented bytes.Buffer
		if err := json.Indent(&indented, raw, " ", "\t"); err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		_ = json.Unmarshal(raw, &m)
		delete(m, "uuid")
		delete(m, "published")
		bare, _ := json.Marshal(m)
		for _, in := range [][]byte{raw, indented.Bytes(), bare} {
			var p event.Parser
			ev, err := p.Parse(in, "acme", now)
			if err != nil {
				t.Fatalf("sample %d: %v", i, err)
			}
			checkSpans(t, ev)
			if ev.Spans.Actor != (event.Span{}) && ev.Spans.Target != (event.Span{}) {
				both++
			}
		}
	}
	if both < 3*40 { // most samples have both members
		t.Errorf("got %d parses with both members, want at least 120", both)
	}
}

// TestSpansOf: spans that are not known, or do not fit the data, are not
// used.
func TestSpansOf(t *testing.T) {
	data := []byte(`{"actor":1,"target":2}`)
	cases := []struct {
		name   string
		spans  event.Spans
		wantOK bool
	}{
		{"zero: not known", event.Spans{}, false},
		{"known, absent", event.Spans{Known: true}, true},
		{"known", event.Spans{Actor: event.Span{Start: 9, End: 10}, Target: event.Span{Start: 20, End: 21}, Known: true}, true},
		{"past the end", event.Spans{Actor: event.Span{Start: 9, End: 10}, Target: event.Span{Start: 20, End: 23}, Known: true}, false},
		{"at 0", event.Spans{Actor: event.Span{Start: 0, End: 10}, Known: true}, false},
		{"reversed", event.Spans{Target: event.Span{Start: 21, End: 20}, Known: true}, false},
		{"not known but set", event.Spans{Actor: event.Span{Start: 9, End: 10}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, ok := c.spans.Of(data); ok != c.wantOK {
				t.Errorf("Of: got ok %v, want %v", ok, c.wantOK)
			}
			if fits := c.spans.Fits(len(data)); fits != (c.wantOK || !c.spans.Known) {
				t.Errorf("Fits: got %v, want %v", fits, c.wantOK || !c.spans.Known)
			}
		})
	}
}

// oktaSamples are the sample Okta LogEvents of testdata/okta that Parse
// accepts (three carry a redacted published time).
func oktaSamples(t *testing.T) [][]byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/okta/logevents.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if _, err := event.Parse(l, "acme", time.Now()); err == nil {
			out = append(out, l)
		}
	}
	if len(out) < 50 {
		t.Fatalf("got %d samples, want at least 50", len(out))
	}
	return out
}
