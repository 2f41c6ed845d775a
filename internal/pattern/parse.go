package pattern

import (
	"fmt"
	"unicode/utf8"

	"github.com/auditstream/auditstream/internal/jsonlex"
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

func (p *parser) skipSpace() { p.pos = jsonlex.SkipSpace(p.src, p.pos) }

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
		end, ok := jsonlex.SkipNumber(p.src, p.pos)
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
	n, done := p.open(nodeObject, '}')
	for !done {
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
		if done, err = p.next('}'); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (p *parser) array(depth int) (*node, *Error) {
	n, done := p.open(nodeArray, ']')
	for !done {
		p.skipSpace()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, v)
		if done, err = p.next(']'); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// open starts a node of kind at the '{' or '[' at p.pos and moves past it, and past
// closer too when the container is empty (done).
func (p *parser) open(kind nodeKind, closer byte) (n *node, done bool) {
	n = &node{kind: kind, off: p.pos}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == closer {
		p.pos++
		return n, true
	}
	return n, false
}

// next moves past what follows a member or an element: ',' when more follow, or
// closer when the container ends (done).
func (p *parser) next(closer byte) (done bool, err *Error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return false, p.unexpected()
	}
	switch p.src[p.pos] {
	case ',':
		p.pos++
		return false, nil
	case closer:
		p.pos++
		return true, nil
	}
	return false, p.unexpected()
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
	out, end, bad := jsonlex.AppendUnescaped(buf, p.src, p.pos)
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
