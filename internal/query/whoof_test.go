package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// sameWho reports how two whoRefs (with their targets) differ, "" when
// they do not.
func sameWho(a whoRef, at [][]byte, b whoRef, bt [][]byte) string {
	switch {
	case !bytes.Equal(a.alt.raw, b.alt.raw) || a.alt.id != b.alt.id:
		return fmt.Sprintf("alternateId %q/%d, %q/%d", a.alt.raw, a.alt.id, b.alt.raw, b.alt.id)
	case !bytes.Equal(a.id.raw, b.id.raw) || a.id.id != b.id.id:
		return fmt.Sprintf("id %q/%d, %q/%d", a.id.raw, a.id.id, b.id.raw, b.id.id)
	case a.targetsOther != b.targetsOther:
		return fmt.Sprintf("targetsOther %v, %v", a.targetsOther, b.targetsOther)
	case a.tTo-a.tFrom != b.tTo-b.tFrom:
		return fmt.Sprintf("%d targets, %d", a.tTo-a.tFrom, b.tTo-b.tFrom)
	}
	for i := range a.tTo - a.tFrom {
		if !bytes.Equal(at[a.tFrom+i], bt[b.tFrom+i]) {
			return fmt.Sprintf("target %d %q, %q", i, at[a.tFrom+i], bt[b.tFrom+i])
		}
	}
	return ""
}

// TestWhoOfSpans: whoOf with the ingest parser's spans finds the same
// people as the walk over the JSON, for every sample Okta LogEvent (as
// sent and indented, so compacted) and for tricky events: escaped member
// names, actor and target nested elsewhere, in either order, odd values.
func TestWhoOfSpans(t *testing.T) {
	var inputs [][]byte
	for _, rec := range oktaRecords(t) {
		inputs = append(inputs, rec.Data)
		var ind bytes.Buffer
		_ = json.Indent(&ind, rec.Data, "", "  ")
		inputs = append(inputs, ind.Bytes())
	}
	many := strings.Repeat(`{"id":"t"},`, maxTargets) + `{"id":"last"}`
	for _, s := range []string{
		`{"eventType":"x","\u0061ctor":{"alternateId":"a@x","id":"00u1"},"t\u0061rget":[{"id":"t1"},{"id":"t2"}]}`,
		`{"eventType":"x","target":[{"id":"t1"}],"actor":{"id":"00u1","alternateId":"a@x"}}`,
		`{"eventType":"x","a":{"actor":{"id":"no"},"target":[{"id":"no"}]}}`,
		`{"eventType":"x","actor":{"\u0069d":"00u1","alternateId":"a\u0040x"},"target":{"id":"one"}}`,
		`{"eventType":"x","actor":null,"target":null}`,
		`{"eventType":"x","actor":"someone","target":"something"}`,
		`{"eventType":"x","actor":{"id":1,"alternateId":""},"target":[{"id":2},{"id":null},{"id":""}]}`,
		`{"eventType":"x","actor":{"id":"a"},"target":[` + many + `]}`,
		"{ \"eventType\" : \"x\" ,\n \"actor\" : { \"id\" : \"a b\" } ,\n \"target\" : [ { \"id\" : \" t \" } ] }",
		`{"eventType":"x","actor":{"id":"a\"b"},"target":[{"id":"t\\"}],"z":"\"actor\":1"}`,
		`{"eventType":"x"}`,
	} {
		inputs = append(inputs, []byte(s))
	}
	now := time.Now()
	var p event.Parser
	for _, in := range inputs {
		rec, err := p.Parse(in, "acme", now)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !rec.Spans.Known {
			t.Fatalf("%s: spans not known", in)
		}
		span, st := whoOf(&rec, nil)
		walk, wt := whoOfJSON(rec.Data, nil)
		if d := sameWho(span, st, walk, wt); d != "" {
			t.Errorf("%s: spans and walk differ: %s", rec.Data, d)
		}
		// The same record without spans takes the walk.
		rec.Spans = event.Spans{}
		again, at := whoOf(&rec, nil)
		if d := sameWho(again, at, walk, wt); d != "" {
			t.Errorf("%s: without spans: %s", rec.Data, d)
		}
	}
	// Duplicate top-level members never get spans: Parse refuses them
	// (I-JSON), so a span never has to pick one of two actors.
	for _, s := range []string{`{"eventType":"x","actor":{"id":"a"},"actor":{"id":"b"}}`, `{"eventType":"x","target":[],"t\u0061rget":[{"id":"b"}]}`} {
		if _, err := p.Parse([]byte(s), "acme", now); !errors.Is(err, event.ErrInvalid) {
			t.Errorf("%s: got %v, want a duplicate member refused", s, err)
		}
	}
}

// TestWhoOfUsesSpans: whoOf reads the values the spans name, and walks
// the JSON when they are not known or do not fit it.
func TestWhoOfUsesSpans(t *testing.T) {
	data := []byte(`{"actor":{"alternateId":"walked"},"x":{"alternateId":"spanned"}}`)
	x := bytes.Index(data, []byte(`{"alternateId":"spanned"}`))
	at := event.Span{Start: uint32(x), End: uint32(x + len(`{"alternateId":"spanned"}`))}
	cases := []struct {
		name  string
		spans event.Spans
		want  string
	}{
		{"known", event.Spans{Actor: at, Known: true}, `"spanned"`},
		{"not known", event.Spans{Actor: at}, `"walked"`},
		{"does not fit", event.Spans{Actor: event.Span{Start: 1, End: 500}, Known: true}, `"walked"`},
		{"known absent", event.Spans{Known: true}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := event.Record{Data: data, Spans: c.spans}
			ref, _ := whoOf(&rec, nil)
			if string(ref.alt.raw) != c.want {
				t.Errorf("got alternateId %q, want %q", ref.alt.raw, c.want)
			}
		})
	}
}
