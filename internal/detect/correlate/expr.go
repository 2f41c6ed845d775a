package correlate

import (
	"fmt"
	"slices"
	"strings"
)

// expr is a compiled extended temporal condition (pySigma): a boolean expression over
// the referenced rules, true for a rule when it matched in the window.
type expr struct {
	op   byte // 'r' rule, '!' not, '&' and, '|' or
	ref  int
	l, r *expr
}

func (x *expr) eval(seen []bool) bool {
	switch x.op {
	case 'r':
		return seen[x.ref]
	case '!':
		return !x.l.eval(seen)
	case '&':
		return x.l.eval(seen) && x.r.eval(seen)
	default:
		return x.l.eval(seen) || x.r.eval(seen)
	}
}

// parseExpr compiles s; identifiers are entries of ids or of names (same order).
// Precedence: or < and < not < parentheses; keywords are case-insensitive.
func parseExpr(s string, ids, names []string) (*expr, error) {
	p := exprParser{ids: ids, names: names}
	for f := range strings.FieldsSeq(strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s)) {
		p.toks = append(p.toks, f)
	}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("expression is empty")
	}
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("expression %q: unexpected %q", s, p.toks[p.i])
	}
	return x, nil
}

type exprParser struct {
	toks       []string
	i          int
	ids, names []string
}

func (p *exprParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *exprParser) or() (*expr, error) { return p.chain("or", '|', p.and) }

func (p *exprParser) and() (*expr, error) { return p.chain("and", '&', p.not) }

// chain parses operands joined by the keyword word into a left-leaning
// tree of op nodes.
func (p *exprParser) chain(word string, op byte, operand func() (*expr, error)) (*expr, error) {
	l, err := operand()
	for err == nil && strings.EqualFold(p.peek(), word) {
		p.i++
		var r *expr
		if r, err = operand(); err == nil {
			l = &expr{op: op, l: l, r: r}
		}
	}
	return l, err
}

func (p *exprParser) not() (*expr, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.i++
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &expr{op: '!', l: x}, nil
	}
	return p.atom()
}

func (p *exprParser) atom() (*expr, error) {
	t := p.peek()
	p.i++
	switch {
	case t == "":
		return nil, fmt.Errorf("expression ends early")
	case t == "(":
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("expression: missing )")
		}
		p.i++
		return x, nil
	case t == ")", strings.EqualFold(t, "and"), strings.EqualFold(t, "or"):
		return nil, fmt.Errorf("expression: unexpected %q", t)
	}
	if i := slices.Index(p.ids, t); i >= 0 {
		return &expr{op: 'r', ref: i}, nil
	}
	if i := slices.Index(p.names, t); i >= 0 {
		return &expr{op: 'r', ref: i}, nil
	}
	return nil, fmt.Errorf("expression: %q is not a referenced rule", t)
}
