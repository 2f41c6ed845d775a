package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// fields are the top-level members Parse interprets, as raw JSON values
// (nil when absent), plus what the scan learned about the text.
type fields struct {
	uuid, eventType, published []byte
	// actor and target are the bounds in the scanned text of the values
	// of the members Spans records ({0, 0} when absent).
	actor, target [2]int
	// loose is true when the text has whitespace outside strings and so
	// needs compacting.
	loose bool
	depth int
}

// scan validates raw, which must start with '{', in one pass and picks out
// the top-level members Parse needs without decoding the rest. Beyond
// RFC 8259 syntax it enforces I-JSON (RFC 7493): member names are unique
// in every object (compared after unescaping, so "a" and "\u0061" are the
// same name), the text is valid UTF-8, and \u escapes never leave a
// surrogate unpaired. Parsers disagree about such input (which of two
// "eventType" members counts, what a lone surrogate becomes), so an event
// carrying any of them could mean one thing to auditstream and another to
// every consumer. It stops at the first problem, and past MaxDepth levels.
func scan(raw []byte) (fields, error) {
	s := scanner{raw: raw}
	i, err := s.object(0, 1)
	if err != nil {
		return fields{}, err
	}
	if i = s.space(i); i < len(raw) {
		return fields{}, s.syntax(i, "after top-level value")
	}
	return s.f, nil
}

// scanner is one scan's state. It holds no pointers it writes to, so it
// lives on the caller's stack: Parse allocates nothing to validate.
type scanner struct {
	raw []byte
	f   fields
	// names holds the member names of the objects being scanned, innermost
	// last (each object owns the tail from where it started); past len(names)
	// they go on in more.
	names  [64]name
	more   []name
	nnames int
}

// name is a member name: raw[start:end] between its quotes, escaped when
// it holds backslash escapes (and so must be decoded to compare).
type name struct {
	start, end int
	escaped    bool
	// sig is the length, first and last byte of an unescaped name: two
	// names with different sigs, neither escaped, differ.
	sig uint32
}

func (s *scanner) name(k int) name {
	if k < len(s.names) {
		return s.names[k]
	}
	return s.more[k-len(s.names)]
}

func (s *scanner) push(n name) {
	if s.nnames < len(s.names) {
		s.names[s.nnames] = n
	} else {
		s.more = append(s.more[:s.nnames-len(s.names)], n)
	}
	s.nnames++
}

// text returns a name as its decoded bytes.
func (s *scanner) text(n name) []byte {
	b := s.raw[n.start:n.end]
	if !n.escaped {
		return b
	}
	var k string
	_ = json.Unmarshal(s.raw[n.start-1:n.end+1], &k) // str checked it
	return []byte(k)
}

func (s *scanner) same(a, b name) bool {
	if !a.escaped && !b.escaped {
		return bytes.Equal(s.raw[a.start:a.end], s.raw[b.start:b.end])
	}
	return bytes.Equal(s.text(a), s.text(b))
}

// careBytes flags (0x80) the bytes of the little-endian word x that
// needsCare marks; its lowest flag is always such a byte, higher ones may
// be false positives (the "has zero byte" and "has byte less than" word
// tests leave borrows above a hit).
func careBytes(x uint64) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q, b := x^('"'*lo), x^('\\'*lo)
	return ((q-lo)&^q|(b-lo)&^b|(x-0x20*lo)&^x)&hi | x&hi
}

// needsCare marks the bytes a string scan must look at: the quote, the
// backslash, control characters and the start of every multi-byte
// sequence. Everything else is one byte of plain ASCII text.
var needsCare = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()

// dupSetAt is how many members an object may have before names are
// checked through a map rather than by comparing with each earlier one
// (an Okta LogEvent has 17 at the top).
const dupSetAt = 32

