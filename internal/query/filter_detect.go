package query

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// The detection dialect of the filter language: the System Log filter as Okta's
// detection catalog (okta/customer-detections) writes it, evaluated by detection
// rules against a field.Event. It is an option of the same parser; the query API
// (ParseFilter, Filter.Match) is unchanged by it. Differences from the query
// dialect:
//
//   - "path in [v1, v2, ...]": true when the path has a value equal to one of the
//     listed values.
//   - Paths are resolved by package field: each segment exactly first, then
//     ASCII-case-insensitively; arrays fan out; a numeric segment on an array is
//     an index (target.0.type). The top-level attribute is still checked against
//     the LogEvent's attributes (case-insensitively), after aliases.
//   - Scalars are coerced: a value equals a literal when their texts are equal
//     ("true" equals JSON true, "394089" equals JSON 394089), or when both are
//     numbers (1.0 equals 1); true/false also equal the strings "TRUE"/"False".
//   - co, sw, ew apply to the text of strings, numbers, booleans and to the
//     compact JSON text of objects (DETECTIONS.md §5.2); eq never matches an
//     object. Values are compared case-sensitively, as in the query dialect.
//   - published and changeDetails paths are accepted (the query API refuses them
//     because it cannot serve them).

// DetectionOptions configures the detection dialect.
type DetectionOptions struct {
	// Aliases maps a field name as written in the expression to the LogEvent path
	// to resolve instead (for example result: outcome.result).
	Aliases map[string]string
}

// DetectionFilter is a filter expression parsed in the detection dialect.
// It is immutable and safe for concurrent use; the field.Event is not.
type DetectionFilter struct {
	src     string
	root    *node
	aliased []string
}

// ParseDetectionFilter parses src in the detection dialect. Errors are
// *FilterError with the query dialect's messages where they apply.
func ParseDetectionFilter(src string, opts DetectionOptions) (*DetectionFilter, error) {
	p := &parser{src: src, det: &opts}
	p.next()
	if p.tok.kind == tokEOF {
		return nil, p.errorf(0, "empty expression")
	}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf(p.tok.pos, "Unexpected token '%s' at position %d. Expected: and,or,)", p.tok.text, p.tok.pos)
	}
	return &DetectionFilter{src: src, root: root, aliased: p.aliased}, nil
}

// String returns the expression as given.
func (f *DetectionFilter) String() string { return f.src }

// Aliased lists the aliases the expression used, as "name → path".
func (f *DetectionFilter) Aliased() []string { return f.aliased }

// Match reports whether the event satisfies the expression. e must have been
// Reset with the event (the LogEvent, not an envelope).
func (f *DetectionFilter) Match(e *field.Event) bool { return f.root.evalEvent(e) }

