package sigma

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// node is a compiled piece of a detection: a predicate over one event.
type node interface {
	eval(e *field.Event) bool
}

type andNode []node

func (n andNode) eval(e *field.Event) bool {
	for _, x := range n {
		if !x.eval(e) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) eval(e *field.Event) bool {
	for _, x := range n {
		if x.eval(e) {
			return true
		}
	}
	return false
}

type notNode struct{ x node }

func (n notNode) eval(e *field.Event) bool { return !n.x.eval(e) }

type constNode bool

func (n constNode) eval(*field.Event) bool { return bool(n) }

// fieldNode is one "field|modifiers: values" item of a search identifier.
type fieldNode struct {
	name    string     // as written in the rule
	path    field.Path // resolved through the overlay's aliases
	keyword bool       // no field name: every string value of the event
	exists  *bool
	all     bool
	neq     bool
	null    bool        // one of the values is null: absent or JSON null matches
	alts    [][]matcher // per value, its alternatives (expansions)
	ref     *fieldRef
}

type fieldRef struct {
	path  field.Path
	mode  byte // 'e', 'p', 's', 'c'
	cased bool
}

const stackValues = 16

func (f *fieldNode) eval(e *field.Event) bool {
	if f.exists != nil {
		return e.Exists(f.path) == *f.exists
	}
	var r bool
	if f.keyword {
		r = f.matchKeywords(e)
	} else {
		var arr [stackValues]field.Value
		r = f.match(e, e.AppendValues(arr[:0], f.path))
	}
	if f.neq {
		return !r
	}
	return r
}

func (f *fieldNode) match(e *field.Event, vals []field.Value) bool {
	if f.ref != nil {
		return f.matchRef(e, vals)
	}
	if f.null && len(vals) == 0 {
		return true
	}
	if f.all {
		for _, alts := range f.alts {
			if !anyMatch(alts, vals) {
				return false
			}
		}
		return len(f.alts) > 0
	}
	for _, alts := range f.alts {
		if anyMatch(alts, vals) {
			return true
		}
	}
	if f.null {
		for _, v := range vals {
			if v.Kind == field.Null {
				return true
			}
		}
	}
	return false
}

// matchKeywords is match over every string value of the event, without collecting
// them (an event has many).
func (f *fieldNode) matchKeywords(e *field.Event) bool {
	var seen [stackValues]bool
	var hit []bool
	if len(f.alts) <= stackValues {
		hit = seen[:len(f.alts)]
	} else {
		hit = make([]bool, len(f.alts))
	}
	left := len(f.alts)
	found := false
	e.Strings(func(b []byte) bool {
		v := field.Value{Kind: field.String, Text: b}
		for i, alts := range f.alts {
			if hit[i] {
				continue
			}
			for _, m := range alts {
				if m.match(v) {
					if !f.all {
						found = true
						return false
					}
					hit[i] = true
					left--
					break
				}
			}
		}
		return !f.all || left > 0
	})
	if f.all {
		return left == 0 && len(f.alts) > 0
	}
	return found
}

func anyMatch(alts []matcher, vals []field.Value) bool {
	for _, v := range vals {
		for _, m := range alts {
			if m.match(v) {
				return true
			}
		}
	}
	return false
}

func (f *fieldNode) matchRef(e *field.Event, vals []field.Value) bool {
	var arr [stackValues]field.Value
	refs := e.AppendValues(arr[:0], f.ref.path)
	for _, v := range vals {
		if v.Kind == field.Null || v.Kind == field.Object {
			continue
		}
		for _, r := range refs {
			if r.Kind == field.Null || r.Kind == field.Object {
				continue
			}
			g := glob{mode: f.ref.mode, lit: string(r.Text), cased: f.ref.cased}
			if !g.cased {
				g.lit = strings.ToLower(g.lit)
			}
			if g.match(v.Text) {
				return true
			}
		}
	}
	return false
}

// compileCtx carries what compiling one rule's detection needs.
type compileCtx struct {
	ov     *Overlay
	warn   func(line int, msg string)
	fields map[string]bool // field names the rule uses (for prefilters and docs)
}

// lineError is an error at a line of the rule file.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

func errAt(n *yaml.Node, format string, a ...any) error {
	return &lineError{line: n.Line, err: fmt.Errorf(format, a...)}
}

// search compiles a search identifier's value: a map (AND), a list of maps (OR), or a
// list of plain values (keywords, OR).
func (c *compileCtx) search(n *yaml.Node) (node, error) {
	switch n.Kind {
	case yaml.MappingNode:
		return c.mapping(n)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, errAt(n, "empty search identifier")
		}
		if n.Content[0].Kind == yaml.MappingNode {
			var or orNode
			for _, item := range n.Content {
				if item.Kind != yaml.MappingNode {
					return nil, errAt(item, "a list of maps cannot mix in other values")
				}
				x, err := c.mapping(item)
				if err != nil {
					return nil, err
				}
				or = append(or, x)
			}
			return or, nil
		}
		return c.item(n, "", nil, n)
	case yaml.ScalarNode:
		return c.item(n, "", nil, n)
	}
	return nil, errAt(n, "search identifier must be a map or a list")
}

func (c *compileCtx) mapping(n *yaml.Node) (node, error) {
	if len(n.Content) == 0 {
		return nil, errAt(n, "empty search identifier")
	}
	var and andNode
	for k, v := range members(n) {
		parts := strings.Split(k.Value, "|")
		x, err := c.item(v, parts[0], parts[1:], k)
		if err != nil {
			return nil, err
		}
		and = append(and, x)
	}
	if len(and) == 1 {
		return and[0], nil
	}
	return and, nil
}

func scalars(v *yaml.Node) ([]*yaml.Node, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{v}, nil
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, errAt(v, "empty list of values")
		}
		for _, x := range v.Content {
			if x.Kind != yaml.ScalarNode {
				return nil, errAt(x, "a value list may hold only scalars")
			}
			if x.Tag == "!!null" {
				return nil, errAt(x, "null may not be part of a list (Sigma specification)")
			}
		}
		return v.Content, nil
	case yaml.AliasNode:
		return scalars(v.Alias)
	}
	return nil, errAt(v, "field values must be a scalar or a list of scalars")
}

// item compiles "name|mods: v". name "" is a keyword search.
func (c *compileCtx) item(v *yaml.Node, name string, modList []string, at *yaml.Node) (node, error) {
	m, err := parseMods(modList)
	if err != nil {
		return nil, errAt(at, "%s: %v", at.Value, err)
	}
	f := &fieldNode{name: name, all: m.all, neq: m.neq}
	if name == "" {
		if m.kind == "exists" || m.kind == "fieldref" {
			return nil, errAt(at, "modifier %s needs a field name", m.kind)
		}
		f.keyword = true
	} else {
		target := name
		if a, ok := c.ov.Aliases[name]; ok {
			target = a
		}
		p, err := field.ParsePath(target)
		if err != nil {
			return nil, errAt(at, "%v", err)
		}
		f.path = p
		c.fields[name] = true
	}
	vals, err := scalars(v)
	if err != nil {
		return nil, err
	}
	if m.all && len(vals) == 1 {
		c.warn(at.Line, fmt.Sprintf("%s: the all modifier on a single value is not allowed by the specification (read as the value alone)", at.Value))
	}
	switch m.kind {
	case "exists":
		if len(vals) != 1 || vals[0].Tag != "!!bool" {
			return nil, errAt(vals[0], "exists takes true or false")
		}
		b := strings.EqualFold(vals[0].Value, "true")
		f.exists = &b
		return f, nil
	case "fieldref":
		if len(vals) != 1 {
			return nil, errAt(v, "fieldref takes one field name")
		}
		target := vals[0].Value
		if a, ok := c.ov.Aliases[target]; ok {
			target = a
		}
		p, err := field.ParsePath(target)
		if err != nil {
			return nil, errAt(vals[0], "fieldref: %v", err)
		}
		mode := map[string]byte{"": 'e', "startswith": 'p', "endswith": 's', "contains": 'c'}[m.position]
		f.ref = &fieldRef{path: p, mode: mode, cased: m.cased}
		return f, nil
	}
	for _, val := range vals {
		if val.Tag == "!!null" {
			if m.kind != "" || m.position != "" || len(m.transforms) > 0 {
				return nil, errAt(val, "null cannot be used with modifiers")
			}
			f.null = true
			continue
		}
		alts, err := c.value(val, m, f.keyword)
		if err != nil {
			return nil, err
		}
		f.alts = append(f.alts, alts)
	}
	return f, nil
}

// value compiles one scalar value under the modifiers into its alternatives.
func (c *compileCtx) value(val *yaml.Node, m mods, keyword bool) ([]matcher, error) {
	switch m.kind {
	case "re":
		if val.Tag != "!!str" {
			return nil, errAt(val, "re needs a string")
		}
		src := val.Value
		if m.reFlags != "" {
			src = "(?" + m.reFlags + ")" + src
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, errAt(val, "re: not an RE2 regular expression (lookaround and back-references are not supported): %v", err)
		}
		return []matcher{reMatcher{re}}, nil
	case "cidr":
		p, err := netip.ParsePrefix(val.Value)
		if err != nil {
			return nil, errAt(val, "cidr: %v", err)
		}
		return []matcher{cidrMatcher{p.Masked()}}, nil
	case "num", "time":
		if val.Tag != "!!int" && val.Tag != "!!float" {
			return nil, errAt(val, "%s needs a number, got %q", strings.Join(m.list, "|"), val.Value)
		}
		n, err := strconv.ParseFloat(val.Value, 64)
		if err != nil {
			return nil, errAt(val, "%v", err)
		}
		op := m.numOp
		if op == "" {
			op = "eq"
		}
		if m.kind == "time" {
			return []matcher{timeMatcher{unit: m.timeUnit, num: numMatcher{op: op, n: n}}}, nil
		}
		return []matcher{numMatcher{op: op, n: n}}, nil
	}
	var s sstr
	if val.Tag == "!!str" {
		s = parseSigmaString(val.Value)
	} else {
		s = literal(val.Value) // numbers and booleans compare by their text
	}
	alts := []sstr{s}
	for _, t := range m.transforms {
		var err error
		if alts, err = transform(t, alts, c.ov.Placeholders); err != nil {
			return nil, &lineError{line: val.Line, err: err}
		}
	}
	if !slices.Contains(m.transforms, "expand") && val.Tag == "!!str" && placeholderRE.MatchString(val.Value) {
		c.warn(val.Line, fmt.Sprintf("value %q looks like a placeholder but has no expand modifier: matched literally", val.Value))
	}
	pos := m.position
	if keyword && pos == "" {
		pos = "contains"
	}
	out := make([]matcher, 0, len(alts))
	for _, a := range alts {
		switch pos {
		case "contains":
			a = append(append(sstr{{kind: '*'}}, a...), tok{kind: '*'})
		case "startswith":
			a = append(append(sstr{}, a...), tok{kind: '*'})
		case "endswith":
			a = append(sstr{{kind: '*'}}, a...)
		}
		out = append(out, strMatcher{newGlob(a, m.cased)})
	}
	return out, nil
}

var placeholderRE = regexp.MustCompile(`^%[A-Za-z0-9_.-]+%$`)
