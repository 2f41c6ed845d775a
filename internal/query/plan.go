package query

import (
	"slices"
	"strings"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
)

// A plan turns a query's org and filter into cheap tests the index (or a
// record batch's own index) can answer, so that only events that may match
// are read.

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
	pathActorID   = "actor.id"
	pathTargetID  = "target.id"
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
func (p *planner) keep(e *entry, types []typeKey, pp *people) bool {
	tk := types[e.typ]
	if p.org != auth.AllOrgs && tk.org != p.org {
		return false
	}
	if p.root == nil {
		return true
	}
	return p.eval(p.root, e, tk.eventType, pp) != triFalse
}

func (p *planner) eval(n *node, e *entry, eventType string, pp *people) tri {
	switch n.kind {
	case nodeAnd, nodeOr:
		// and ends at the first false kid, or at the first true one; an unknown
		// kid makes the rest unknown.
		stop, out := triFalse, triTrue
		if n.kind == nodeOr {
			stop, out = triTrue, triFalse
		}
		for _, k := range n.kids {
			switch p.eval(k, e, eventType, pp) {
			case stop:
				return stop
			case triUnknown:
				out = triUnknown
			}
		}
		return out
	case nodeNot:
		switch p.eval(n.kids[0], e, eventType, pp) {
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
	var targets []uint32
	switch n.pathStr {
	case pathEventType:
		id, value = e.typ, eventType
	case pathActorAlt, pathActorID:
		id = pp.whos[e.who].alt
		if n.pathStr == pathActorID {
			id = pp.whos[e.who].id
		}
		switch id {
		case actorOther:
			return triUnknown
		case actorAbsent:
			absent = true
		default:
			value = pp.strs[id]
		}
	case pathTargetID:
		w := &pp.whos[e.who]
		if w.targetsOther || slices.Contains(w.targets, actorOther) {
			return triUnknown
		}
		// Memoised by the whole tuple: the answer depends on every target.
		id, targets, absent = e.who, w.targets, true
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
			for _, t := range targets {
				fn(rawValue{kind: kindString, decoded: true, str: pp.strs[t]})
			}
		})
		m[id] = r
	}
	if r {
		return triTrue
	}
	return triFalse
}

// recordKeeper is the planner over decoded journal records, for reads
// in journal order (polling): it tests an event's org and type from the
// record batch's index, before its JSON is read. The subject no longer
// narrows reads to an event type (a record batch holds several), so this
// is where a type filter saves work. The actor is not in a record's index:
// tests on it are left to the full filter.
type recordKeeper struct {
	p     *planner
	ids   map[typeKey]uint32
	types []typeKey
	pp    people // knows nobody: every who is whoUnknown
}

func newRecordKeeper(org string, f *Filter) *recordKeeper {
	return &recordKeeper{p: newPlanner(org, f), ids: map[typeKey]uint32{},
		pp: people{whos: []who{whoNobody: {}, whoUnknown: {alt: actorOther, id: actorOther, targetsOther: true}}}}
}

// keep is false only when the record cannot match.
func (k *recordKeeper) keep(r *event.Record) bool {
	if k.p.root == nil && k.p.org == auth.AllOrgs {
		return true
	}
	tk := typeKey{r.Org, r.EventType}
	id, ok := k.ids[tk]
	if !ok {
		// The record's strings point into its message: copy them.
		tk = typeKey{strings.Clone(r.Org), strings.Clone(r.EventType)}
		id = uint32(len(k.types))
		k.types = append(k.types, tk)
		k.ids[tk] = id
	}
	e := entry{typ: id, who: whoUnknown}
	return k.p.keep(&e, k.types, &k.pp)
}
