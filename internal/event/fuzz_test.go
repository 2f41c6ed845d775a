package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/auditstream/auditstream/internal/event"
)

// uniqueNames reports whether every object in the valid JSON text raw has
// unique member names, walking it with encoding/json's tokenizer.
func uniqueNames(raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		obj    bool
		names  map[string]bool
		expect bool // the next string token is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return true // not our concern here: json.Valid decides
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.obj && top.expect {
			if top.names[s] {
				return false
			}
			top.names[s] = true
			top.expect = false
			continue
		}
		// a value (or the start of one) ends a member
		if top != nil && top.obj {
			top.expect = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, names: map[string]bool{}, expect: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].expect = true
			}
		}
	}
}

// FuzzParse checks the one-pass scanner against encoding/json: whatever
// Parse accepts is valid JSON and UTF-8, its stored form is the compact
// text, and its eventType and uuid are what any other parser reads;
// whatever json.Valid accepts that I-JSON allows, Parse's scanner accepts.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"eventType":"x"}`, `{"eventType":"a","eventType":"b"}`, `{"eventType":"x","a":{"b":[1,2.5e-3,{"c":null}]},"d":true}`,
		`{"eventType":"x","s":"\ud83d\ude00"}`, `{"eventType":"x","s":"\ud800"}`, "{\"eventType\":\"x\",\"s\":\"\xff\"}",
		`{"eventType":"x","\u0061":1,"a":2}`, ` { "eventType" : "x" , "uuid" : "u" } `, `{"eventType":"x","n":-0.0E+1}`,
		`{"eventType":"x","uuid":"a b"}`, `{"eventType":"x","published":"2026-01-01T00:00:00Z"}`,
		` {"target" : [ {"id":"t"} ], "eventType":"x", "\u0061ctor" : { } } `,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := event.Parse(raw, "acme", now)
		trimmed := bytes.TrimSpace(raw)
		if err == nil {
			if !json.Valid(trimmed) || !utf8.Valid(trimmed) || !uniqueNames(trimmed) {
				t.Fatalf("Parse accepted %q, which is not I-JSON", raw)
			}
			var got struct {
				UUID      string `json:"uuid"`
				EventType string `json:"eventType"`
			}
			if err := json.Unmarshal(ev.Data, &got); err != nil {
				t.Fatalf("stored %q is not JSON: %v", ev.Data, err)
			}
			if got.UUID != ev.UUID || got.EventType != ev.EventType {
				t.Fatalf("got uuid %q eventType %q from encoding/json, want Parse's %q %q", got.UUID, got.EventType, ev.UUID, ev.EventType)
			}
			// A Parser, and ParseObject with more text after the
			// event, read it the same.
			var p event.Parser
			pe, err := p.Parse(raw, "acme", now)
			if err != nil || pe.EventType != ev.EventType || len(pe.Data) != len(ev.Data) {
				t.Fatalf("Parser.Parse: got %+v, %v, want %+v", pe, err, ev)
			}
			oe, n, err := p.ParseObject(append(bytes.Clone(trimmed), "],"...), "acme", now)
			if err != nil || n != len(trimmed) || oe.EventType != ev.EventType || len(oe.Data) != len(ev.Data) {
				t.Fatalf("ParseObject: got %+v, %d, %v, want %+v, %d", oe, n, err, ev, len(trimmed))
			}
			// The actor and target spans name what encoding/json reads.
			checkSpans(t, ev)
			checkSpans(t, pe)
			checkSpans(t, oe)
			return
		}
		var p event.Parser
		if _, err2 := p.Parse(raw, "acme", now); err2 == nil || err2.Error() != err.Error() {
			t.Fatalf("Parser.Parse: got error %v, want %v", err2, err)
		}
		if !errors.Is(err, event.ErrInvalid) {
			t.Fatalf("got error %v, want ErrInvalid", err)
		}
		// Errors that come from the scanner must be true of the text.
		msg := err.Error()
		switch {
		case strings.Contains(msg, "malformed JSON"):
			if json.Valid(trimmed) {
				t.Fatalf("Parse called %q malformed (%v), encoding/json accepts it", raw, err)
			}
		case strings.Contains(msg, "duplicate member"):
			if json.Valid(trimmed) && uniqueNames(trimmed) {
				t.Fatalf("Parse found a duplicate in %q (%v), encoding/json finds none", raw, err)
			}
		case strings.Contains(msg, "invalid UTF-8"):
			if utf8.Valid(trimmed) {
				t.Fatalf("Parse called %q invalid UTF-8 (%v)", raw, err)
			}
		case strings.Contains(msg, "unpaired surrogate"):
			if !bytes.Contains(trimmed, []byte(`\u`)) && !bytes.Contains(trimmed, []byte(`\U`)) {
				t.Fatalf("Parse found a surrogate escape in %q (%v)", raw, err)
			}
		}
	})
}
