package correlate

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// t0 is the start of every test scenario.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// in is one test input: a match of a base rule at t0+at, with event uuid uid(id) and
// the rule's input fields.
type in struct {
	rule   string
	at     time.Duration
	id     int
	fields []string // "" = absent
	org    string
	// rawID, when set, is the event's id instead of uid(id) (not a uuid).
	rawID string
}

func (i in) match() Match {
	org := i.org
	if org == "" {
		org = "org1"
	}
	m := Match{Rule: i.rule, Org: org, Time: t0.Add(i.at), UUID: uid(i.id)}
	if i.rawID != "" {
		m.UUID = i.rawID
	}
	for _, f := range i.fields {
		m.Fields = append(m.Fields, Field{Value: f, Present: f != ""})
	}
	return m
}

// outcome collects everything an engine produced.
type outcome struct {
	Detections []Detection
	Suppressed []Suppression
	Late       []Late
}

func (o *outcome) add(r Result) {
	o.Detections = append(o.Detections, r.Detections...)
	o.Suppressed = append(o.Suppressed, r.Suppressed...)
	o.Late = append(o.Late, r.Late...)
}

// feed observes every input, then advances the clock to t0+advance when advance > 0.
func feed(t *testing.T, e *Engine, ins []in, advance time.Duration) outcome {
	t.Helper()
	var o outcome
	for _, i := range ins {
		o.add(e.Observe(i.match()))
	}
	if advance > 0 {
		o.add(e.Advance(t0.Add(advance)))
	}
	return o
}

func mustNew(t *testing.T, cfg Config, rules ...Rule) *Engine {
	t.Helper()
	e, err := New(cfg, rules)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }
