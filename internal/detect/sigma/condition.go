package sigma

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// errAggregation is the reason given for Sigma's obsolete aggregation syntax.
var errAggregation = errors.New("aggregation in a condition is obsolete (Sigma v2): write a correlation rule")

// expr is a parsed condition.
type expr interface{ String() string }

type (
	identExpr struct{ name string }
	notExpr   struct{ x expr }
	andExpr   struct{ xs []expr }
	orExpr    struct{ xs []expr }
	// ofExpr is "1 of pattern", "all of pattern", "1 of them", "all of them".
	ofExpr struct {
		all     bool
		pattern string // "them" for them
	}
)

func (e identExpr) String() string { return e.name }
func (e notExpr) String() string   { return "not " + e.x.String() }
func (e andExpr) String() string   { return join(e.xs, " and ") }
func (e orExpr) String() string    { return join(e.xs, " or ") }
func (e ofExpr) String() string {
	if e.all {
		return "all of " + e.pattern
	}
	return "1 of " + e.pattern
}

func join(xs []expr, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return "(" + strings.Join(s, sep) + ")"
}

type condToken struct {
	text string
	pos  int
}

func lexCondition(s string) ([]condToken, error) {
	var out []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, condToken{string(c), i})
			i++
		case c == '|':
			return nil, errAggregation
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			out = append(out, condToken{s[i:j], i})
			i = j
		}
	}
	return out, nil
}

type condParser struct {
	toks []condToken
	i    int
	src  string
}

// parseCondition parses one condition string: or < and < not < x of < ( ).
func parseCondition(s string) (expr, error) {
	toks, err := lexCondition(s)
	if err != nil {
		return nil, err
	}
	for _, t := range toks {
		switch l := strings.ToLower(t.text); {
		case l == "near" || strings.HasPrefix(l, "count(") || l == "by" || strings.ContainsAny(l, "<>=") && !strings.ContainsAny(l, "*"):
			return nil, errAggregation
		}
	}
	p := &condParser{toks: toks, src: s}
	if len(toks) == 0 {
		return nil, errors.New("empty condition")
	}
	x, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("condition %q: unexpected %q at offset %d", s, p.toks[p.i].text, p.toks[p.i].pos)
	}
	return x, nil
}

const maxConditionDepth = 100

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return strings.ToLower(p.toks[p.i].text)
	}
	return ""
}

func (p *condParser) errf(format string, a ...any) error {
	pos := len(p.src)
	if p.i < len(p.toks) {
		pos = p.toks[p.i].pos
	}
	return fmt.Errorf("condition %q at offset %d: %s", p.src, pos, fmt.Sprintf(format, a...))
}

func (p *condParser) or(depth int) (expr, error) {
	return p.chain("or", depth, p.and, func(xs []expr) expr { return orExpr{xs} })
}

func (p *condParser) and(depth int) (expr, error) {
	return p.chain("and", depth, p.not, func(xs []expr) expr { return andExpr{xs} })
}

// chain parses operands joined by the keyword word into join(operands),
// or returns the single operand as it is.
func (p *condParser) chain(word string, depth int, operand func(int) (expr, error), join func([]expr) expr) (expr, error) {
	x, err := operand(depth)
	if err != nil {
		return nil, err
	}
	xs := []expr{x}
	for p.peek() == word {
		p.i++
		y, err := operand(depth)
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return join(xs), nil
}

func (p *condParser) not(depth int) (expr, error) {
	if depth > maxConditionDepth {
		return nil, p.errf("nested deeper than %d", maxConditionDepth)
	}
	if p.peek() == "not" {
		p.i++
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return notExpr{x}, nil
	}
	return p.primary(depth)
}

func (p *condParser) primary(depth int) (expr, error) {
	switch t := p.peek(); t {
	case "":
		return nil, p.errf("unexpected end")
	case "(":
		p.i++
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, p.errf("missing )")
		}
		p.i++
		return x, nil
	case ")", "and", "or", "of", "them":
		return nil, p.errf("unexpected %q", t)
	case "1", "all", "any":
		if p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].text, "of") {
			p.i += 2
			target := p.peek()
			if target == "" || target == "(" || target == ")" || target == "and" || target == "or" || target == "not" {
				return nil, p.errf("%s of needs an identifier pattern or them", t)
			}
			pat := p.toks[p.i].text
			if target == "them" {
				pat = "them"
			}
			p.i++
			return ofExpr{all: t == "all", pattern: pat}, nil
		}
	default:
		if len(t) > 0 && t[0] >= '0' && t[0] <= '9' && p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1].text, "of") {
			return nil, p.errf("only \"1 of\" and \"all of\" are Sigma quantifiers, not %q", t+" of")
		}
	}
	name := p.toks[p.i].text
	p.i++
	return identExpr{name}, nil
}

// ofNames returns the search identifiers an "x of" pattern names, in sorted order;
// "them" is every identifier not starting with _.
func ofNames(pattern string, idents []string) ([]string, error) {
	var out []string
	for _, n := range idents {
		if pattern == "them" {
			if !strings.HasPrefix(n, "_") {
				out = append(out, n)
			}
			continue
		}
		ok, err := path.Match(pattern, n)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pattern, err)
		}
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%q names no search identifier", pattern)
	}
	return out, nil
}
