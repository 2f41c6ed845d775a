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
// per-value memos so each distinct type, actor or target is tested once
// per query. The memos are slices indexed by the interned id (types and
// strings are numbered densely), as keep runs for every event in the
// query's window.
type planner struct {
	org  string // auth.AllOrgs for every org
	root *node
	// orgOK is the org test per type id (memo: 0 not yet known).
	orgOK []uint8
	memos []leafMemo
}

// leafMemo is one comparison's answers per interned id: 0 not yet known,
// memoFalse or memoTrue.
type leafMemo struct {
	n *node
	m []uint8
}

const (
	memoFalse = 1
	memoTrue  = 2
)

func newPlanner(org string, f *Filter) *planner {
	p := &planner{org: org}
	if f != nil {
		p.root = f.root
	}
	return p
}

// keep is the index predicate: false only when the event cannot match.
func (p *planner) keep(e *entry, types []typeKey, pp *people) bool {
	if p.org != auth.AllOrgs {
		if int(e.typ) >= len(p.orgOK) {
			p.orgOK = append(p.orgOK, make([]uint8, max(len(types), int(e.typ)+1)-len(p.orgOK))...)
		}
		switch p.orgOK[e.typ] {
		case memoFalse:
			return false
		case 0:
			if types[e.typ].org != p.org {
				p.orgOK[e.typ] = memoFalse
				return false
			}
			p.orgOK[e.typ] = memoTrue
		}
	}
	if p.root == nil {
		return true
	}
	return p.eval(p.root, e, types, pp) != triFalse
}

func (p *planner) eval(n *node, e *entry, types []typeKey, pp *people) tri {
	switch n.kind {
	case nodeAnd, nodeOr:
		// and ends at the first false kid, or at the first true one; an unknown
		// kid makes the rest unknown.
		stop, out := triFalse, triTrue
		if n.kind == nodeOr {
			stop, out = triTrue, triFalse
		}
		for _, k := range n.kids {
			switch p.eval(k, e, types, pp) {
			case stop:
				return stop
			case triUnknown:
				out = triUnknown
			}
		}
		return out
	case nodeNot:
		switch p.eval(n.kids[0], e, types, pp) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triUnknown
	}
	switch n.pathStr {
	case pathEventType:
		return p.one(n, e.typ, len(types), types[e.typ].eventType, false)
	case pathActorAlt, pathActorID:
		id := pp.whos[e.who].alt
		if n.pathStr == pathActorID {
			id = pp.whos[e.who].id
		}
		switch id {
		case actorOther:
			return triUnknown
		case actorAbsent:
			// No value: asked once per query, under the absent id.
			return p.one(n, actorAbsent, len(pp.strs), "", true)
		}
		return p.one(n, id, len(pp.strs), pp.strs[id], false)
	case pathTargetID:
		w := &pp.whos[e.who]
		if w.targetsOther || slices.Contains(w.targets, actorOther) {
			return triUnknown
		}
		// Every operator but ne and eq null matches when one of the
		// values does (matchValues); those two when each does (ne: no
		// value is equal; eq null: there is no value, as target ids here
		// are strings). Each target id is tested once per query.
		all := n.op == "ne" || n.op == "eq" && n.val.kind == kindNull
		if len(w.targets) == 0 {
			return p.one(n, actorAbsent, len(pp.strs), "", true)
		}
		for _, t := range w.targets {
			r := p.one(n, t, len(pp.strs), pp.strs[t], false)
			if all && r == triFalse {
				return triFalse
			}
			if !all && r == triTrue {
				return triTrue
			}
		}
		if all {
			return triTrue
		}
		return triFalse
	}
	return triUnknown
}

// one is comparison n's answer for the single value of interned id (of
// ids, the table's size), or for no value when absent, from its memo.
func (p *planner) one(n *node, id uint32, ids int, value string, absent bool) tri {
	var lm *leafMemo
	for i := range p.memos {
		if p.memos[i].n == n {
			lm = &p.memos[i]
			break
		}
	}
	if lm == nil {
		p.memos = append(p.memos, leafMemo{n: n})
		lm = &p.memos[len(p.memos)-1]
	}
	if int(id) >= len(lm.m) {
		lm.m = append(lm.m, make([]uint8, max(ids, int(id)+1)-len(lm.m))...)
	}
	r := lm.m[id]
	if r == 0 {
		ok := n.matchValues(func(fn func(rawValue)) {
			if !absent {
				fn(rawValue{kind: kindString, decoded: true, str: value})
			}
		})
		r = memoFalse
		if ok {
			r = memoTrue
		}
		lm.m[id] = r
	}
	if r == memoTrue {
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
