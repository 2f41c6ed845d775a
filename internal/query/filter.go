package query

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/jsonlex"
)

// The filter language of the System Log API (OKTA.md §2.5): a SCIM-style
// expression.
//
//	filter   = orExpr
//	orExpr   = andExpr *( "or" andExpr )
//	andExpr  = factor  *( "and" factor )
//	factor   = "not" factor / "(" filter ")" / attrExpr
//	attrExpr = path "pr" / path op value
//
// Attribute paths are case-sensitive; operators and the words and, or, not
// are not. Values are JSON strings, numbers, true, false or null.

// Error codes of filter errors (the API's Okta codes).
const (
	codeInvalidFilter = "E0000053"
	codeUnsupportedOp = "E0000031"
)

// operatorList is what error messages say is expected.
const operatorList = "eq,ne,co,sw,ew,pr,gt,ge,lt,le"

// FilterError is a filter that does not parse or asks for something
// unsupported. Code is the Okta error code (E0000053 or E0000031), Pos the
// 0-based character offset of the problem in the filter.
type FilterError struct {
	Code   string
	Filter string
	Pos    int
	Reason string
}

func (e *FilterError) Error() string {
	if e.Code == codeUnsupportedOp {
		return e.Reason
	}
	return fmt.Sprintf("Invalid filter '%s': %s", e.Filter, e.Reason)
}

// Top-level LogEvent attributes a filter may name (OKTA.md §2.1). Paths
// below them are not checked: detailEntry, debugData and transaction.detail
// are free-form, and producers add members over time.
var knownFields = map[string]bool{
	"uuid": true, "published": true, "eventType": true, "version": true, "severity": true,
	"legacyEventType": true, "displayMessage": true, "actor": true, "client": true, "device": true,
	"outcome": true, "target": true, "transaction": true, "debugContext": true,
	"authenticationContext": true, "securityContext": true, "request": true,
}

// coUnsupported are the fields Okta refuses the co operator on.
var coUnsupported = map[string]bool{
	"debugContext.debugData.url":        true,
	"debugContext.debugData.requestUri": true,
}

type nodeKind uint8

const (
	nodeAnd nodeKind = iota
	nodeOr
	nodeNot
	nodeCmp
)

// literal is a comparison value.
type literal struct {
	kind   valueKind // kindString, kindNumber, kindBool or kindNull
	s      string
	num    float64
	b      bool
	t      time.Time
	isTime bool
	// Detection dialect only: s is the literal's text for every kind, bs the same
	// as bytes, num its number when numOK.
	numOK bool
	bs    []byte
}

// node is one node of a parsed filter.
type node struct {
	kind nodeKind
	kids []*node
	// For nodeCmp:
	path    []string
	pathStr string
	op      string
	val     literal
	// Detection dialect only: the compiled path and, for in, the listed values.
	fpath field.Path
	vals  []literal
}

// Filter is a parsed filter expression. The zero value (and nil) matches
// every event.
type Filter struct {
	src  string
	root *node
}

// String returns the filter as given.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	return f.src
}

// Match reports whether the event JSON satisfies the filter.
func (f *Filter) Match(event []byte) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.eval(event)
}

// ParseFilter parses a filter expression. An empty or all-space filter
// matches everything. Errors are *FilterError.
func ParseFilter(src string) (*Filter, error) {
	if strings.TrimSpace(src) == "" {
		return &Filter{src: src}, nil
	}
	p := &parser{src: src}
	p.next()
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf(p.tok.pos, "Unexpected token '%s' at position %d. Expected: and,or,)", p.tok.text, p.tok.pos)
	}
	return &Filter{src: src, root: root}, nil
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokBracket
	tokBad
)

type token struct {
	kind tokKind
	text string
	pos  int
}

type parser struct {
	src string
	i   int
	tok token
	// det is set when parsing the detection dialect (filter_detect.go).
	det *DetectionOptions
	// aliased records the aliases applied, as "name → path".
	aliased []string
}

