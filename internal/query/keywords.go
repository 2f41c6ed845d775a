package query

import (
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
