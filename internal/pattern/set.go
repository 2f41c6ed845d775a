package pattern

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ID names a pattern in a Set, for example a log stream or rule identifier.
type ID string

// Set holds many patterns and finds all of those an event matches in one pass over the
// event: the event is flattened once into reusable buffers (only the paths some pattern
// names are recorded), candidate patterns are found through an index keyed by field path
// and, for exact string values, by (path, value), and only candidates are evaluated.
//
// All methods are safe for concurrent use. Add and Remove invalidate the index, which
// the next match rebuilds once; for best throughput add all patterns first. Matching
// does not allocate on the common path: per-call buffers come from a sync.Pool.
type Set struct {
	mu   sync.Mutex
	ids  []ID
	pats []*Pattern
	cur  atomic.Pointer[index]
	pool sync.Pool
}

// NewSet returns an empty Set.
func NewSet() *Set {
	s := &Set{}
	s.pool.New = func() any { return &scratch{} }
	return s
}

// Add adds p under id, replacing any pattern already stored under id. p must not be nil.
func (s *Set) Add(id ID, p *Pattern) {
	if p == nil {
		panic("pattern: Set.Add with a nil *Pattern")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.ids, id); i >= 0 {
		s.pats[i] = p
	} else {
		s.ids = append(s.ids, id)
		s.pats = append(s.pats, p)
	}
	s.cur.Store(nil)
}

// Remove removes the pattern stored under id and reports whether there was one.
func (s *Set) Remove(id ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.ids, id)
	if i < 0 {
		return false
	}
	s.ids = slices.Delete(s.ids, i, i+1)
	s.pats = slices.Delete(s.pats, i, i+1)
	s.cur.Store(nil)
	return true
}

// Len returns the number of patterns in the set.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// MatchAll appends to dst the ids of the patterns the event matches, in the order the
// patterns were first added, and returns the extended slice. event is a complete
// EventBridge event (an object with version, id, detail-type, source, account, time,
// region, resources and detail). Malformed JSON, a top level that is not an object and
// events nested deeper than MaxEventDepth match nothing. The set does not retain event.
func (s *Set) MatchAll(event []byte, dst []ID) []ID { return s.matchAll(event, nil, dst) }

// MatchAllEnvelope is MatchAll for an event given as an Envelope, which saves building
// the envelope's JSON. The set does not retain env or its Detail.
func (s *Set) MatchAllEnvelope(env *Envelope, dst []ID) []ID { return s.matchAll(nil, env, dst) }

// matchAll is MatchAll of event, or of env when it is not nil.
func (s *Set) matchAll(event []byte, env *Envelope, dst []ID) []ID {
	ix, sc, ok := s.flatten(event, env)
	if ok {
		dst = sc.collect(ix, dst)
	}
	s.put(sc)
	return dst
}

// matchesAny reports whether any pattern of the set matches; event or env is used.
func (s *Set) matchesAny(event []byte, env *Envelope) bool {
	ix, sc, ok := s.flatten(event, env)
	ok = ok && sc.run(ix)
	s.put(sc)
	return ok
}

// flatten takes a scratch for the current index and flattens event, or env when it is
// not nil, into it; ok is false when the event can match nothing. The caller puts the
// scratch back.
func (s *Set) flatten(event []byte, env *Envelope) (ix *index, sc *scratch, ok bool) {
	ix = s.index()
	sc = s.get(ix)
	if env != nil {
		return ix, sc, sc.flattenEnvelope(ix, env)
	}
	return ix, sc, sc.flattenEvent(ix, event)
}

func (s *Set) get(ix *index) *scratch {
	sc := s.pool.Get().(*scratch)
	sc.prepare(ix)
	return sc
}

func (s *Set) put(sc *scratch) {
	sc.clear()
	s.pool.Put(sc)
}

