package pattern

import "slices"

// maxBacktrackSteps bounds the search for array-consistent value combinations in one
// rule evaluation. Patterns with several conditions inside the same large event arrays
// could otherwise take exponential time; a search that runs out of steps is a no-match.
const maxBacktrackSteps = 1 << 16

// Envelope is an EventBridge event given field by field, so that a stored LogEvent can
// be matched as the envelope's detail without building the envelope's JSON.
type Envelope struct {
	Version    string
	ID         string
	DetailType string
	Source     string
	Account    string
	Time       string
	Region     string
	// Resources is the resources array; nil and empty both mean [].
	Resources []string
	// Detail is the detail object's JSON, for example a LogEvent exactly as stored.
	// Empty means the envelope has no detail.
	Detail []byte
}

// Match reports whether the event matches the pattern. event is a complete EventBridge
// event; see Set.MatchAll for how malformed events are treated. Match is safe for
// concurrent use and does not allocate on the common path. To test many patterns
// against one event, use a Set.
func (p *Pattern) Match(event []byte) bool { return p.one.matchesAny(event, nil) }

// MatchEnvelope reports whether the event given as an Envelope matches the pattern.
func (p *Pattern) MatchEnvelope(env *Envelope) bool { return p.one.matchesAny(nil, env) }

// scratch holds the per-match buffers. One scratch is used by one goroutine at a time.
type scratch struct {
	ix      *index
	vals    []value
	trails  []arrayPos
	stack   []arrayPos
	heads   []int32 // per path id: first value, or -1
	touched []int32 // path ids that have values
	strbuf  []byte
	nextArr int32
	// skipStack is skip's stack of open containers.
	skipStack []byte

	ruleStamp []uint32
	patStamp  []uint32
	epoch     uint32
	matched   []int32

	// memo holds, per leaf id, the leaf's result for the current event (valid when its
	// epoch is current): many rules share leaves (detail-type, outcome.result, ...),
	// which are then tested once per event. cands holds the memos' array-bound values.
	memo    []leafMemo
	cands   []int32
	candOff []int32
	chosen  []int32
	steps   int
}

// leafMemo is one leaf's result for one event: n < 0 when no value satisfies the leaf,
// n == 0 when it holds regardless of arrays (a matching value outside every array, or
// an absent path for exists:false), and n > 0 when the n matching values, all inside
// arrays, are cands[off:off+n].
type leafMemo struct {
	epoch uint32
	off   int32
	n     int32
}

// prepare sizes the scratch for ix.
func (s *scratch) prepare(ix *index) {
	if s.ix == ix {
		return
	}
	s.ix = ix
	s.heads = slices.Grow(s.heads[:0], ix.npaths)[:ix.npaths]
	for i := range s.heads {
		s.heads[i] = -1
	}
	s.ruleStamp = make([]uint32, len(ix.rules))
	s.patStamp = make([]uint32, len(ix.ids))
	s.memo = make([]leafMemo, ix.nleaves)
	s.epoch = 0
}

// clear resets the per-event state, keeping capacity.
func (s *scratch) clear() {
	for _, id := range s.touched {
		s.heads[id] = -1
	}
	s.touched = s.touched[:0]
	clear(s.vals) // drop references into the caller's event
	s.vals = s.vals[:0]
	s.trails = s.trails[:0]
	s.stack = s.stack[:0]
	s.strbuf = s.strbuf[:0]
	s.matched = s.matched[:0]
	s.cands = s.cands[:0]
	s.nextArr = 0
}

// emit records a leaf value at path id, with the current array trail.
func (s *scratch) emit(id int32, v value) {
	if n := len(s.stack); n > 0 {
		v.trailOff = int32(len(s.trails))
		v.trailLen = int32(n)
		s.trails = append(s.trails, s.stack...)
	}
	v.next = s.heads[id]
	if v.next < 0 {
		s.touched = append(s.touched, id)
	}
	s.heads[id] = int32(len(s.vals))
	s.vals = append(s.vals, v)
}

// flattenEvent records the event's values; false means the event cannot match.
func (s *scratch) flattenEvent(ix *index, ev []byte) bool {
	f := flattener{s: s, ix: ix, ev: ev}
	f.space()
	if f.pos >= len(ev) || ev[f.pos] != '{' {
		return false
	}
	if !f.walk(0, ix.root) {
		return false
	}
	f.space()
	return f.pos == len(ev)
}

// flattenEnvelope records an Envelope's values; false means it cannot match.
func (s *scratch) flattenEnvelope(ix *index, env *Envelope) bool {
	fields := [len(envelopeFields)]string{env.Version, env.ID, env.DetailType, env.Source, env.Account, env.Time, env.Region}
	for i, v := range fields {
		if t := ix.env[i]; t != nil && t.id >= 0 {
			s.emit(t.id, value{kind: kindString, str: v})
		}
	}
	if t := ix.resources; t != nil && t.id >= 0 && len(env.Resources) > 0 {
		s.stack = append(s.stack[:0], arrayPos{arr: s.nextArr})
		s.nextArr++
		for i, r := range env.Resources {
			s.stack[0].idx = int32(i)
			s.emit(t.id, value{kind: kindString, str: r})
		}
		s.stack = s.stack[:0]
	}
	if len(env.Detail) == 0 {
		return true
	}
	f := flattener{s: s, ix: ix, ev: env.Detail}
	// Detail is validated even when no pattern looks at it, so that MatchAllEnvelope
	// and MatchAll agree on malformed events.
	if !f.walk(1, ix.detail) {
		return false
	}
	f.space()
	return f.pos == len(env.Detail)
}

