package pattern

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Defaults for the Compile limits. They are AWS's limits where AWS publishes one.
const (
	// DefaultMaxLength is the TestEventPattern limit on pattern text, in bytes as
	// submitted (whitespace included). PutRule's default quota is lower (2,048).
	DefaultMaxLength = 4096
	// DefaultMaxCombinations is AWS's limit on the number of $or combinations.
	DefaultMaxCombinations = 1000
	// DefaultMaxWildcardComplexity is the largest accepted wildcard complexity (see
	// WithMaxWildcardComplexity). Calibrated on AWS's answers: `*:*:*:*:*:event-bus/*`
	// measures 11 (rejected by AWS); `/Users/*/dir/dir/dir/dir/dir/doc.txt` measures 7,
	// `arn:aws:events:us-east-1:*:event-bus/*` 3 and `/Users/*/doc.txt` 2 (accepted).
	DefaultMaxWildcardComplexity = 10
	// strictNumericBound is the 2023 user guide's bound on numeric operands.
	strictNumericBound = 5.0e9
	// strictNumericDecimals is the 2023 user guide's limit on decimal places.
	strictNumericDecimals = 6
)

// Option changes a Compile limit.
type Option func(*config)

type config struct {
	maxLength     int
	maxCombos     int
	maxComplexity int
	strictNumeric bool
}

// WithMaxLength sets the maximum pattern length in bytes (default DefaultMaxLength).
// n <= 0 removes the limit.
func WithMaxLength(n int) Option { return func(c *config) { c.maxLength = n } }

// WithMaxCombinations sets the maximum number of $or combinations a pattern may expand
// into (default DefaultMaxCombinations). n <= 0 removes the limit.
func WithMaxCombinations(n int) Option { return func(c *config) { c.maxCombos = n } }

// WithMaxWildcardComplexity sets the largest accepted wildcard complexity (default
// DefaultMaxWildcardComplexity). The complexity of a field's wildcards is the largest
// number of wildcard prefixes one input string can match at once, as computed by
// event-ruler's MachineComplexityEvaluator. n <= 0 removes the limit.
func WithMaxWildcardComplexity(n int) Option { return func(c *config) { c.maxComplexity = n } }

// WithStrictNumericOperands turns the check of numeric operands against the 2023 user
// guide's limits (±5.0e9, at most 6 decimal places) on or off (default on).
func WithStrictNumericOperands(on bool) Option { return func(c *config) { c.strictNumeric = on } }

// leaf is the compiled test of one field path: the items of a leaf array, ORed.
type leaf struct {
	path     string // dot-joined field path
	text     string // the leaf array's source text; equal texts test alike
	absentOK bool   // the leaf contains {"exists": false}
	ms       []matcher
	// exact lists the leaf's exact strings when every item is a plain exact string
	// (not IP-like); such leaves are indexed by value in a Set.
	exact []string
}

// rule is one $or combination: a conjunction of leaves with distinct paths.
type rule struct {
	leaves []*leaf
}

// Pattern is a compiled event pattern. It is immutable and safe for concurrent use.
type Pattern struct {
	src   string
	rules []rule
	one   *Set // a set holding only this pattern, for Match
}

// String returns the pattern text as it was compiled.
func (p *Pattern) String() string { return p.src }

// compiler carries the state of one Compile call.
type compiler struct {
	cfg config
	src []byte
}

// op is one step of a pattern object in document order: a leaf write or an $or group.
type op struct {
	leaf *leaf
	alts [][]op // $or alternatives
}

// Compile parses and validates an EventBridge event pattern. Errors are *Error values
// carrying AWS's reason text.
func Compile(patternJSON []byte, opts ...Option) (*Pattern, error) {
	c := &compiler{
		cfg: config{maxLength: DefaultMaxLength, maxCombos: DefaultMaxCombinations,
			maxComplexity: DefaultMaxWildcardComplexity, strictNumeric: true},
		src: patternJSON,
	}
	for _, o := range opts {
		o(&c.cfg)
	}
	if c.cfg.maxLength > 0 && len(patternJSON) > c.cfg.maxLength {
		return nil, &Error{Reason: fmt.Sprintf("Event pattern is too long (%d > %d bytes)", len(patternJSON), c.cfg.maxLength), Offset: -1}
	}
	root, perr := parseJSON(patternJSON)
	if perr != nil {
		return nil, perr
	}
	if root.kind != nodeObject {
		return nil, c.err(root.off, reasonNotObject)
	}
	ops, err := c.object(root, "", false, 0)
	if err != nil {
		return nil, err
	}
	if n := countCombos(ops); c.cfg.maxCombos > 0 && n > int64(c.cfg.maxCombos) {
		return nil, &Error{Reason: fmt.Sprintf("Too many $or combinations (%d > %d)", n, c.cfg.maxCombos), Offset: -1}
	}
	alts := expand([][]*leaf{nil}, ops)
	p := &Pattern{src: string(patternJSON)}
	for _, a := range alts {
		p.rules = append(p.rules, rule{leaves: a})
	}
	p.one = NewSet()
	p.one.Add("", p)
	return p, nil
}

