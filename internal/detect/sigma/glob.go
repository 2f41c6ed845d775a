package sigma

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// tok is one piece of a Sigma string: a literal, * (any run) or ? (one character).
type tok struct {
	kind byte // 'l', '*', '?'
	lit  string
}

// sstr is a Sigma string value after escape processing.
type sstr []tok

// parseSigmaString splits a YAML string value into literals and wildcards. A
// backslash escapes *, ? and itself; before any other character it is literal, as
// the specification's escape table and pySigma have it.
func parseSigmaString(s string) sstr {
	var out sstr
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, tok{kind: 'l', lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			out = append(out, tok{kind: c})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return out
}

// literal returns a string with no wildcards as one literal token.
func literal(s string) sstr {
	if s == "" {
		return nil
	}
	return sstr{{kind: 'l', lit: s}}
}

func (s sstr) hasWildcard() bool {
	for _, t := range s {
		if t.kind != 'l' {
			return true
		}
	}
	return false
}

// plain returns the text of a string without wildcards.
func (s sstr) plain() string {
	var b strings.Builder
	for _, t := range s {
		b.WriteString(t.lit)
	}
	return b.String()
}

func (s sstr) String() string {
	var b strings.Builder
	for _, t := range s {
		switch t.kind {
		case 'l':
			for i := 0; i < len(t.lit); i++ {
				if c := t.lit[i]; c == '*' || c == '?' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(t.lit[i])
			}
		default:
			b.WriteByte(t.kind)
		}
	}
	return b.String()
}

// norm merges adjacent literals and collapses runs of *.
func (s sstr) norm() sstr {
	var out sstr
	for _, t := range s {
		if n := len(out); n > 0 {
			if t.kind == 'l' && out[n-1].kind == 'l' {
				out[n-1].lit += t.lit
				continue
			}
			if t.kind == '*' && out[n-1].kind == '*' {
				continue
			}
		}
		if t.kind == 'l' && t.lit == "" {
			continue
		}
		out = append(out, t)
	}
	return out
}

// glob matches text against a Sigma string, case-insensitively unless cased.
type glob struct {
	mode  byte // 'e' exact, 'p' prefix, 's' suffix, 'c' contains, 'a' anything, 'g' general
	lit   string
	toks  sstr
	cased bool
}

func newGlob(s sstr, cased bool) *glob {
	s = s.norm()
	if !cased {
		for i := range s {
			s[i].lit = strings.ToLower(s[i].lit)
		}
	}
	g := &glob{toks: s, cased: cased, mode: 'g'}
	switch {
	case len(s) == 0:
		g.mode = 'e'
	case len(s) == 1 && s[0].kind == 'l':
		g.mode, g.lit = 'e', s[0].lit
	case len(s) == 1 && s[0].kind == '*':
		g.mode = 'a'
	case len(s) == 2 && s[0].kind == 'l' && s[1].kind == '*':
		g.mode, g.lit = 'p', s[0].lit
	case len(s) == 2 && s[0].kind == '*' && s[1].kind == 'l':
		g.mode, g.lit = 's', s[1].lit
	case len(s) == 3 && s[0].kind == '*' && s[1].kind == 'l' && s[2].kind == '*':
		g.mode, g.lit = 'c', s[1].lit
	}
	return g
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (g *glob) match(t []byte) bool {
	if !g.cased && !isASCII(t) {
		t = bytes.ToLower(t) // rare: full Unicode lower-casing, allocates
	}
	f := !g.cased
	switch g.mode {
	case 'a':
		return true
	case 'e':
		return len(t) == len(g.lit) && eq(t, g.lit, f)
	case 'p':
		return len(t) >= len(g.lit) && eq(t[:len(g.lit)], g.lit, f)
	case 's':
		return len(t) >= len(g.lit) && eq(t[len(t)-len(g.lit):], g.lit, f)
	case 'c':
		return index(t, g.lit, f) >= 0
	}
	return matchToks(g.toks, t, f)
}

// eq compares t with lit (already lower-cased when fold) byte for byte, folding
// ASCII upper case in t when fold.
func eq(t []byte, lit string, fold bool) bool {
	if !fold {
		return string(t) == lit
	}
	for i := 0; i < len(lit); i++ {
		c := t[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}

func index(t []byte, lit string, fold bool) int {
	if !fold {
		return bytes.Index(t, []byte(lit))
	}
	if len(lit) == 0 {
		return 0
	}
	c0 := lit[0]
	u0 := c0
	if 'a' <= c0 && c0 <= 'z' {
		u0 -= 'a' - 'A'
	}
	for i := 0; i+len(lit) <= len(t); i++ {
		if c := t[i]; (c == c0 || c == u0) && eq(t[i:i+len(lit)], lit, true) {
			return i
		}
	}
	return -1
}

// matchToks is wildcard matching with backtracking to the last *.
func matchToks(toks sstr, t []byte, fold bool) bool {
	ti, pi := 0, 0
	starP, starT := -1, 0
	for {
		if pi < len(toks) {
			switch tk := toks[pi]; tk.kind {
			case '*':
				starP, starT = pi, ti
				pi++
				continue
			case '?':
				if ti < len(t) {
					_, n := utf8.DecodeRune(t[ti:])
					ti += n
					pi++
					continue
				}
			default:
				if len(t)-ti >= len(tk.lit) && eq(t[ti:ti+len(tk.lit)], tk.lit, fold) {
					ti += len(tk.lit)
					pi++
					continue
				}
			}
		} else if ti == len(t) {
			return true
		}
		if starP < 0 || starT >= len(t) {
			return false
		}
		starT++
		ti, pi = starT, starP+1
	}
}