// index returns the current index, building it if patterns changed.
func (s *Set) index() *index {
	if ix := s.cur.Load(); ix != nil {
		return ix
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.cur.Load(); ix != nil {
		return ix
	}
	ix := buildIndex(s.ids, s.pats)
	s.cur.Store(ix)
	return ix
}

// tnode is a node of the index's field-path trie. Paths are split at dots, which makes
// an event key "a.b" and nested keys "a" → "b" the same path, as in EventBridge.
type tnode struct {
	id     int32 // id of the path for leaves testing exactly this path, or -1
	names  []string
	packed []uint64 // pack8 of each name: most keys are told apart without a string compare
	kids   []*tnode
	byName map[string]*tnode // replaces the linear names/kids search when large
}

// maxLinearChildren is the child count above which a trie node uses a map.
const maxLinearChildren = 8

func newTnode() *tnode { return &tnode{id: -1} }

// pack8 packs the first 8 bytes of s little-endian, as a load of the bytes would.
func pack8(s string) uint64 {
	var w uint64
	for i := 0; i < len(s) && i < 8; i++ {
		w |= uint64(s[i]) << (8 * i)
	}
	return w
}

// child returns the child for one path segment, or nil.
func (t *tnode) child(name string) *tnode { return t.childPacked(name, pack8(name)) }

// childPacked is child with pack8(name) already known.
func (t *tnode) childPacked(name string, w uint64) *tnode {
	if t.byName != nil {
		return t.byName[name]
	}
	for i, p := range t.packed {
		if p == w {
			if n := t.names[i]; len(n) == len(name) && (len(n) <= 8 || n[8:] == name[8:]) {
				return t.kids[i]
			}
		}
	}
	return nil
}

// lookup follows an event key, which may contain dots, from t.
func (t *tnode) lookup(key string) *tnode {
	for {
		i := strings.IndexByte(key, '.')
		if i < 0 {
			return t.child(key)
		}
		if t = t.child(key[:i]); t == nil {
			return nil
		}
		key = key[i+1:]
	}
}

// irule is a rule of one pattern with its leaves' paths resolved to path ids.
type irule struct {
	pat    int32
	leaves []ileaf
}

type ileaf struct {
	id int32 // path id
	li int32 // leaf id: equal (path, text) pairs share one, and one per-event result
	l  *leaf
}

// keyGroup gathers the rules whose key leaf has the same text at the same path, so that
// the leaf is tested once per event value however many rules share it.
type keyGroup struct {
	key   ileaf
	rules []int32
}

// envelopeFields are the envelope's top-level string fields, in Envelope's order.
var envelopeFields = [...]string{"version", "id", "detail-type", "source", "account", "time", "region"}

// index is the immutable, shareable lookup structure built from a Set's patterns.
type index struct {
	root    *tnode
	npaths  int
	nleaves int // distinct (path, leaf text) pairs
	ids     []ID
	rules   []irule
	// exact maps, per path id, an exact string value to the rules whose key leaf
	// lists it; groups lists, per path id, the other key leaves; always lists the
	// rules without a leaf that needs a value (only exists:false leaves).
	exact  []map[string][]int32
	groups [][]keyGroup
	always []int32
	// Trie nodes of the envelope's fields, for MatchAllEnvelope (nil when unused).
	env       [len(envelopeFields)]*tnode
	resources *tnode
	detail    *tnode
}

func buildIndex(ids []ID, pats []*Pattern) *index {
	ix := &index{root: newTnode(), ids: slices.Clone(ids)}
	leafAt := map[string]int32{} // path id + leaf text → leaf id
	for pi, p := range pats {
		for _, r := range p.rules {
			ir := irule{pat: int32(pi)}
			for _, l := range r.leaves {
				id := ix.intern(l.path)
				lk := strconv.Itoa(int(id)) + "\x00" + l.text
				li, ok := leafAt[lk]
				if !ok {
					li = int32(ix.nleaves)
					leafAt[lk] = li
					ix.nleaves++
				}
				ir.leaves = append(ir.leaves, ileaf{id: id, li: li, l: l})
			}
			ix.rules = append(ix.rules, ir)
		}
	}
	ix.exact = make([]map[string][]int32, ix.npaths)
	ix.groups = make([][]keyGroup, ix.npaths)
	groupAt := map[int32]int{} // leaf id → index in ix.groups[id]
	for ri := range ix.rules {
		r := &ix.rules[ri]
		key, best := -1, 0
		for i, lf := range r.leaves {
			if lf.l.absentOK {
				continue
			}
			if sc := keyScore(lf.l); key < 0 || sc < best {
				key, best = i, sc
			}
		}
		if key < 0 {
			ix.always = append(ix.always, int32(ri))
			continue
		}
		kl := r.leaves[key]
		// Test the key leaf last: it is known to match when the rule is a candidate.
		r.leaves = append(slices.Delete(slices.Clone(r.leaves), key, key+1), kl)
		if kl.l.exact != nil {
			if ix.exact[kl.id] == nil {
				ix.exact[kl.id] = map[string][]int32{}
			}
			for _, v := range kl.l.exact {
				if lst := ix.exact[kl.id][v]; len(lst) == 0 || lst[len(lst)-1] != int32(ri) {
					ix.exact[kl.id][v] = append(lst, int32(ri))
				}
			}
			continue
		}
		gi, ok := groupAt[kl.li]
		if !ok {
			gi = len(ix.groups[kl.id])
			groupAt[kl.li] = gi
			ix.groups[kl.id] = append(ix.groups[kl.id], keyGroup{key: kl})
		}
		ix.groups[kl.id][gi].rules = append(ix.groups[kl.id][gi].rules, int32(ri))
	}
	for i, name := range envelopeFields {
		ix.env[i] = ix.root.child(name)
	}
	ix.resources = ix.root.child("resources")
	ix.detail = ix.root.child("detail")
	return ix
}

// keyScore estimates how unselective a leaf is as a rule's index key (lower is better):
// exact strings are looked up by value; tests that most values pass (anything-but,
// exists) are poor keys; envelope fields such as detail-type or source are usually the
// same in every pattern of a log-stream set, so a detail field is preferred.
func keyScore(l *leaf) int {
	score := 0
	switch {
	case l.exact != nil:
		score = min(len(l.exact), 8)
	default:
		score = 10
		for i := range l.ms {
			if k := l.ms[i].kind; k == matchAnythingBut || k == matchExists {
				score = 40
				break
			}
		}
	}
	if !strings.Contains(l.path, ".") {
		score += 20
	}
	return score
}

// intern returns the id of a leaf path, adding its segments to the trie.
func (ix *index) intern(path string) int32 {
	t := ix.root
	for _, seg := range strings.Split(path, ".") {
		c := t.child(seg)
		if c == nil {
			c = newTnode()
			t.names = append(t.names, seg)
			t.packed = append(t.packed, pack8(seg))
			t.kids = append(t.kids, c)
			if len(t.kids) > maxLinearChildren {
				if t.byName == nil {
					t.byName = map[string]*tnode{}
					for i, n := range t.names {
						t.byName[n] = t.kids[i]
					}
				}
				t.byName[seg] = c
			}
		}
		t = c
	}
	if t.id < 0 {
		t.id = int32(ix.npaths)
		ix.npaths++
	}
	return t.id
}
