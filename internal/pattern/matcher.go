package pattern

import "net/netip"

// matchKind selects what a matcher tests.
type matchKind uint8

const (
	matchString      matchKind = iota // exact string
	matchIP                           // exact IP-address string, any spelling of the address
	matchNumber                       // exact number, by value or by source text
	matchTrue                         // the literal true
	matchFalse                        // the literal false
	matchNull                         // the literal null
	matchPrefix                       // prefix
	matchPrefixFold                   // prefix, equals-ignore-case
	matchSuffix                       // suffix
	matchSuffixFold                   // suffix, equals-ignore-case
	matchEqualsFold                   // equals-ignore-case
	matchWildcard                     // wildcard
	matchNumeric                      // numeric range
	matchCIDR                         // cidr
	matchExists                       // exists: true
	matchAnythingBut                  // anything-but, every form
)

// matcher is one item of a pattern leaf array. It is a tagged struct rather than an
// interface so that matching stays free of dynamic dispatch and allocation.
type matcher struct {
	kind   matchKind
	s      string // string operand (folded for the *Fold kinds), or a number's text
	num    float64
	numOK  bool
	lo, hi float64
	loInc  bool
	hiInc  bool
	hasLo  bool
	hasHi  bool
	addr   netip.Addr
	prefix netip.Prefix
	wc     *wildcard
	ab     *anythingBut
}

// anythingBut holds the exclusions of one anything-but item. A value matches when it is
// present and not excluded; values of a type the exclusions do not cover match.
type anythingBut struct {
	strs     []string
	nums     []matcher // matchNumber matchers
	prefixes []string
	suffixes []string
	folds    []string // foldString results
	wcs      []*wildcard
}

// match reports whether the event value v satisfies m. ipBuf is scratch space.
func (m *matcher) match(v *value) bool {
	switch m.kind {
	case matchString:
		return v.kind == kindString && v.str == m.s
	case matchIP:
		if v.kind != kindString {
			return false
		}
		if v.str == m.s {
			return true
		}
		if !looksLikeIP(v.str) {
			return false
		}
		a, err := netip.ParseAddr(v.str)
		return err == nil && a == m.addr
	case matchNumber:
		return v.kind == kindNumber && (v.str == m.s || v.numOK && m.numOK && v.num == m.num)
	case matchTrue:
		return v.kind == kindTrue
	case matchFalse:
		return v.kind == kindFalse
	case matchNull:
		return v.kind == kindNull
	case matchPrefix:
		return v.kind == kindString && len(v.str) >= len(m.s) && v.str[:len(m.s)] == m.s
	case matchPrefixFold:
		return v.kind == kindString && hasPrefixFold(v.str, m.s)
	case matchSuffix:
		return v.kind == kindString && len(v.str) >= len(m.s) && v.str[len(v.str)-len(m.s):] == m.s
	case matchSuffixFold:
		return v.kind == kindString && hasSuffixFold(v.str, m.s)
	case matchEqualsFold:
		return v.kind == kindString && equalFold(v.str, m.s)
	case matchWildcard:
		return v.kind == kindString && m.wc.match(v.str)
	case matchNumeric:
		if v.kind != kindNumber || !v.numOK {
			return false
		}
		if m.hasLo && (v.num < m.lo || v.num == m.lo && !m.loInc) {
			return false
		}
		if m.hasHi && (v.num > m.hi || v.num == m.hi && !m.hiInc) {
			return false
		}
		return true
	case matchCIDR:
		if v.kind != kindString || !looksLikeIP(v.str) {
			return false
		}
		a, err := netip.ParseAddr(v.str)
		return err == nil && a.Zone() == "" && m.prefix.Contains(a)
	case matchExists:
		return true
	case matchAnythingBut:
		return !m.ab.excludes(v)
	}
	return false
}

// excludes reports whether v is one of the values an anything-but item excludes.
func (a *anythingBut) excludes(v *value) bool {
	switch v.kind {
	case kindString:
		s := v.str
		for _, x := range a.strs {
			if s == x {
				return true
			}
		}
		for _, p := range a.prefixes {
			if len(s) >= len(p) && s[:len(p)] == p {
				return true
			}
		}
		for _, p := range a.suffixes {
			if len(s) >= len(p) && s[len(s)-len(p):] == p {
				return true
			}
		}
		for _, f := range a.folds {
			if equalFold(s, f) {
				return true
			}
		}
		for _, w := range a.wcs {
			if w.match(s) {
				return true
			}
		}
	case kindNumber:
		for i := range a.nums {
			if a.nums[i].match(v) {
				return true
			}
		}
	}
	return false
}
