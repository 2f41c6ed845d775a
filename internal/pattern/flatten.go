package pattern

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// MaxEventDepth is the deepest nesting of objects and arrays an event may have; deeper
// events never match (PutEvents accepts up to 1,000 levels). The flattener recurses at
// most this deep.
const MaxEventDepth = 1000

// arrayPos records that a value sits at element idx of the array instance arr.
type arrayPos struct {
	arr int32
	idx int32
}

// strClass marks the bytes that end a fast string scan: '"', '\\' and control bytes.
var strClass = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// SWAR constants: every byte 0x01, every byte 0x80.
const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// specialBytes is non-zero when one of the 8 bytes in x is '"', '\\' or below 0x20,
// and its lowest set bit (a 0x80 flag) always marks such a byte; higher flags may be
// false positives (the classic "has zero byte" and "has byte less than" word tricks).
// x^0x02 maps '"' to 0x20 and keeps control bytes below 0x20 and every other byte at
// 0x21 or above, so one "less than 0x21" test covers both; bit 7 of x^c is bit 7 of x
// for both constants, so the tests share one "and not x".
func specialBytes(x uint64) uint64 {
	lt := (x ^ 0x02*swarLo) - 0x21*swarLo // '"' and control bytes
	bs := (x ^ '\\'*swarLo) - swarLo      // '\\'
	return (lt | bs) &^ x & swarHi
}

// flattener walks one event's JSON, recording the leaf values at the paths the index
// knows into the scratch buffers. Unknown subtrees are validated but not recorded.
type flattener struct {
	s   *scratch
	ix  *index
	ev  []byte
	pos int
}

// bstr returns b as a string without copying. The bytes must not change while the
// string is in use: event bytes are owned by the caller for the duration of the match
// call, and scratch string bytes are only appended to during one event.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (f *flattener) space() { f.pos = jsonlex.SkipSpace(f.ev, f.pos) }

// walk parses the value at f.pos. t is the trie node of its path, nil when no pattern
// path equals or extends it (the value is then only validated). It reports false when
// the JSON is malformed or nests deeper than MaxEventDepth.
func (f *flattener) walk(depth int, t *tnode) bool {
	if t == nil {
		return f.skip(depth)
	}
	if depth > MaxEventDepth {
		return false
	}
	f.space()
	if f.pos >= len(f.ev) {
		return false
	}
	switch c := f.ev[f.pos]; c {
	case '{':
		if len(t.kids) == 0 {
			return f.skip(depth)
		}
		return f.object(depth, t)
	case '[':
		return f.array(depth, t)
	case '"':
		want := t.id >= 0
		s, ok := f.str(want)
		if ok && want {
			f.s.emit(t.id, value{kind: kindString, str: s})
		}
		return ok
	case 't', 'f', 'n':
		var word string
		var k valueKind
		switch c {
		case 't':
			word, k = "true", kindTrue
		case 'f':
			word, k = "false", kindFalse
		default:
			word, k = "null", kindNull
		}
		if len(f.ev)-f.pos < len(word) || bstr(f.ev[f.pos:f.pos+len(word)]) != word {
			return false
		}
		f.pos += len(word)
		if t.id >= 0 {
			f.s.emit(t.id, value{kind: k})
		}
		return true
	default:
		start := f.pos
		end, ok := jsonlex.SkipNumber(f.ev, f.pos)
		if !ok {
			return false
		}
		f.pos = end
		if t.id >= 0 {
			text := bstr(f.ev[start:end])
			n, nok := fastNumber(text)
			f.s.emit(t.id, value{kind: kindNumber, str: text, num: n, numOK: nok})
		}
		return true
	}
}

// fastNumber converts number text, with a fast path for small integers.
func fastNumber(text string) (float64, bool) {
	if len(text) <= 15 {
		neg := false
		t := text
		if t[0] == '-' {
			neg, t = true, t[1:]
		}
		var n int64
		ok := len(t) > 0
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				return -float64(n), true
			}
			return float64(n), true
		}
	}
	return parseNumber(text)
}

// object walks an object; some pattern path goes below t.
func (f *flattener) object(depth int, t *tnode) bool {
	if f.open('}') {
		return true
	}
	for {
		f.space()
		if f.pos >= len(f.ev) || f.ev[f.pos] != '"' {
			return false
		}
		child, ok := f.keyChild(t)
		if !ok {
			return false
		}
		f.space()
		if f.pos >= len(f.ev) || f.ev[f.pos] != ':' {
			return false
		}
		f.pos++
		if child != nil {
			ok = f.walk(depth+1, child)
		} else if f.pos < len(f.ev) && f.ev[f.pos] == '"' && depth+1 <= MaxEventDepth {
			// The most common unreferenced member: a string.
			f.pos, ok = skipString(f.ev, f.pos+1)
		} else {
			ok = f.skip(depth + 1)
		}
		if !ok {
			return false
		}
		if c := f.sep(); c != ',' {
			return c == '}'
		}
	}
}