// MustCompile is like Compile but panics on error. It is meant for tests and constants.
func MustCompile(patternJSON string, opts ...Option) *Pattern {
	p, err := Compile([]byte(patternJSON), opts...)
	if err != nil {
		panic(err)
	}
	return p
}

func (c *compiler) err(off int, reason string) *Error { return errorAt(c.src, off, reason) }

// reservedInOr lists the member names event-ruler refuses inside an $or alternative.
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true,
	"anything-but": true, "exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true, "regex": true,
	"not-wildcard": true, "not-equals-ignore-case": true, "date-after": true,
	"date-on-or-after": true, "date-before": true, "date-on-or-before": true,
	"in-date-range": true, "ip-address-in-range": true, "ip-address-not-in-range": true,
}

// object compiles the members of a pattern object under path prefix into ops.
func (c *compiler) object(n *node, prefix string, inOr bool, depth int) ([]op, *Error) {
	if depth > maxPatternDepth {
		return nil, c.err(n.off, reasonTooDeep)
	}
	if len(n.members) == 0 {
		return nil, c.err(n.off, reasonEmptyObject)
	}
	var ops []op
	for _, m := range n.members {
		if m.name == "$or" {
			o, err := c.or(m.val, prefix, depth)
			if err != nil {
				return nil, err
			}
			ops = append(ops, o)
			continue
		}
		if inOr && reservedInOr[m.name] {
			return nil, c.err(m.off, m.name+" is Ruler reserved fieldName which cannot be used inside $or.")
		}
		path := m.name
		if prefix != "" {
			path = prefix + "." + m.name
		}
		switch m.val.kind {
		case nodeObject:
			sub, err := c.object(m.val, path, inOr, depth+1)
			if err != nil {
				return nil, err
			}
			ops = append(ops, sub...)
		case nodeArray:
			l, err := c.leaf(m.val, path)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op{leaf: l})
		default:
			return nil, c.err(m.val.off, reasonMustBeObjectOrArray(m.name))
		}
	}
	return ops, nil
}

func (c *compiler) or(n *node, prefix string, depth int) (op, *Error) {
	if n.kind != nodeArray {
		return op{}, c.err(n.off, reasonOrArray)
	}
	var o op
	for _, e := range n.elems {
		if e.kind != nodeObject {
			return op{}, c.err(e.off, reasonOrObject)
		}
		sub, err := c.object(e, prefix, true, depth+1)
		if err != nil {
			return op{}, err
		}
		o.alts = append(o.alts, sub)
	}
	if len(o.alts) < 2 {
		return op{}, c.err(n.off, reasonOrTwo)
	}
	return o, nil
}

