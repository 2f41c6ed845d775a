package pattern

import (
	"math"
	"strings"
)

// numericOpName is how event-ruler names an operator in "Value of <op> must be numeric".
func numericOpName(op string) string {
	if op == "=" {
		return "equals"
	}
	return op
}

// numeric compiles the array operand of {"numeric": [...]}.
func (c *compiler) numeric(arr *node) (matcher, *Error) {
	m := matcher{kind: matchNumeric}
	el := arr.elems
	if len(el) == 0 {
		return m, c.err(arr.off, "Invalid member in numeric match: ]")
	}
	if el[0].kind != nodeString {
		return m, c.err(el[0].off, "Invalid member in numeric match: "+tokenText(el[0]))
	}
	op := el[0].text
	switch op {
	case "=", "<", "<=", ">", ">=":
	default:
		return m, c.err(el[0].off, "Unrecognized numeric range operator: "+op)
	}
	if len(el) < 2 || el[1].kind != nodeNumber {
		off := arr.off
		if len(el) >= 2 {
			off = el[1].off
		}
		return m, c.err(off, "Value of "+numericOpName(op)+" must be numeric")
	}
	first, err := c.operand(el[1])
	if err != nil {
		return m, err
	}
	switch op {
	case "=":
		m.lo, m.hi, m.hasLo, m.hasHi, m.loInc, m.hiInc = first, first, true, true, true, true
	case "<", "<=":
		m.hi, m.hasHi, m.hiInc = first, true, op == "<="
	default:
		m.lo, m.hasLo, m.loInc = first, true, op == ">="
	}
	if len(el) == 2 {
		return m, nil
	}
	if op != ">" && op != ">=" {
		return m, c.err(el[2].off, reasonNumericTooMany)
	}
	if el[2].kind != nodeString {
		return m, c.err(el[2].off, "Bad value in numeric range: "+tokenText(el[2]))
	}
	op2 := el[2].text
	if op2 != "<" && op2 != "<=" {
		return m, c.err(el[2].off, "Bad numeric range operator: "+op2)
	}
	if len(el) < 4 || el[3].kind != nodeNumber {
		off := arr.off
		if len(el) >= 4 {
			off = el[3].off
		}
		return m, c.err(off, "Value of "+op2+" must be numeric")
	}
	second, err := c.operand(el[3])
	if err != nil {
		return m, err
	}
	if len(el) > 4 {
		return m, c.err(el[4].off, reasonRangeTooMany)
	}
	if !(first < second) {
		return m, c.err(el[3].off, reasonBottomTop)
	}
	m.hi, m.hasHi, m.hiInc = second, true, op2 == "<="
	return m, nil
}

// operand converts a numeric operand, applying the strict limits when enabled.
func (c *compiler) operand(n *node) (float64, *Error) {
	f, ok := parseNumber(n.text)
	if !ok {
		return 0, c.err(n.off, "Value of numeric operand is out of range: "+n.text)
	}
	if c.cfg.strictNumeric && (math.Abs(f) > strictNumericBound || decimalPlaces(n.text) > strictNumericDecimals) {
		return 0, c.err(n.off, "Numeric operand must be between -5.0E9 and 5.0E9 with at most 6 decimal places: "+n.text)
	}
	return f, nil
}

// decimalPlaces counts the digits after the decimal point of a JSON number once written
// without an exponent, ignoring trailing zeros: 3.018e2 has 1, 1.5e-7 has 8.
func decimalPlaces(text string) int {
	mant, exp := text, 0
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		mant = text[:i]
		e := text[i+1:]
		neg := false
		if e != "" && (e[0] == '+' || e[0] == '-') {
			neg = e[0] == '-'
			e = e[1:]
		}
		for _, d := range e {
			exp = exp*10 + int(d-'0')
			if exp > 1000 {
				exp = 1000
			}
		}
		if neg {
			exp = -exp
		}
	}
	frac := ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		frac = strings.TrimRight(mant[i+1:], "0")
	}
	if d := len(frac) - exp; d > 0 {
		return d
	}
	return 0
}

// anythingBut compiles the operand of {"anything-but": ...} in all its forms.
func (c *compiler) anythingBut(v *node) (matcher, *Error) {
	ab := &anythingBut{}
	m := matcher{kind: matchAnythingBut, ab: ab}
	switch v.kind {
	case nodeString:
		ab.strs = []string{v.text}
	case nodeNumber:
		ab.nums = []matcher{numberMatcher(v.text)}
	case nodeArray:
		hasNum, hasStr := false, false
		for _, e := range v.elems {
			switch e.kind {
			case nodeString:
				hasStr = true
				ab.strs = append(ab.strs, e.text)
			case nodeNumber:
				hasNum = true
				ab.nums = append(ab.nums, numberMatcher(e.text))
			default:
				return m, c.err(e.off, reasonABList)
			}
		}
		if hasNum == hasStr {
			return m, c.err(v.off, reasonABMixed)
		}
	case nodeObject:
		if len(v.members) == 0 {
			return m, c.err(v.off, reasonABName)
		}
		inner := v.members[0]
		if err := c.anythingButInner(ab, inner); err != nil {
			return m, err
		}
		if len(v.members) > 1 {
			return m, c.err(v.members[1].off, reasonOneKey)
		}
	default:
		return m, c.err(v.off, reasonABValue)
	}
	return m, nil
}

// anythingButInner compiles the prefix, suffix, equals-ignore-case and wildcard forms.
func (c *compiler) anythingButInner(ab *anythingBut, inner member) *Error {
	v := inner.val
	var items []*node
	switch v.kind {
	case nodeArray:
		items = v.elems
	case nodeObject:
		if inner.name == "prefix" || inner.name == "suffix" {
			return c.err(v.off, reasonABValue)
		}
		items = []*node{v}
	default:
		items = []*node{v}
	}
	switch inner.name {
	case "prefix", "suffix":
		for _, e := range items {
			if e.kind != nodeString {
				return c.err(e.off, reasonABPrefixString)
			}
			if e.text == "" {
				return c.err(e.off, reasonABNullPrefix)
			}
			if inner.name == "prefix" {
				ab.prefixes = append(ab.prefixes, e.text)
			} else {
				ab.suffixes = append(ab.suffixes, e.text)
			}
		}
	case "equals-ignore-case":
		for _, e := range items {
			if e.kind != nodeString {
				return c.err(e.off, reasonABEIC)
			}
			ab.folds = append(ab.folds, foldString(e.text))
		}
	case "wildcard":
		for _, e := range items {
			if e.kind != nodeString {
				return c.err(e.off, reasonWildcardString)
			}
			w, reason := parseWildcard(e.text)
			if reason != "" {
				return c.err(e.off, reason)
			}
			ab.wcs = append(ab.wcs, w)
		}
	default:
		return c.err(inner.off, "Unsupported anything-but pattern: "+inner.name)
	}
	if len(items) == 0 {
		return c.err(v.off, reasonEmptyArray)
	}
	return nil
}