func (p *parser) errorf(pos int, format string, args ...any) *FilterError {
	return &FilterError{Code: codeInvalidFilter, Filter: p.src, Pos: pos, Reason: fmt.Sprintf(format, args...)}
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '$' || c == '-' || c == '+'
}

// next reads the next token into p.tok.
func (p *parser) next() {
	for p.i < len(p.src) && jsonlex.IsSpace(p.src[p.i]) {
		p.i++
	}
	start := p.i
	if p.i >= len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return
	}
	c := p.src[p.i]
	switch {
	case c == '(':
		p.i++
		p.tok = token{kind: tokLParen, text: "(", pos: start}
	case c == ')':
		p.i++
		p.tok = token{kind: tokRParen, text: ")", pos: start}
	case c == '[' || c == ']':
		p.i++
		p.tok = token{kind: tokBracket, text: string(c), pos: start}
	case c == '"':
		j := p.i + 1
		for j < len(p.src) && p.src[j] != '"' {
			if p.src[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(p.src) {
			p.i = len(p.src)
			p.tok = token{kind: tokBad, text: "unterminated string", pos: start}
			return
		}
		p.i = j + 1
		p.tok = token{kind: tokString, text: p.src[start:p.i], pos: start}
	case isWordByte(c):
		j := p.i
		for j < len(p.src) && isWordByte(p.src[j]) {
			j++
		}
		p.i = j
		text := p.src[start:j]
		kind := tokWord
		if c == '-' || c >= '0' && c <= '9' {
			kind = tokNumber
		}
		p.tok = token{kind: kind, text: text, pos: start}
	default:
		p.i++
		p.tok = token{kind: tokBad, text: string(c), pos: start}
	}
}

func (p *parser) isKeyword(w string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(p.tok.text, w)
}

func (p *parser) or() (*node, error) { return p.chain("or", nodeOr, p.and) }

func (p *parser) and() (*node, error) { return p.chain("and", nodeAnd, p.factor) }

// chain parses operands joined by the keyword word into one node of kind, or
// returns the single operand as it is.
func (p *parser) chain(word string, kind nodeKind, operand func() (*node, error)) (*node, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	kids := []*node{left}
	for p.isKeyword(word) {
		p.next()
		right, err := operand()
		if err != nil {
			return nil, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return &node{kind: kind, kids: kids}, nil
}

func (p *parser) factor() (*node, error) {
	switch {
	case p.isKeyword("not"):
		p.next()
		kid, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeNot, kids: []*node{kid}}, nil
	case p.tok.kind == tokLParen:
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.unexpected("')'")
		}
		p.next()
		return n, nil
	case p.tok.kind == tokWord:
		return p.attrExpr()
	default:
		return nil, p.unexpected("an attribute path, not or (")
	}
}

func (p *parser) unexpected(expected string) *FilterError {
	switch p.tok.kind {
	case tokEOF:
		return p.errorf(p.tok.pos, "Unexpected end of filter at position %d. Expected: %s", p.tok.pos, expected)
	case tokBracket:
		return p.errorf(p.tok.pos, "Complex attribute filters ('[ ]') are not supported at position %d", p.tok.pos)
	case tokBad:
		return p.errorf(p.tok.pos, "Invalid character %s at position %d", p.tok.text, p.tok.pos)
	default:
		return p.errorf(p.tok.pos, "Unexpected token '%s' at position %d. Expected: %s", p.tok.text, p.tok.pos, expected)
	}
}

// attrExpr parses a comparison. The dialects differ in how a path is
// read (queryPath, detPath), in the detection dialect's in operator and
// in its literals (detValue); the rest is one grammar.
func (p *parser) attrExpr() (*node, error) {
	ops := operatorList
	path := p.queryPath
	if p.det != nil {
		ops += ",in"
		path = p.detPath
	}
	n, err := path()
	if err != nil {
		return nil, err
	}
	p.next()
	if p.tok.kind == tokBracket && p.det == nil {
		return nil, p.unexpected("")
	}
	if p.tok.kind != tokWord {
		return nil, p.unexpected(ops)
	}
	opTok := p.tok
	n.op = strings.ToLower(opTok.text)
	switch n.op {
	case "eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le":
	case "in":
		if p.det == nil {
			return nil, p.errorf(opTok.pos, "Unrecognized attribute operator '%s' at position %d. Expected: %s", opTok.text, opTok.pos, ops)
		}
	default:
		return nil, p.errorf(opTok.pos, "Unrecognized attribute operator '%s' at position %d. Expected: %s", opTok.text, opTok.pos, ops)
	}
	if p.det == nil && n.op == "co" && coUnsupported[n.pathStr] {
		return nil, &FilterError{Code: codeUnsupportedOp, Filter: p.src, Pos: opTok.pos,
			Reason: fmt.Sprintf("The supplied combination of operator and field is not currently supported. Operator: co, Field: %s", n.pathStr)}
	}
	p.next()
	switch n.op {
	case "pr":
		return n, nil
	case "in":
		return p.inList(n)
	}
	val, err := p.literal()
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "co", "sw", "ew":
		if val.kind != kindString {
			return nil, p.errorf(p.tok.pos, "Operator '%s' needs a string value at position %d", n.op, p.tok.pos)
		}
	case "gt", "ge", "lt", "le":
		if val.kind != kindString && val.kind != kindNumber {
			return nil, p.errorf(p.tok.pos, "Operator '%s' needs a string, date or number value at position %d", n.op, p.tok.pos)
		}
	}
	n.val = val
	p.next()
	return n, nil
}

