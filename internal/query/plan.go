package query

import (
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
)

// A plan turns a query's org and filter into cheap tests the journal and
// the index can answer, so that only events that may match are read.

// tri is a three-valued truth: the index may not know the answer.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

// indexed attribute paths.
const (
	pathEventType = "eventType"
	pathActorAlt  = "actor.alternateId"
)

// planner evaluates a filter over what the index knows of an event, with
// per-value memos so each distinct type or actor is tested once per query.
type planner struct {
	org  string // auth.AllOrgs for every org
	root *node
	memo map[*node]map[uint32]bool
}

func newPlanner(org string, f *Filter) *planner {
	p := &planner{org: org, memo: map[*node]map[uint32]bool{}}
	if f != nil {
		p.root = f.root
	}
	return p
}

// keep is the index predicate: false only when the event cannot match.
func (p *planner) keep(e *entry, types []typeKey, actors []string) bool {
	tk := types[e.typ]
	if p.org != auth.AllOrgs && tk.org != p.org {
		return false
	}
	if p.root == nil {
		return true
	}
	return p.eval(p.root, e, tk.eventType, actors) != triFalse
}

func (p *planner) eval(n *node, e *entry, eventType string, actors []string) tri {
	switch n.kind {
	case nodeAnd, nodeOr:
		// and ends at the first false kid, or at the first true one; an unknown
		// kid makes the rest unknown.
		stop, out := triFalse, triTrue
		if n.kind == nodeOr {
			stop, out = triTrue, triFalse
		}
		for _, k := range n.kids {
			switch p.eval(k, e, eventType, actors) {
			case stop:
				return stop
			case triUnknown:
				out = triUnknown
			}
		}
		return out
	case nodeNot:
		switch p.eval(n.kids[0], e, eventType, actors) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUnknown
	}
	var id uint32
	var value string
	var absent bool
	switch n.pathStr {
	case pathEventType:
		id, value = e.typ, eventType
	case pathActorAlt:
		switch e.actor {
		case actorOther:
			return triUnknown
		case actorAbsent:
			absent = true
		default:
			value = actors[e.actor]
		}
		id = e.actor
	default:
		return triUnknown
	}
	m := p.memo[n]
	if m == nil {
		m = map[uint32]bool{}
		p.memo[n] = m
	}
	r, ok := m[id]
	if !ok {
		r = n.matchValues(func(fn func(rawValue)) {
			if !absent {
				fn(rawValue{kind: kindString, decoded: true, str: value})
			}
		})
		m[id] = r
	}
	if r {
		return triTrue
	}
	return triFalse
}

// subjects returns the journal subject filter for a polling read: the
// org's subjects, narrowed to one event type when the filter requires it
// with a top-level eq whose subject form is exact.
func subjects(org string, f *Filter) string {
	orgTok := org
	if org == auth.AllOrgs {
		orgTok = "*"
	}
	if f != nil && f.root != nil {
		if et, ok := requiredEventType(f.root); ok {
			if s := event.Subject("x", et); s == "audit.x."+et { // no characters were replaced
				return "audit." + orgTok + s[len("audit.x"):]
			}
		}
	}
	if org == auth.AllOrgs {
		return "audit.>"
	}
	return "audit." + org + ".>"
}

// requiredEventType finds an `eventType eq "x"` that every match must
// satisfy (the root, or a term of a top-level and).
func requiredEventType(n *node) (string, bool) {
	switch n.kind {
	case nodeCmp:
		if n.pathStr == pathEventType && n.op == "eq" && n.val.kind == kindString && n.val.s != "" {
			return n.val.s, true
		}
	case nodeAnd:
		for _, k := range n.kids {
			if et, ok := requiredEventType(k); ok {
				return et, true
			}
		}
	}
	return "", false
}
