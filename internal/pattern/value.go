package pattern

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// valueKind is the JSON type of an event leaf value.
type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindTrue
	kindFalse
	kindNull
)

// value is one leaf value of a flattened event. Values at the same path are chained
// through next; trailOff/trailLen locate the value's array trail in the scratch buffers.
type value struct {
	str      string // the string (unescaped), or a number's source text
	num      float64
	next     int32
	trailOff int32
	trailLen int32
	kind     valueKind
	numOK    bool // num holds the number's finite float64 value
}

// parseNumber returns the float64 value of JSON number text, and false if it does not
// fit a finite float64 (such numbers still match exact patterns by their text).
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// foldRune maps r to the smallest rune of its Unicode simple case-folding orbit, so
// that two runes are equal under strings.EqualFold exactly when their foldRune agree.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}

// foldString applies foldRune to every rune of s.
func foldString(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// hasPrefixFold reports whether s begins with folded, a foldString result.
func hasPrefixFold(s, folded string) bool {
	_, ok := cutPrefixFold(s, folded)
	return ok
}

// cutPrefixFold returns s without its prefix that folds to folded, a foldString
// result, and whether s has such a prefix. It compares rune by rune after folding
// (folding may change byte lengths, never rune counts).
func cutPrefixFold(s, folded string) (string, bool) {
	for len(folded) > 0 {
		if len(s) == 0 {
			return "", false
		}
		pr, pn := utf8.DecodeRuneInString(folded)
		sr, sn := utf8.DecodeRuneInString(s)
		if pr != foldRune(sr) {
			return "", false
		}
		folded, s = folded[pn:], s[sn:]
	}
	return s, true
}

// hasSuffixFold reports whether s ends with folded, a foldString result.
func hasSuffixFold(s, folded string) bool {
	for len(folded) > 0 {
		if len(s) == 0 {
			return false
		}
		pr, pn := utf8.DecodeLastRuneInString(folded)
		sr, sn := utf8.DecodeLastRuneInString(s)
		if pr != foldRune(sr) {
			return false
		}
		folded, s = folded[:len(folded)-pn], s[:len(s)-sn]
	}
	return true
}

// equalFold reports whether s equals folded, a foldString result, after folding s.
func equalFold(s, folded string) bool {
	if len(s) == len(folded) && s == folded {
		return true
	}
	rest, ok := cutPrefixFold(s, folded)
	return ok && rest == ""
}

// looksLikeIP is a cheap pre-check before netip.ParseAddr on event strings.
func looksLikeIP(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	c := s[0]
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':'
}

// ipLiteral reports whether s is written like an IP address the way event-ruler
// recognises one (four dot-separated decimal groups, or hex digits and colons), and
// parses it.
func ipLiteral(s string) (netip.Addr, bool) {
	dots, colons, letters := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c == ':':
			colons++
		case c >= '0' && c <= '9':
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			letters = true
		default:
			return netip.Addr{}, false
		}
	}
	if colons == 0 && (dots != 3 || letters) || colons > 0 && dots > 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a, true
}