// Fields returns the LogEvent paths the expression reads (after aliases), sorted
// and without duplicates.
func (f *DetectionFilter) Fields() []string {
	var out []string
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == nodeCmp {
			out = append(out, n.fpath.String())
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(f.root)
	slices.Sort(out)
	return slices.Compact(out)
}

// EventTypes returns a necessary condition of the expression: the eventType
// values (lower-cased, sorted) one of which an event must have to match, or nil
// when the expression has no such condition (for example eventType sw "...").
func (f *DetectionFilter) EventTypes() []string {
	set := necessaryTypes(f.root)
	if set == nil {
		return nil
	}
	for i, v := range set {
		set[i] = strings.ToLower(v)
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// necessaryTypes returns the eventType values n requires, or nil.
func necessaryTypes(n *node) []string {
	switch n.kind {
	case nodeCmp:
		if !strings.EqualFold(n.fpath.String(), "eventType") {
			return nil
		}
		switch {
		case n.op == "eq" && n.val.kind == kindString:
			return []string{n.val.s}
		case n.op == "in":
			var out []string
			for _, v := range n.vals {
				if v.kind != kindString {
					return nil
				}
				out = append(out, v.s)
			}
			return out
		}
		return nil
	case nodeAnd:
		var best []string
		for _, k := range n.kids {
			if s := necessaryTypes(k); s != nil && (best == nil || len(s) < len(best)) {
				best = s
			}
		}
		return best
	case nodeOr:
		var all []string
		for _, k := range n.kids {
			s := necessaryTypes(k)
			if s == nil {
				return nil
			}
			all = append(all, s...)
		}
		return all
	}
	return nil
}

// detPath reads the path of a comparison in the detection dialect: aliases
// applied, then a field.Path whose top-level attribute is a LogEvent's
// (any case) or published.
func (p *parser) detPath() (*node, error) {
	pathTok := p.tok
	name := pathTok.text
	if a, ok := p.det.Aliases[name]; ok {
		p.aliased = append(p.aliased, name+" → "+a)
		name = a
	}
	fp, err := field.ParsePath(name)
	if err != nil {
		return nil, p.errorf(pathTok.pos, "field is not valid: %s at position %d", pathTok.text, pathTok.pos)
	}
	top, _, _ := strings.Cut(name, ".")
	known := false
	for k := range knownFields {
		if strings.EqualFold(k, top) {
			known = true
			break
		}
	}
	if !known && !strings.EqualFold(top, "published") {
		return nil, p.errorf(pathTok.pos, "field is not valid: %s at position %d", top, pathTok.pos)
	}
	return &node{kind: nodeCmp, path: strings.Split(name, "."), pathStr: name, fpath: fp}, nil
}

// inList reads the values of "path in [v1, v2, ...]" into n.vals.
func (p *parser) inList(n *node) (*node, error) {
	if p.tok.kind != tokBracket || p.tok.text != "[" {
		return nil, p.unexpected("[")
	}
	p.next()
	for {
		v, err := p.detValue()
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, v)
		p.next()
		if p.tok.kind == tokBracket && p.tok.text == "]" {
			p.next()
			return n, nil
		}
		if p.tok.kind != tokBad || p.tok.text != "," {
			return nil, p.unexpected(", or ]")
		}
		p.next()
	}
}

// detValue is value with the texts the detection dialect compares: s holds the
// literal's text for every kind, num its number when the text is one.
func (p *parser) detValue() (literal, error) {
	v, err := p.value()
	if err != nil {
		return v, err
	}
	switch v.kind {
	case kindNumber:
		v.s = p.tok.text
		v.numOK = true
	case kindBool:
		v.s = strconv.FormatBool(v.b)
	case kindString:
		if looksNumeric([]byte(v.s)) {
			if f, err := strconv.ParseFloat(v.s, 64); err == nil {
				v.num, v.numOK = f, true
			}
		}
	}
	v.bs = []byte(v.s)
	return v, nil
}

func looksNumeric(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	c := b[0]
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.'
}

func parseNumber(b []byte) (float64, bool) {
	if !looksNumeric(b) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// evalEvent evaluates n against a parsed event (detection dialect).
func (n *node) evalEvent(e *field.Event) bool { return evalTree(n, e, (*node).cmpEvent) }

// cmpEvent evaluates the comparison n against a parsed event.
func (n *node) cmpEvent(e *field.Event) bool {
	var buf [8]field.Value
	vals := e.AppendValues(buf[:0], n.fpath)
	switch n.op {
	case "pr":
		for _, v := range vals {
			if detPresent(v) {
				return true
			}
		}
		return false
	case "ne":
		for _, v := range vals {
			if detEqual(&n.val, v) {
				return false
			}
		}
		return true
	case "eq":
		if n.val.kind == kindNull && len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if detEqual(&n.val, v) {
				return true
			}
		}
		return false
	case "in":
		for _, v := range vals {
			for i := range n.vals {
				if detEqual(&n.vals[i], v) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range vals {
		if n.detTest(v) {
			return true
		}
	}
	return false
}

// detPresent is pr: a value that is not null, "", {} or [].
func detPresent(v field.Value) bool {
	switch v.Kind {
	case field.Null:
		return false
	case field.String:
		return len(v.Text) > 0
	case field.Object:
		return len(v.Text) > 2
	}
	return true
}

// detEqual compares a value with a literal with scalar coercion.
func detEqual(l *literal, v field.Value) bool {
	if l.kind == kindNull {
		return v.Kind == field.Null
	}
	if v.Kind == field.Object || v.Kind == field.Null {
		return false
	}
	if bytes.Equal(v.Text, l.bs) {
		return true
	}
	if l.numOK && (v.Kind == field.Number || v.Kind == field.String) {
		f, ok := parseNumber(v.Text)
		return ok && f == l.num
	}
	if l.kind == kindBool || v.Kind == field.Bool {
		return bytes.EqualFold(v.Text, l.bs)
	}
	return false
}

// detTest applies co, sw, ew, gt, ge, lt or le to one value.
func (n *node) detTest(v field.Value) bool {
	if v.Kind == field.Null {
		return false
	}
	switch n.op {
	case "co":
		return bytes.Contains(v.Text, n.val.bs)
	case "sw":
		return bytes.HasPrefix(v.Text, n.val.bs)
	case "ew":
		return bytes.HasSuffix(v.Text, n.val.bs)
	}
	if v.Kind == field.Object {
		return false
	}
	var c int
	switch {
	case n.val.kind == kindNumber:
		f, ok := parseNumber(v.Text)
		if !ok {
			return false
		}
		c = cmp.Compare(f, n.val.num)
	case n.val.isTime:
		if t, ok := parseTime(string(v.Text)); ok {
			c = t.Compare(n.val.t)
			break
		}
		c = bytes.Compare(v.Text, n.val.bs)
	default:
		c = bytes.Compare(v.Text, n.val.bs)
	}
	return ordered(n.op, c)
}