// countCombos counts the $or combinations of ops, saturating at MaxInt64.
func countCombos(ops []op) int64 {
	total := int64(1)
	for _, o := range ops {
		if o.leaf != nil {
			continue
		}
		var sum int64
		for _, a := range o.alts {
			sum = satAdd(sum, countCombos(a))
		}
		total = satMul(total, sum)
	}
	return total
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// expand applies ops to every alternative. A leaf write replaces an earlier leaf with
// the same path (the last write wins, as in event-ruler); an $or multiplies.
func expand(alts [][]*leaf, ops []op) [][]*leaf {
	for _, o := range ops {
		if o.leaf != nil {
			for i, a := range alts {
				alts[i] = putLeaf(a, o.leaf)
			}
			continue
		}
		var next [][]*leaf
		for _, branch := range o.alts {
			forked := make([][]*leaf, len(alts))
			for i, a := range alts {
				forked[i] = append([]*leaf(nil), a...)
			}
			next = append(next, expand(forked, branch)...)
		}
		alts = next
	}
	return alts
}

func putLeaf(a []*leaf, l *leaf) []*leaf {
	for i, x := range a {
		if x.path == l.path {
			a[i] = l
			return a
		}
	}
	return append(a, l)
}

// leaf compiles a leaf array.
func (c *compiler) leaf(n *node, path string) (*leaf, *Error) {
	l := &leaf{path: path, text: string(c.src[n.off:n.end])}
	allExact := true
	var wcs []*wildcard
	for _, e := range n.elems {
		switch e.kind {
		case nodeObject:
			allExact = false
			m, isAbsent, err := c.expression(e)
			if err != nil {
				return nil, err
			}
			if isAbsent {
				l.absentOK = true
				continue
			}
			l.ms = append(l.ms, m)
			if m.kind == matchWildcard {
				wcs = append(wcs, m.wc)
			} else if m.kind == matchAnythingBut {
				wcs = append(wcs, m.ab.wcs...)
			}
		case nodeString:
			if a, ok := ipLiteral(e.text); ok {
				allExact = false
				l.ms = append(l.ms, matcher{kind: matchIP, s: e.text, addr: a})
				continue
			}
			l.ms = append(l.ms, matcher{kind: matchString, s: e.text})
			l.exact = append(l.exact, e.text)
		case nodeNumber:
			allExact = false
			l.ms = append(l.ms, numberMatcher(e.text))
		case nodeTrue:
			allExact = false
			l.ms = append(l.ms, matcher{kind: matchTrue})
		case nodeFalse:
			allExact = false
			l.ms = append(l.ms, matcher{kind: matchFalse})
		case nodeNull:
			allExact = false
			l.ms = append(l.ms, matcher{kind: matchNull})
		default:
			return nil, c.err(e.off, reasonMatchValue)
		}
	}
	if len(n.elems) == 0 {
		return nil, c.err(n.off, reasonEmptyArray)
	}
	if !allExact {
		l.exact = nil
	}
	if len(wcs) > 0 && c.cfg.maxComplexity > 0 && wildcardComplexity(wcs, c.cfg.maxComplexity) > c.cfg.maxComplexity {
		return nil, c.err(n.off, reasonTooComplex)
	}
	return l, nil
}

func numberMatcher(text string) matcher {
	f, ok := parseNumber(text)
	return matcher{kind: matchNumber, s: text, num: f, numOK: ok}
}

// tokenText is how event-ruler quotes a JSON token in a reason.
func tokenText(n *node) string {
	switch n.kind {
	case nodeObject:
		return "{"
	case nodeArray:
		return "["
	}
	return n.text
}

// expression compiles a match expression object such as {"prefix":"x"}. isAbsent is
// true for {"exists": false}, which is not a value matcher.
func (c *compiler) expression(n *node) (m matcher, isAbsent bool, err *Error) {
	if len(n.members) == 0 {
		return m, false, c.err(n.off, reasonNoMatchName)
	}
	name, v := n.members[0].name, n.members[0].val
	extra := func(reason string) *Error {
		if len(n.members) > 1 {
			return c.err(n.members[1].off, reason)
		}
		return nil
	}
	switch name {
	case "prefix", "suffix":
		fold := false
		switch v.kind {
		case nodeString:
		case nodeObject:
			s, err := c.ignoreCaseInner(v, name)
			if err != nil {
				return m, false, err
			}
			v = s
			fold = true
		default:
			if name == "prefix" {
				return m, false, c.err(v.off, reasonPrefixString)
			}
			return m, false, c.err(v.off, reasonSuffixString)
		}
		switch {
		case name == "prefix" && fold:
			m = matcher{kind: matchPrefixFold, s: foldString(v.text)}
		case name == "prefix":
			m = matcher{kind: matchPrefix, s: v.text}
		case fold:
			m = matcher{kind: matchSuffixFold, s: foldString(v.text)}
		default:
			m = matcher{kind: matchSuffix, s: v.text}
		}
	case "equals-ignore-case", "wildcard", "cidr":
		if v.kind != nodeString {
			return m, false, c.err(v.off, notStringReason[name])
		}
		var reason string
		if m, reason = stringMatcher(name, v.text); reason != "" {
			return m, false, c.err(v.off, reason)
		}
	case "exists":
		switch v.kind {
		case nodeTrue:
			m = matcher{kind: matchExists}
		case nodeFalse:
			isAbsent = true
		default:
			return m, false, c.err(v.off, reasonExists)
		}
	case "numeric":
		if v.kind != nodeArray {
			return m, false, c.err(v.off, reasonNumericArray)
		}
		m, err = c.numeric(v)
		if err != nil {
			return m, false, err
		}
		if e := extra(reasonNumericTooMany); e != nil {
			return m, false, e
		}
		return m, false, nil
	case "anything-but":
		m, err = c.anythingBut(v)
		if err != nil {
			return m, false, err
		}
	default:
		return m, false, c.err(n.members[0].off, "Unrecognized match type "+name)
	}
	if e := extra(reasonOneKey); e != nil {
		return m, false, e
	}
	return m, isAbsent, nil
}

// notStringReason is the reason given when the operand of an operator that takes a
// string is not one (event-ruler's words, which name "prefix" for cidr).
var notStringReason = map[string]string{
	"equals-ignore-case": reasonEIC,
	"wildcard":           reasonWildcardString,
	"cidr":               reasonPrefixString,
}

// stringMatcher compiles the string operand of equals-ignore-case, wildcard or cidr,
// and returns the reason when the operand is not valid for it.
func stringMatcher(name, text string) (matcher, string) {
	switch name {
	case "equals-ignore-case":
		return matcher{kind: matchEqualsFold, s: foldString(text)}, ""
	case "wildcard":
		w, reason := parseWildcard(text)
		return matcher{kind: matchWildcard, wc: w}, reason
	default:
		p, reason := parseCIDR(text)
		return matcher{kind: matchCIDR, prefix: p}, reason
	}
}

// ignoreCaseInner validates {"equals-ignore-case": "x"} inside prefix or suffix and
// returns the string node.
func (c *compiler) ignoreCaseInner(v *node, outer string) (*node, *Error) {
	if len(v.members) == 0 {
		if outer == "prefix" {
			return nil, c.err(v.off, reasonPrefixName)
		}
		return nil, c.err(v.off, reasonSuffixName)
	}
	inner := v.members[0]
	if inner.name != "equals-ignore-case" {
		if outer == "prefix" {
			return nil, c.err(inner.off, "Unsupported prefix pattern: "+inner.name)
		}
		return nil, c.err(inner.off, "Unsupported suffix pattern: "+inner.name)
	}
	if inner.val.kind != nodeString {
		return nil, c.err(inner.val.off, reasonEIC)
	}
	if len(v.members) > 1 {
		return nil, c.err(v.members[1].off, reasonOneKey)
	}
	return inner.val, nil
}

// parseCIDR parses a cidr operand with event-ruler's checks and messages.
func parseCIDR(s string) (netip.Prefix, string) {
	if strings.Count(s, "/") != 1 {
		return netip.Prefix{}, reasonCIDRSlash
	}
	addrText, bitsText, _ := strings.Cut(s, "/")
	bits, err := strconv.Atoi(bitsText)
	if err != nil {
		return netip.Prefix{}, reasonCIDRBits
	}
	if bits < 0 {
		return netip.Prefix{}, reasonCIDRNegative
	}
	a, err := netip.ParseAddr(addrText)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, "Nonstandard IP address: " + addrText
	}
	if a.Is4() && bits >= 32 {
		return netip.Prefix{}, reasonCIDRv4
	}
	if a.Is6() && bits >= 128 {
		return netip.Prefix{}, reasonCIDRv6
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, reasonCIDRBits
	}
	return p, ""
}

// ExactStrings reports the strings the field at path must equal for the pattern to
// match. ok is true when every rule (every $or combination) of the pattern tests path
// with exact strings only: no exists, prefix, wildcard, anything-but or other
// operator, no number, boolean, null or IP address. vals is then the union of those
// strings, and an event whose only value at path is a string not among them does not
// match. A caller that holds that value outside the event's JSON (the journal's event
// type, for "detail.eventType") can skip such events without matching them. path is
// dot-joined as in a pattern: "detail.eventType".
func (p *Pattern) ExactStrings(path string) (vals []string, ok bool) {
	for _, r := range p.rules {
		var l *leaf
		for _, x := range r.leaves {
			if x.path == path {
				l = x
				break
			}
		}
		if l == nil || l.exact == nil || l.absentOK {
			return nil, false
		}
		for _, s := range l.exact {
			if !slices.Contains(vals, s) {
				vals = append(vals, s)
			}
		}
	}
	return vals, len(p.rules) > 0
}