// nextEpoch starts a new round of rule and pattern stamps.
func (s *scratch) nextEpoch() {
	s.epoch++
	if s.epoch == 0 {
		clear(s.ruleStamp)
		clear(s.patStamp)
		clear(s.memo)
		s.epoch = 1
	}
}

// run evaluates the candidate rules of the flattened event and fills s.matched with
// the matching pattern indexes, unsorted. It reports whether any pattern matched.
func (s *scratch) run(ix *index) bool {
	s.nextEpoch()
	for _, id := range s.touched {
		for gi := range ix.groups[id] {
			g := &ix.groups[id][gi]
			if s.leaf(&g.key).n >= 0 {
				for _, r := range g.rules {
					s.consider(ix, r)
				}
			}
		}
		if m := ix.exact[id]; m != nil {
			for vi := s.heads[id]; vi >= 0; vi = s.vals[vi].next {
				if v := &s.vals[vi]; v.kind == kindString {
					for _, r := range m[v.str] {
						s.consider(ix, r)
					}
				}
			}
		}
	}
	for _, r := range ix.always {
		s.consider(ix, r)
	}
	return len(s.matched) > 0
}

func (s *scratch) consider(ix *index, ri int32) {
	if s.ruleStamp[ri] == s.epoch {
		return
	}
	s.ruleStamp[ri] = s.epoch
	r := &ix.rules[ri]
	if s.patStamp[r.pat] == s.epoch {
		return
	}
	if s.evalRule(r) {
		s.patStamp[r.pat] = s.epoch
		s.matched = append(s.matched, r.pat)
	}
}

// collect runs the index and appends the matching ids in pattern order.
func (s *scratch) collect(ix *index, dst []ID) []ID {
	if !s.run(ix) {
		return dst
	}
	slices.Sort(s.matched)
	for _, p := range s.matched {
		dst = append(dst, ix.ids[p])
	}
	return dst
}

// matchLeaf reports whether v satisfies one of the leaf's items.
func matchLeaf(l *leaf, v *value) bool {
	if l.exact != nil {
		// Only exact strings (the commonest leaf): skip the matcher dispatch.
		if v.kind != kindString {
			return false
		}
		for _, x := range l.exact {
			if v.str == x {
				return true
			}
		}
		return false
	}
	for i := range l.ms {
		if l.ms[i].match(v) {
			return true
		}
	}
	return false
}

// leaf returns the memoised result of lf for the current event, computing it once.
func (s *scratch) leaf(lf *ileaf) leafMemo {
	m := &s.memo[lf.li]
	if m.epoch == s.epoch {
		return *m
	}
	m.epoch, m.off, m.n = s.epoch, 0, -1
	head := s.heads[lf.id]
	if head < 0 {
		if lf.l.absentOK {
			m.n = 0
		}
		return *m
	}
	start := int32(len(s.cands))
	for vi := head; vi >= 0; vi = s.vals[vi].next {
		v := &s.vals[vi]
		if !matchLeaf(lf.l, v) {
			continue
		}
		if v.trailLen == 0 {
			// A value outside arrays is consistent with any other.
			s.cands = s.cands[:start]
			m.n = 0
			return *m
		}
		s.cands = append(s.cands, vi)
	}
	if n := int32(len(s.cands)) - start; n > 0 {
		m.off, m.n = start, n
	}
	return *m
}

// evalRule reports whether the flattened event satisfies every leaf of r, with all the
// values used coming from the same element of every array they share.
func (s *scratch) evalRule(r *irule) bool {
	s.candOff = s.candOff[:0]
	for i := range r.leaves {
		m := s.leaf(&r.leaves[i])
		if m.n < 0 {
			return false
		}
		if m.n > 0 {
			s.candOff = append(s.candOff, m.off, m.off+m.n)
		}
	}
	if len(s.candOff) <= 2 {
		return true
	}
	s.chosen = s.chosen[:0]
	s.steps = 0
	return s.search(0)
}

// search picks, for leaf k onwards, a candidate consistent with the ones chosen so far.
func (s *scratch) search(k int) bool {
	if 2*k >= len(s.candOff) {
		return true
	}
	for _, vi := range s.cands[s.candOff[2*k]:s.candOff[2*k+1]] {
		s.steps++
		if s.steps > maxBacktrackSteps {
			return false
		}
		ok := true
		for _, cj := range s.chosen {
			if !s.consistent(vi, cj) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		s.chosen = append(s.chosen, vi)
		if s.search(k + 1) {
			return true
		}
		s.chosen = s.chosen[:len(s.chosen)-1]
	}
	return false
}

// consistent reports whether two values never sit in different elements of one array.
func (s *scratch) consistent(a, b int32) bool {
	va, vb := &s.vals[a], &s.vals[b]
	ta := s.trails[va.trailOff : va.trailOff+va.trailLen]
	tb := s.trails[vb.trailOff : vb.trailOff+vb.trailLen]
	for _, x := range ta {
		for _, y := range tb {
			if x.arr == y.arr && x.idx != y.idx {
				return false
			}
		}
	}
	return true
}
