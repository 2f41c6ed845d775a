// Package jsonlex holds the lexical pieces of JSON (RFC 8259) text that the
// packages reading and writing raw JSON without encoding/json share: white
// space, string escapes, skipping strings and values, an object's members
// in order (the load tool and the Okta fake rewrite events keeping member
// order), and arrays of values that are JSON already. The pattern package parses patterns and walks events with
// them, the query package walks stored events with them; each keeps its own
// walk, because one validates every byte and the other trusts what the
// journal stored.
//
// The functions work on offsets into a byte slice and allocate nothing
// beyond the buffer they are given; the small ones inline.
package jsonlex

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// IsSpace reports whether c is JSON white space: space, tab, line feed or
// carriage return.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// SkipSpace returns the offset of the first byte at or after i that is not
// JSON white space (len(b) when there is none).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// SkipString returns the offset just past the JSON string whose opening
// quote is at b[i], and whether it was closed; an unclosed string gives an
// offset at or past len(b) and false. Escapes are passed over, not checked.
//
// It looks at 8 bytes at a time for a quote or a backslash (the classic
// "has zero byte" word test on the bytes XORed with each): every reader of
// stored events spends most of its time passing over strings.
func SkipString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		if i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q, s := x^('"'*swarLo), x^('\\'*swarLo)
			// The lowest flag marks a quote or a backslash; higher ones
			// may be false positives and are never looked at.
			m := ((q-swarLo)&^q | (s-swarLo)&^s) & swarHi
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return i, false
}

// SWAR constants: every byte 0x01, every byte 0x80.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// SkipValue returns the offset just past the JSON value that starts at i
// (after white space), and false when there is no value there or it does
// not end before len(b) (an unclosed string, object or array). It follows
// only the nesting of strings, objects and arrays: it trusts what it
// skips, as readers of stored events do.
func SkipValue(b []byte, i int) (int, bool) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				var ok bool
				if i, ok = SkipString(b, i); !ok {
					return i, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return i, false
	default:
		start := i
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !IsSpace(b[i]) {
			i++
		}
		return i, i > start
	}
}

// AppendUnescaped decodes a JSON string from src[i] (inside the quotes) up to
// its closing quote, appending the decoded bytes to buf. It returns the
// extended buffer, the offset just after the closing quote, and -1; or, when
// the string is not valid JSON, the offset of the offending byte: a control
// byte, the backslash of a bad escape, or len(src) when the string does not
// end. A \u escape of a surrogate that is not half of a pair decodes to
// U+FFFD, as encoding/json decodes it.
func AppendUnescaped(buf, src []byte, i int) ([]byte, int, int) {
	for i < len(src) {
		c := src[i]
		switch {
		case c == '"':
			return buf, i + 1, -1
		case c < 0x20:
			return buf, 0, i
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(src) {
			return buf, 0, len(src)
		}
		switch src[i+1] {
		case '"', '\\', '/':
			buf = append(buf, src[i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := Hex4(src, i+2)
			if !ok {
				return buf, 0, i
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := Hex4(src, i+2); ok && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						buf = utf8.AppendRune(buf, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			return buf, 0, i
		}
		i += 2
	}
	return buf, 0, len(src)
}

// Hex4 reads the four hex digits of a \u escape at src[i:i+4], and reports
// false when there are fewer than four or one is not a hex digit.
func Hex4(src []byte, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, c := range src[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// AppendArray appends to dst the JSON array of items, each of which raw
// returns as JSON text, without white space, and returns the extended
// slice.
func AppendArray[T any](dst []byte, items []T, raw func(T) []byte) []byte {
	n := 2
	for _, it := range items {
		n += len(raw(it)) + 1
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, raw(it)...)
	}
	return append(dst, ']')
}

// Member is one member of a JSON object: its name, unescaped, and its
// value as written.
type Member struct {
	Key   string
	Value []byte
}

// Members returns the members of the JSON object obj in their order, the
// values pointing into obj, and false when obj is not one object (white
// space around it aside). Like SkipValue, it trusts the values it skips.
func Members(obj []byte) ([]Member, bool) {
	i := SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	var out []Member
	i = SkipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return closed(obj, i, out)
	}
	for i < len(obj) && obj[i] == '"' {
		key, end, bad := AppendUnescaped(nil, obj, i+1)
		if bad >= 0 {
			return nil, false
		}
		i = SkipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false
		}
		start := SkipSpace(obj, i+1)
		end, ok := SkipValue(obj, start)
		if !ok {
			return nil, false
		}
		out = append(out, Member{Key: string(key), Value: obj[start:end]})
		i = SkipSpace(obj, end)
		if i < len(obj) && obj[i] == '}' {
			return closed(obj, i, out)
		}
		if i >= len(obj) || obj[i] != ',' {
			return nil, false
		}
		i = SkipSpace(obj, i+1)
	}
	return nil, false
}

// closed is Members' answer at the object's closing brace obj[i]: out,
// unless more than white space follows.
func closed(obj []byte, i int, out []Member) ([]Member, bool) {
	if SkipSpace(obj, i+1) != len(obj) {
		return nil, false
	}
	return out, true
}

// SkipNumber returns the offset just past the JSON number that starts at
// b[i], and whether it follows the grammar of RFC 8259 (an optional minus,
// an integer part without leading zeros, an optional fraction and an
// optional exponent, each with at least one digit). Unlike SkipValue, it
// checks what it skips: the pattern parser and the detections' event
// reader use it to validate numbers.
func SkipNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		d := i + 1
		if i = skipDigits(b, d); i == d {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		if i = skipDigits(b, d); i == d {
			return i, false
		}
	}
	return i, true
}

// skipDigits returns the offset of the first byte at or after i that is
// not a decimal digit.
func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
