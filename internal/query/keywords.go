package query

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// Keyword search limits (OKTA.md §2.6).
const (
	// MaxKeywords is the most keywords q may hold.
	MaxKeywords = 10
	// MaxKeywordLen is the longest keyword, in characters.
	MaxKeywordLen = 40
)

// Keywords is a parsed q: every keyword must match, case-insensitively, a
// whole attribute value or a token of one.
type Keywords []string

// ParseKeywords splits q on spaces and checks Okta's limits. The error
// text is the errorCauses entry of the validation error.
func ParseKeywords(q string) (Keywords, error) {
	words := strings.Fields(q)
	if len(words) > MaxKeywords {
		return nil, fmt.Errorf("Freeform search cannot contain more than %d items", MaxKeywords)
	}
	for _, w := range words {
		if utf8.RuneCountInString(w) > MaxKeywordLen {
			return nil, fmt.Errorf("Freeform search cannot contain items longer than %d characters", MaxKeywordLen)
		}
	}
	out := make(Keywords, len(words))
	for i, w := range words {
		out[i] = strings.ToLower(w)
	}
	return out, nil
}

// isSeparator ends a token inside a value: whitespace and the URL and list
// punctuation of OKTA.md §2.6.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '-', '/', '?', '&', '=', ':', ',':
		return true
	}
	return false
}

// Match reports whether every keyword matches some value of the event.
func (k Keywords) Match(event []byte) bool {
	if len(k) == 0 {
		return true
	}
	return k.mayMatch(event) && k.walkMatch(event)
}

// walkMatch is Match without its quick test: it walks every value.
func (k Keywords) walkMatch(event []byte) bool {
	var found uint16 // one bit per keyword; at most MaxKeywords
	all := uint16(1)<<len(k) - 1
	leaves(event, 0, func(v rawValue) {
		if found == all {
			return
		}
		s := strings.ToLower(v.text())
		for i, w := range k {
			if found&(1<<i) != 0 || !strings.Contains(s, w) {
				continue
			}
			if s == w || hasToken(s, w, isSpaceRune) || hasToken(s, w, isSeparator) {
				found |= 1 << i
			}
		}
	})
	return found == all
}

// mayMatch is a quick test Match must pass: every keyword occurs in the
// event's text (its bytes with the simple escapes decoded, ASCII letters
// case-folded). Most events of a keyword search fail it and are never
// walked (each value decoded and lower-cased: tens of allocations). It
// judges only ASCII events without \u escapes and answers true for others:
// Unicode case folding (the Kelvin sign lower-cases to k) or a \u escape
// can make a value match that the folded bytes do not show.
func (k Keywords) mayMatch(event []byte) bool {
	var stack [2048]byte
	folded := stack[:0]
	if len(event) > len(stack) {
		folded = make([]byte, 0, len(event))
	}
	for i := 0; i < len(event); i++ {
		c := event[i]
		switch {
		case c >= utf8.RuneSelf:
			return true
		case c == '\\':
			if i++; i == len(event) {
				return true
			}
			switch event[i] {
			case '"', '\\', '/':
				c = event[i]
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default: // \u
				return true
			}
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		folded = append(folded, c)
	}
	for _, w := range k {
		if !bytes.Contains(folded, []byte(w)) {
			return false
		}
	}
	return true
}

// hasToken reports whether w is one of the tokens of s split at sep.
func hasToken(s, w string, sep func(rune) bool) bool {
	for tok := range strings.FieldsFuncSeq(s, sep) {
		if tok == w {
			return true
		}
	}
	return false
}

func isSpaceRune(r rune) bool { return r < utf8.RuneSelf && jsonlex.IsSpace(byte(r)) }
