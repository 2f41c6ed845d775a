package sigma

import (
	"encoding/json"
	"slices"
	"strings"
)

// Prefilter is a necessary condition of a rule: the rule can match only events
// whose Field equals one of Values, compared case-insensitively (Values are
// lower-cased). The runtime puts Pattern() into a pattern.Set to pick candidate
// rules in one pass and evaluates only those.
type Prefilter struct {
	// Field is the LogEvent path in its canonical spelling: eventType,
	// legacyEventType or displayMessage.
	Field  string   `json:"field"`
	Values []string `json:"values"`
}

// indexable are the LogEvent fields a prefilter may name, by lower-cased name.
var indexable = map[string]string{
	"eventtype":       "eventType",
	"legacyeventtype": "legacyEventType",
	"displaymessage":  "displayMessage",
}

// Pattern returns the prefilter as an EventBridge event pattern over an envelope
// whose detail is the LogEvent, with equals-ignore-case values: usable with
// pattern.Compile and Set.MatchAllEnvelope.
func (p *Prefilter) Pattern() []byte {
	vals := make([]map[string]string, len(p.Values))
	for i, v := range p.Values {
		vals[i] = map[string]string{"equals-ignore-case": v}
	}
	b, _ := json.Marshal(map[string]any{"detail": map[string]any{p.Field: vals}})
	return b
}

// Prefilter returns the rule's necessary condition, or nil when the rule has none
// (it must then be evaluated for every event).
func (r *Rule) Prefilter() *Prefilter { return r.pre }

// necessary derives a prefilter from a compiled predicate: a field test of plain,
// case-insensitive equality on an indexable field; the first such conjunct of an and;
// an or whose every branch has one on the same field (the union).
func necessary(n node) *Prefilter {
	switch n := n.(type) {
	case *fieldNode:
		if n.neq || n.exists != nil || n.ref != nil || n.null || n.keyword || len(n.alts) == 0 {
			return nil
		}
		canon, ok := indexable[strings.ToLower(n.path.String())]
		if !ok {
			return nil
		}
		alts := n.alts
		if n.all {
			alts = alts[:1] // each value is necessary; one suffices
		}
		p := &Prefilter{Field: canon}
		for _, a := range alts {
			for _, m := range a {
				s, ok := m.(strMatcher)
				if !ok || s.g.mode != 'e' {
					return nil
				}
				v := s.g.lit
				if s.g.cased {
					v = strings.ToLower(v)
				}
				p.Values = append(p.Values, v)
			}
		}
		slices.Sort(p.Values)
		p.Values = slices.Compact(p.Values)
		return p
	case andNode:
		var first *Prefilter
		for _, x := range n {
			if p := necessary(x); p != nil {
				if p.Field == "eventType" {
					return p
				}
				if first == nil {
					first = p
				}
			}
		}
		return first
	case orNode:
		var u *Prefilter
		for _, x := range n {
			p := necessary(x)
			if p == nil || u != nil && p.Field != u.Field {
				return nil
			}
			if u == nil {
				u = &Prefilter{Field: p.Field}
			}
			u.Values = append(u.Values, p.Values...)
		}
		if u != nil {
			slices.Sort(u.Values)
			u.Values = slices.Compact(u.Values)
		}
		return u
	}
	return nil
}