// open moves past the '{' or '[' at f.pos, and reports whether closer follows (the
// container is empty; then it moves past that too).
func (f *flattener) open(closer byte) bool {
	f.pos++
	f.space()
	if f.pos < len(f.ev) && f.ev[f.pos] == closer {
		f.pos++
		return true
	}
	return false
}

// sep moves past the byte that follows a member or an element and returns it: ',' or
// the container's closing byte in valid JSON; 0 at the end of the event.
func (f *flattener) sep() byte {
	f.space()
	if f.pos >= len(f.ev) {
		return 0
	}
	f.pos++
	return f.ev[f.pos-1]
}

// keyChild scans the object key at f.pos (the opening quote) and returns the trie node
// it leads to from t, or nil. Keys without escapes are looked up straight from the
// event bytes; the scan notes dots (keys "a.b" are paths) and packs the key's first
// 8 bytes for tnode.childPacked.
func (f *flattener) keyChild(t *tnode) (*tnode, bool) {
	ev := f.ev
	start := f.pos + 1
	i := start
	var dots uint64
	for {
		if i+8 <= len(ev) {
			x := binary.LittleEndian.Uint64(ev[i:])
			d := x ^ ('.' * swarLo)
			md := (d - swarLo) &^ d & swarHi
			if m := specialBytes(x); m != 0 {
				// Only dots before the first special byte are in the key; the lowest
				// flagged dot is always a real one.
				dots |= md & (m&-m - 1)
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			dots |= md
			i += 8
			continue
		}
		for i < len(ev) && !strClass[ev[i]] {
			if ev[i] == '.' {
				dots = 1
			}
			i++
		}
		if i >= len(ev) {
			return nil, false
		}
		break
	}
	if ev[i] != '"' {
		if ev[i] < 0x20 {
			return nil, false
		}
		// Escapes: decode, then look up the decoded key.
		key, ok := f.str(true)
		if !ok {
			return nil, false
		}
		return t.lookup(key), true
	}
	f.pos = i + 1
	key := bstr(ev[start:i])
	if dots != 0 {
		return t.lookup(key), true
	}
	var w uint64
	if start+8 <= len(ev) {
		w = binary.LittleEndian.Uint64(ev[start:])
		if n := len(key); n < 8 {
			w &= 1<<(8*n) - 1
		}
	} else {
		w = pack8(key)
	}
	return t.childPacked(key, w), true
}

// array walks an array; its elements share t, and each gets its array position.
func (f *flattener) array(depth int, t *tnode) bool {
	if f.open(']') {
		return true
	}
	s := f.s
	s.stack = append(s.stack, arrayPos{arr: s.nextArr})
	s.nextArr++
	for i := int32(0); ; i++ {
		s.stack[len(s.stack)-1].idx = i
		if !f.walk(depth+1, t) {
			return false
		}
		if c := f.sep(); c != ',' {
			if c != ']' {
				return false
			}
			s.stack = s.stack[:len(s.stack)-1]
			return true
		}
	}
}

// str scans the string at f.pos (the opening quote). When want is set it returns the
// unescaped text, pointing into the event when there are no escapes.
func (f *flattener) str(want bool) (string, bool) {
	f.pos++
	start := f.pos
	ev := f.ev
	i := f.pos
	for {
		if i+8 <= len(ev) {
			if m := specialBytes(binary.LittleEndian.Uint64(ev[i:])); m == 0 {
				i += 8
				continue
			} else {
				// The lowest flagged byte is always a real match.
				i += bits.TrailingZeros64(m) >> 3
			}
		} else {
			for i < len(ev) && !strClass[ev[i]] {
				i++
			}
			if i >= len(ev) {
				return "", false
			}
		}
		break
	}
	if ev[i] == '"' {
		f.pos = i + 1
		if !want {
			return "", true
		}
		return bstr(ev[start:i]), true
	}
	if ev[i] < 0x20 {
		return "", false
	}
	// Escapes: decode into the scratch string buffer.
	s := f.s
	off := len(s.strbuf)
	s.strbuf = append(s.strbuf, ev[start:i]...)
	var end, bad int
	s.strbuf, end, bad = jsonlex.AppendUnescaped(s.strbuf, ev, i)
	if bad >= 0 {
		return "", false
	}
	f.pos = end
	if !want {
		s.strbuf = s.strbuf[:off]
		return "", true
	}
	return bstr(s.strbuf[off:]), true
}