// queryPath reads the path of a comparison in the query dialect: a known
// top-level attribute, no published (the since and until parameters say
// that) and no changeDetails members.
func (p *parser) queryPath() (*node, error) {
	pathTok := p.tok
	path := strings.Split(pathTok.text, ".")
	for _, part := range path {
		if part == "" {
			return nil, p.errorf(pathTok.pos, "field is not valid: %s at position %d", pathTok.text, pathTok.pos)
		}
	}
	switch {
	case path[0] == "published":
		return nil, p.errorf(pathTok.pos, "field is not valid: published at position %d (use the since and until parameters)", pathTok.pos)
	case !knownFields[path[0]]:
		return nil, p.errorf(pathTok.pos, "field is not valid: %s at position %d", path[0], pathTok.pos)
	case len(path) >= 3 && path[len(path)-2] == "changeDetails":
		return nil, p.errorf(pathTok.pos, "field is not valid: %s at position %d", pathTok.text, pathTok.pos)
	}
	return &node{kind: nodeCmp, path: path, pathStr: pathTok.text}, nil
}

// literal reads the comparison value in the parser's dialect.
func (p *parser) literal() (literal, error) {
	if p.det != nil {
		return p.detValue()
	}
	return p.value()
}

func (p *parser) value() (literal, error) {
	t := p.tok
	switch t.kind {
	case tokString:
		s, err := strconv.Unquote(t.text)
		if err != nil {
			// JSON escapes that Go does not know (\/) and vice versa.
			s = unquote([]byte(t.text))
		}
		lit := literal{kind: kindString, s: s}
		if tm, ok := parseTime(s); ok {
			lit.t, lit.isTime = tm, true
		}
		return lit, nil
	case tokNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return literal{}, p.errorf(t.pos, "Invalid value '%s' at position %d", t.text, t.pos)
		}
		return literal{kind: kindNumber, num: f}, nil
	case tokWord:
		switch strings.ToLower(t.text) {
		case "true":
			return literal{kind: kindBool, b: true}, nil
		case "false":
			return literal{kind: kindBool}, nil
		case "null":
			return literal{kind: kindNull}, nil
		}
		return literal{}, p.errorf(t.pos, "Invalid value '%s' at position %d. Expected: a quoted string, a number, true, false or null", t.text, t.pos)
	case tokBad:
		if t.text == "unterminated string" {
			return literal{}, p.errorf(t.pos, "Unterminated string at position %d", t.pos)
		}
	}
	return literal{}, p.unexpected("a value")
}

