package pattern

import (
	"encoding/binary"
	"slices"
	"strconv"
	"strings"
)

// wildcard is a compiled wildcard operand: literal segments separated by '*'.
// A value matches when it is segs[0] + any + segs[1] + ... + any + segs[n-1].
type wildcard struct {
	segs []string
}

// parseWildcard compiles a wildcard operand. `\*` is a literal star and `\\` a literal
// backslash. Positions in error reasons are byte indexes into the operand as event-ruler
// sees it (wrapped in quotes), which is the index of the second star for "**" and the
// index of the character after a bad backslash.
func parseWildcard(s string) (*wildcard, string) {
	var segs []string
	var cur strings.Builder
	prevStar := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return nil, "Invalid escape character at pos " + strconv.Itoa(i+1)
			}
			cur.WriteByte(s[i+1])
			i++
			prevStar = false
		case '*':
			if prevStar {
				return nil, "Consecutive wildcard characters at pos " + strconv.Itoa(i)
			}
			segs = append(segs, cur.String())
			cur.Reset()
			prevStar = true
		default:
			cur.WriteByte(c)
			prevStar = false
		}
	}
	segs = append(segs, cur.String())
	return &wildcard{segs: segs}, ""
}

// match reports whether the whole of v matches the wildcard.
func (w *wildcard) match(v string) bool {
	n := len(w.segs)
	if n == 1 {
		return v == w.segs[0]
	}
	first, last := w.segs[0], w.segs[n-1]
	if len(v) < len(first)+len(last) || v[:len(first)] != first || v[len(v)-len(last):] != last {
		return false
	}
	// Leftmost placement of each middle segment is optimal for '*'-only globs.
	mid := v[len(first) : len(v)-len(last)]
	for _, seg := range w.segs[1 : n-1] {
		i := strings.Index(mid, seg)
		if i < 0 {
			return false
		}
		mid = mid[i+len(seg):]
	}
	return true
}

// wcToken is one element of a wildcard seen as an automaton: a literal byte or a star.
type wcToken struct {
	b    byte
	star bool
}

// complexityBudget bounds the work of wildcardComplexity (state transitions computed).
// Wildcards whose evaluation needs more are reported as too complex; realistic patterns
// need a few thousand.
const complexityBudget = 1 << 20

// wildcardComplexity measures a group of wildcards that share one field, in the spirit of
// event-ruler's MachineComplexityEvaluator: the largest number of wildcard prefixes that
// one input string can match at the same time, i.e. the largest set of automaton states
// a traversal can be in simultaneously. Each (wildcard, prefix length >= 1) pair is a
// state; a state just after a star loops on every byte. The maximum is found by exploring
// the reachable state sets (a subset construction over the bytes the active states can
// take next, plus one byte no wildcard mentions), stopping as soon as limit is exceeded
// or the work budget is spent (then the result is limit+1).
func wildcardComplexity(wcs []*wildcard, limit int) int {
	var toks []wcToken // all wildcards, each followed by a terminator (star=false, b=0 unused)
	var starts []int32
	var ends []bool // ends[i]: position i is the end of its wildcard
	mentioned := [256]bool{}
	for _, w := range wcs {
		starts = append(starts, int32(len(toks)))
		for i, seg := range w.segs {
			if i > 0 {
				toks = append(toks, wcToken{star: true})
				ends = append(ends, false)
			}
			for j := 0; j < len(seg); j++ {
				toks = append(toks, wcToken{b: seg[j]})
				ends = append(ends, false)
				mentioned[seg[j]] = true
			}
		}
		toks = append(toks, wcToken{})
		ends = append(ends, true)
	}
	other, found := byte(0), false
	for b := 0; b < 256; b++ {
		if !mentioned[b] {
			other, found = byte(b), true
			break
		}
	}
	// A state is a position p in toks: the tokens of its wildcard before p are matched.
	// afterStar(p): the token before p is a star, so p loops on every byte.
	isStart := make([]bool, len(toks))
	for _, st := range starts {
		isStart[st] = true
	}
	afterStar := func(p int32) bool { return !isStart[p] && toks[p-1].star }
	// closure adds p+1 for every active p whose next token is a star.
	closure := func(set []int32) []int32 {
		for i := 0; i < len(set); i++ {
			p := set[i]
			if !ends[p] && toks[p].star && !slices.Contains(set, p+1) {
				set = append(set, p+1)
			}
		}
		slices.Sort(set)
		return set
	}
	key := func(set []int32) string {
		b := make([]byte, 0, 4*len(set))
		for _, p := range set {
			b = binary.LittleEndian.AppendUint32(b, uint32(p))
		}
		return string(b)
	}
	count := func(set []int32) int {
		n := 0
		for _, p := range set {
			if !isStart[p] {
				n++
			}
		}
		return n
	}
	start := closure(slices.Clone(starts))
	seen := map[string]bool{key(start): true}
	queue := [][]int32{start}
	best, work := 0, 0
	var letters []byte
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		if c := count(set); c > best {
			if best = c; best > limit {
				return best
			}
		}
		letters = letters[:0]
		loops := false
		for _, p := range set {
			if !ends[p] && !toks[p].star && !slices.Contains(letters, toks[p].b) {
				letters = append(letters, toks[p].b)
			}
			loops = loops || afterStar(p)
		}
		if loops && found {
			letters = append(letters, other)
		}
		for _, c := range letters {
			var next []int32
			for _, p := range set {
				work++
				if afterStar(p) {
					next = append(next, p)
				}
				if !ends[p] && !toks[p].star && toks[p].b == c && !slices.Contains(next, p+1) {
					next = append(next, p+1)
				}
			}
			if work > complexityBudget {
				return limit + 1
			}
			if len(next) == 0 {
				continue
			}
			next = closure(next)
			k := key(next)
			if seen[k] {
				continue
			}
			seen[k] = true
			queue = append(queue, next)
		}
	}
	return best
}
