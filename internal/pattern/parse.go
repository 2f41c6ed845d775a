package pattern

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxPatternDepth bounds the nesting of pattern JSON so that parsing and compiling never
// recurse without bound, whatever the configured maximum length.
const maxPatternDepth = 256

// nodeKind is the JSON type of a parsed pattern value.
type nodeKind uint8

const (
	nodeObject nodeKind = iota
	nodeArray
	nodeString
	nodeNumber
	nodeTrue
	nodeFalse
	nodeNull
)

// member is one name/value pair of a pattern object, in document order. Repeated names
// are kept: the compiler applies "the last write to a path wins", as event-ruler does.
type member struct {
	name string
	val  *node
	off  int // offset of the name
}

// node is a parsed pattern JSON value. Numbers keep their exact source text.
type node struct {
	kind    nodeKind
	text    string // unescaped string, or the number's source text
	members []member
	elems   []*node
	off     int // byte offset of the value's first byte
	end     int // byte offset just after the value
}

// parser is a small, strict JSON (RFC 8259) parser that, unlike encoding/json, keeps the
// order of object members, repeated member names and numbers' exact text, and reports
// byte offsets for error positions.
type parser struct {
	src []byte
	pos int
}

// parseJSON parses one JSON value that must make up the whole of src.
func parseJSON(src []byte) (*node, *Error) {
	p := &parser{src: src}
	if !utf8.Valid(src) {
		return nil, p.errAt(firstInvalidUTF8(src), reasonInvalidUTF8)
	}
	p.skipSpace()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, p.errAt(p.pos, reasonTrailingContent)
	}
	return n, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// errAt builds an *Error for byte offset off, computing the 1-based line and column.
func (p *parser) errAt(off int, reason string) *Error {
	return errorAt(p.src, off, reason)
}

func errorAt(src []byte, off int, reason string) *Error {
	if off < 0 {
		return &Error{Reason: reason, Offset: -1}
	}
	if off > len(src) {
		off = len(src)
	}
	line, col := 1, 1
	for _, c := range src[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &Error{Reason: reason, Line: line, Column: col, Offset: off}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) unexpected() *Error {
	if p.pos >= len(p.src) {
		return p.errAt(p.pos, reasonUnexpectedEOF)
	}
	c := p.src[p.pos]
	return p.errAt(p.pos, fmt.Sprintf("Unexpected character ('%c' (code %d))", rune(c), c))
}

func (p *parser) value(depth int) (*node, *Error) {
	n, err := p.value1(depth)
	if n != nil {
		n.end = p.pos
	}
	return n, err
}

func (p *parser) value1(depth int) (*node, *Error) {
	if depth > maxPatternDepth {
		return nil, p.errAt(p.pos, reasonTooDeep)
	}
	if p.pos >= len(p.src) {
		return nil, p.unexpected()
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeString, text: s, off: start}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		end, ok := scanNumber(p.src, p.pos)
		if !ok {
			return nil, p.errAt(p.pos, reasonInvalidNumber)
		}
		p.pos = end
		return &node{kind: nodeNumber, text: string(p.src[start:end]), off: start}, nil
	case p.literal("true"):
		return &node{kind: nodeTrue, text: "true", off: start}, nil
	case p.literal("false"):
		return &node{kind: nodeFalse, text: "false", off: start}, nil
	case p.literal("null"):
		return &node{kind: nodeNull, text: "null", off: start}, nil
	}
	return nil, p.unexpected()
}

func (p *parser) literal(word string) bool {
	if len(p.src)-p.pos < len(word) || string(p.src[p.pos:p.pos+len(word)]) != word {
		return false
	}
	end := p.pos + len(word)
	if end < len(p.src) && isIdentByte(p.src[end]) {
		return false
	}
	p.pos = end
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (p *parser) object(depth int) (*node, *Error) {
	n := &node{kind: nodeObject, off: p.pos}
	p.pos++ // '{'
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return nil, p.unexpected()
		}
		noff := p.pos
		name, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.unexpected()
		}
		p.pos++
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{name: name, val: v, off: noff})
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.unexpected()
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.unexpected()
		}
	}
}

func (p *parser) array(depth int) (*node, *Error) {
	n := &node{kind: nodeArray, off: p.pos}
	p.pos++ // '['
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	for {
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, v)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, p.unexpected()
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.unexpected()
		}
	}
}

// str parses a JSON string starting at the opening quote and returns it unescaped.
func (p *parser) str() (string, *Error) {
	p.pos++ // opening quote
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '"' {
			s := string(p.src[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errAt(p.pos, reasonControlCharacter)
		}
		p.pos++
	}
	buf := append([]byte(nil), p.src[start:p.pos]...)
	out, end, bad := unescapeString(p.src, p.pos, buf)
	if bad >= 0 {
		if bad >= len(p.src) {
			return "", p.errAt(bad, reasonUnexpectedEOF)
		}
		if p.src[bad] < 0x20 {
			return "", p.errAt(bad, reasonControlCharacter)
		}
		return "", p.errAt(bad, reasonInvalidEscape)
	}
	p.pos = end
	return string(out), nil
}

// unescapeString continues decoding a JSON string at src[i] (inside the quotes),
// appending the decoded bytes to buf. It returns the extended buffer, the offset just
// after the closing quote, and -1, or the offset of the offending byte.
func unescapeString(src []byte, i int, buf []byte) ([]byte, int, int) {
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
			r, ok := hex4(src, i+2)
			if !ok {
				return buf, 0, i
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(src, i+2); ok && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
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

func hex4(src []byte, i int) (rune, bool) {
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

// scanNumber checks the JSON number grammar at src[i] and returns the end offset.
func scanNumber(src []byte, i int) (int, bool) {
	if i < len(src) && src[i] == '-' {
		i++
	}
	if i >= len(src) {
		return i, false
	}
	switch {
	case src[i] == '0':
		i++
	case src[i] >= '1' && src[i] <= '9':
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	if i < len(src) && src[i] == '.' {
		i++
		d := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		if i == d {
			return i, false
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		d := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		if i == d {
			return i, false
		}
	}
	return i, true
}