// parseTime reads the date-time forms a filter or parameter may use.
func parseTime(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// eval evaluates n against the event JSON.
func (n *node) eval(ev []byte) bool { return evalTree(n, ev, (*node).evalJSON) }

// evalTree evaluates the and, or and not nodes of n, and its comparisons
// with leaf against x (the event as the dialect reads it).
func evalTree[T any](n *node, x T, leaf func(*node, T) bool) bool {
	switch n.kind {
	case nodeAnd:
		for _, k := range n.kids {
			if !evalTree(k, x, leaf) {
				return false
			}
		}
		return true
	case nodeOr:
		for _, k := range n.kids {
			if evalTree(k, x, leaf) {
				return true
			}
		}
		return false
	case nodeNot:
		return !evalTree(n.kids[0], x, leaf)
	default:
		return leaf(n, x)
	}
}

// evalJSON evaluates the comparison n against the event JSON.
func (n *node) evalJSON(ev []byte) bool {
	return n.matchValues(func(fn func(rawValue)) { lookup(ev, n.path, fn) })
}

// matchValues applies the comparison to the values visit enumerates (all
// values at the path; none when the attribute is absent). A comparison is
// true when any value satisfies it; ne is true when no value equals the
// operand, so an absent attribute is "not equal".
func (n *node) matchValues(visit func(func(rawValue))) bool {
	switch n.op {
	case "pr":
		found := false
		visit(func(v rawValue) { found = found || present(v) })
		return found
	case "ne":
		eq := false
		visit(func(v rawValue) { eq = eq || n.equal(v) })
		return !eq
	case "eq":
		if n.val.kind == kindNull {
			any, null := false, false
			visit(func(v rawValue) {
				any = true
				null = null || v.kind == kindNull
			})
			return !any || null
		}
		found := false
		visit(func(v rawValue) { found = found || n.equal(v) })
		return found
	default:
		found := false
		visit(func(v rawValue) { found = found || n.test(v) })
		return found
	}
}

// present is pr: a value that is not null, "", {} or [].
func present(v rawValue) bool {
	switch v.kind {
	case kindNull:
		return false
	case kindString:
		return len(v.raw) > 2 || v.decoded && v.str != ""
	case kindObject, kindArray:
		return jsonlex.SkipSpace(v.raw, 1) < len(v.raw)-1
	}
	return true
}

func (n *node) equal(v rawValue) bool {
	switch n.val.kind {
	case kindString:
		return v.kind == kindString && v.text() == n.val.s
	case kindNumber:
		if v.kind != kindNumber {
			return false
		}
		f, err := strconv.ParseFloat(string(v.raw), 64)
		return err == nil && f == n.val.num
	case kindBool:
		return v.kind == kindBool && (v.raw[0] == 't') == n.val.b
	default:
		return v.kind == kindNull
	}
}

// test applies co, sw, ew, gt, ge, lt or le to one value.
func (n *node) test(v rawValue) bool {
	switch n.op {
	case "co", "sw", "ew":
		if v.kind != kindString {
			return false
		}
		s := v.text()
		switch n.op {
		case "co":
			return strings.Contains(s, n.val.s)
		case "sw":
			return strings.HasPrefix(s, n.val.s)
		default:
			return strings.HasSuffix(s, n.val.s)
		}
	}
	var c int
	switch {
	case n.val.kind == kindNumber && v.kind == kindNumber:
		f, err := strconv.ParseFloat(string(v.raw), 64)
		if err != nil {
			return false
		}
		c = cmp.Compare(f, n.val.num)
	case n.val.kind == kindString && v.kind == kindString:
		s := v.text()
		if n.val.isTime {
			if t, ok := parseTime(s); ok {
				c = t.Compare(n.val.t)
				break
			}
		}
		c = strings.Compare(s, n.val.s)
	default:
		return false
	}
	return ordered(n.op, c)
}

// ordered reports whether a comparison result c (of the value with the
// operand) satisfies op: gt, ge, lt or le.
func ordered(op string, c int) bool {
	switch op {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	default:
		return c <= 0
	}
}