func (s *scanner) space(i int) int {
	for i < len(s.raw) {
		switch s.raw[i] {
		case ' ', '\t', '\n', '\r':
			s.f.loose = true
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) value(i, depth int) (int, error) {
	if i >= len(s.raw) {
		return i, s.eof()
	}
	switch c := s.raw[i]; {
	case c == '{':
		return s.object(i, depth+1)
	case c == '[':
		return s.array(i, depth+1)
	case c == '"':
		end, _, err := s.str(i)
		return end, err
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number(i)
	default:
		return i, s.syntax(i, "looking for beginning of value")
	}
}

// object scans the object starting at raw[i] ('{'), depth levels deep.
func (s *scanner) object(i, depth int) (int, error) {
	i, done, err := s.open(i, depth, '}')
	if done || err != nil {
		return i, err
	}
	raw := s.raw
	start := s.nnames
	defer func() { s.nnames = start }()
	var set map[string]struct{}
	for {
		if i >= len(raw) {
			return i, s.eof()
		}
		if raw[i] != '"' {
			return i, s.syntax(i, "looking for beginning of object key string")
		}
		var end int
		var escaped bool
		if end, escaped, err = s.str(i); err != nil {
			return end, err
		}
		key := name{start: i + 1, end: end - 1, escaped: escaped}
		if key.end > key.start {
			key.sig = uint32(key.end-key.start)<<16 | uint32(raw[key.start])<<8 | uint32(raw[key.end-1])
		}
		if set == nil && s.nnames-start >= dupSetAt {
			set = make(map[string]struct{}, 2*dupSetAt)
			for k := start; k < s.nnames; k++ {
				set[string(s.text(s.name(k)))] = struct{}{}
			}
		}
		dup := false
		if set != nil {
			t := s.text(key)
			_, dup = set[string(t)]
			set[string(t)] = struct{}{}
		} else {
			for k := start; k < s.nnames; k++ {
				n := s.name(k)
				if n.sig != key.sig && !n.escaped && !key.escaped {
					continue
				}
				if s.same(n, key) {
					dup = true
					break
				}
			}
		}
		if dup {
			return i, fmt.Errorf("%w: duplicate member %s at byte %d (member names must be unique, RFC 7493)",
				ErrInvalid, quoteShort(s.text(key)), i)
		}
		s.push(key)
		if i = s.space(end); i >= len(raw) || raw[i] != ':' {
			if i >= len(raw) {
				return i, s.eof()
			}
			return i, s.syntax(i, "after object key")
		}
		vStart := s.space(i + 1)
		if i, err = s.value(vStart, depth); err != nil {
			return i, err
		}
		if depth == 1 {
			switch string(s.text(key)) {
			case "uuid":
				s.f.uuid = raw[vStart:i]
			case "eventType":
				s.f.eventType = raw[vStart:i]
			case "published":
				s.f.published = raw[vStart:i]
			case "actor":
				s.f.actor = [2]int{vStart, i}
			case "target":
				s.f.target = [2]int{vStart, i}
			}
		}
		if i, done, err = s.sep(i, '}', "after object key:value pair"); done || err != nil {
			return i, err
		}
	}
}

// array scans the array starting at raw[i] ('['), depth levels deep.
func (s *scanner) array(i, depth int) (int, error) {
	i, done, err := s.open(i, depth, ']')
	for !done && err == nil {
		if i, err = s.value(i, depth); err == nil {
			i, done, err = s.sep(i, ']', "after array element")
		}
	}
	return i, err
}

// open checks the depth of the object or array starting at raw[i] and
// returns the index of its first member or element, or, when closer
// follows at once, the index just past that (done).
func (s *scanner) open(i, depth int, closer byte) (int, bool, error) {
	if depth > MaxDepth {
		return i, false, fmt.Errorf("%w: nested deeper than %d levels", ErrInvalid, MaxDepth)
	}
	s.f.depth = max(s.f.depth, depth)
	if i = s.space(i + 1); i < len(s.raw) && s.raw[i] == closer {
		return i + 1, true, nil
	}
	return i, false, nil
}

// sep reads what follows a member or an element: a comma, after which it
// returns the index of the next one, or closer, after which it returns the
// index just past the container (done). context names the place in a
// syntax error.
func (s *scanner) sep(i int, closer byte, context string) (int, bool, error) {
	if i = s.space(i); i >= len(s.raw) {
		return i, false, s.eof()
	}
	switch s.raw[i] {
	case ',':
		return s.space(i + 1), false, nil
	case closer:
		return i + 1, true, nil
	}
	return i, false, s.syntax(i, context)
}

// str scans the string starting at raw[i] ('"') and returns the index just
// past it and whether it holds escapes.
func (s *scanner) str(i int) (end int, escaped bool, err error) {
	raw := s.raw
	j := i + 1
	for j < len(raw) {
		if j+8 <= len(raw) {
			// 8 bytes at a time up to the first one that needs care.
			m := careBytes(binary.LittleEndian.Uint64(raw[j:]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) >> 3
		}
		c := raw[j]
		if !needsCare[c] {
			j++
			continue
		}
		switch {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j, err = s.escape(j); err != nil {
				return j, escaped, err
			}
		case c < 0x20:
			return j, escaped, s.syntax(j, "in string literal")
		default:
			r, size := utf8.DecodeRune(raw[j:])
			if r == utf8.RuneError && size <= 1 {
				return j, escaped, fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrInvalid, j)
			}
			j += size
		}
	}
	return j, escaped, s.eof()
}

// escape checks the escape sequence at raw[j] ('\\') and returns the index
// just past it. A \u escape of a high surrogate must be followed by one of
// a low surrogate; a low surrogate may not stand alone.
func (s *scanner) escape(j int) (int, error) {
	raw := s.raw
	if j+1 >= len(raw) {
		return j, s.eof()
	}
	switch raw[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return j + 2, nil
	case 'u':
	default:
		return j + 1, s.syntax(j+1, "in string escape code")
	}
	r, err := s.hex4(j + 2)
	if err != nil {
		return j, err
	}
	switch {
	case r >= 0xDC00 && r < 0xE000:
		return j, fmt.Errorf("%w: unpaired surrogate \\u%04x at byte %d", ErrInvalid, r, j)
	case r >= 0xD800 && r < 0xDC00:
		if j+11 < len(raw) && raw[j+6] == '\\' && raw[j+7] == 'u' {
			if lo, err := s.hex4(j + 8); err == nil && lo >= 0xDC00 && lo < 0xE000 {
				return j + 12, nil
			}
		}
		return j, fmt.Errorf("%w: unpaired surrogate \\u%04x at byte %d", ErrInvalid, r, j)
	}
	return j + 6, nil
}

func (s *scanner) hex4(j int) (rune, error) {
	if j+4 > len(s.raw) {
		return 0, s.eof()
	}
	var r rune
	for k := j; k < j+4; k++ {
		c := s.raw[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, s.syntax(k, "in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

func (s *scanner) literal(i int, word string) (int, error) {
	if !bytes.HasPrefix(s.raw[i:], []byte(word)) {
		for k := 1; k < len(word); k++ {
			if i+k >= len(s.raw) {
				return i + k, s.eof()
			}
			if s.raw[i+k] != word[k] {
				return i + k, s.syntax(i+k, "in literal "+word+" (expecting "+fmt.Sprintf("%q", word[k])+")")
			}
		}
	}
	return i + len(word), nil
}

// number scans an RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number(i int) (int, error) {
	raw := s.raw
	digits := func(j int) int {
		for j < len(raw) && raw[j] >= '0' && raw[j] <= '9' {
			j++
		}
		return j
	}
	need := func(j int, what string) error {
		if j >= len(raw) {
			return s.eof()
		}
		return s.syntax(j, what)
	}
	if raw[i] == '-' {
		i++
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case i < len(raw) && raw[i] >= '1' && raw[i] <= '9':
		i = digits(i + 1)
	default:
		return i, need(i, "in numeric literal")
	}
	if i < len(raw) && raw[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, need(j, "after decimal point in numeric literal")
		}
		i = j
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return j, need(j, "in exponent of numeric literal")
		}
		i = j
	}
	return i, nil
}

// syntax reports an unexpected byte at raw[i], in encoding/json's words.
func (s *scanner) syntax(i int, context string) error {
	c := s.raw[i]
	var ch string
	switch {
	case c == '\'':
		ch = `'\''`
	case c == '"':
		ch = `'"'`
	case c < 0x20 || c >= 0x7f:
		ch = fmt.Sprintf("%q", rune(c))
		if c >= 0x80 {
			ch = fmt.Sprintf("byte 0x%02x", c)
		}
	default:
		ch = "'" + string(c) + "'"
	}
	return fmt.Errorf("%w: malformed JSON: invalid character %s %s at byte %d", ErrInvalid, ch, context, i)
}

func (s *scanner) eof() error {
	return fmt.Errorf("%w: malformed JSON: unexpected end of JSON input", ErrInvalid)
}

// quoteShort quotes a member name for an error message, shortened so a
// huge name cannot flood the answer.
func quoteShort(name []byte) string {
	const max = 64
	if len(name) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", name[:cut])
	}
	return fmt.Sprintf("%q", name)
}

// optionalString is rawString for a member that may be left out but, when
// present, must be a non-empty string: null or "" is an error saying the
// member must be want.
func optionalString(v []byte, name, want string) ([]byte, error) {
	s, err := rawString(v, name)
	if err == nil && v != nil && len(s) == 0 {
		return nil, fmt.Errorf("%w: %s must be %s", ErrInvalid, name, want)
	}
	return s, err
}

// rawString decodes a raw JSON value that must be a string or null; name
// is the member's name for the error. The value has passed scan. The
// result points into v unless the string holds escapes or non-ASCII text.
func rawString(v []byte, name string) ([]byte, error) {
	if len(v) == 0 || string(v) == "null" {
		return nil, nil
	}
	if v[0] != '"' {
		return nil, fmt.Errorf("%w: %s must be a string", ErrInvalid, name)
	}
	plain := true
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return v[1 : len(v)-1], nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("%w: %s must be a string", ErrInvalid, name)
	}
	return []byte(s), nil
}
