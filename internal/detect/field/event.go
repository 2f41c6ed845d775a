package field

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of Value. Arrays are never yielded: they fan out into their elements.
const (
	Null Kind = iota + 1
	Bool
	Number
	String
	Object
)

// Value is one value a Path resolves to.
type Value struct {
	// Kind is the JSON type.
	Kind Kind
	// Text is the value as a string: a string's unescaped contents, a number's or
	// boolean's JSON text, "null", or an object's compact JSON text. It points into
	// the Event's buffers and is valid only during the callback.
	Text []byte
}

// MaxDepth bounds the nesting of objects and arrays Reset accepts.
const MaxDepth = 512

// ErrSyntax is wrapped by Reset's errors for malformed JSON.
var ErrSyntax = errors.New("malformed JSON")

type kind = Kind

const array Kind = 0x10

// node is one JSON value of the event, in document (pre-order) order: an object's or
// array's children follow it, linked by next.
type node struct {
	kind   kind
	keyBuf bool  // key text is in Event.buf rather than raw
	valBuf bool  // string text is in Event.buf rather than raw
	next   int32 // index of the next sibling, 0 when last
	n      int32 // number of children
	ks, ke int32 // key text (members of objects)
	vs, ve int32 // string contents, or the raw span of other values
}

// Event is a parsed JSON object (or any JSON value) whose fields can be resolved by
// Path. The zero Event is empty and ready for Reset.
type Event struct {
	raw   []byte
	nodes []node
	buf   []byte // unescaped strings and keys
	tmp   []byte // compact text of objects yielded since Reset
}

// Reset parses raw as the event to resolve paths against, replacing the previous
// one. It returns an error wrapping ErrSyntax for malformed JSON, in which case the
// Event is empty. raw must not change until the next Reset.
func (e *Event) Reset(raw []byte) error {
	e.raw = raw
	e.nodes = e.nodes[:0]
	e.buf = e.buf[:0]
	e.tmp = e.tmp[:0]
	i := jsonlex.SkipSpace(raw, 0)
	i, err := e.parse(i, 0)
	if err == nil {
		if i = jsonlex.SkipSpace(raw, i); i != len(raw) {
			err = fmt.Errorf("%w: trailing data at offset %d", ErrSyntax, i)
		}
	}
	if err != nil {
		e.raw = nil
		e.nodes = e.nodes[:0]
		return err
	}
	return nil
}

// Raw returns the bytes last given to Reset.
func (e *Event) Raw() []byte { return e.raw }

func syntaxErr(i int) error { return fmt.Errorf("%w at offset %d", ErrSyntax, i) }

// parse appends the node for the value at raw[i] and its descendants, returning the
// offset just past the value.
func (e *Event) parse(i, depth int) (int, error) {
	raw := e.raw
	if i >= len(raw) {
		return i, syntaxErr(i)
	}
	if depth > MaxDepth {
		return i, fmt.Errorf("%w: nested deeper than %d at offset %d", ErrSyntax, MaxDepth, i)
	}
	idx := len(e.nodes)
	e.nodes = append(e.nodes, node{})
	switch c := raw[i]; c {
	case '{', '[':
		isObj := c == '{'
		nd := node{kind: array, vs: int32(i)}
		if isObj {
			nd.kind = Object
		}
		i = jsonlex.SkipSpace(raw, i+1)
		closer := byte(']')
		if isObj {
			closer = '}'
		}
		prev := -1
		if i < len(raw) && raw[i] == closer {
			i++
		} else {
			for {
				var ks, ke int32
				var keyBuf bool
				if isObj {
					if i >= len(raw) || raw[i] != '"' {
						return i, syntaxErr(i)
					}
					var err error
					if i, ks, ke, keyBuf, err = e.str(i); err != nil {
						return i, err
					}
					i = jsonlex.SkipSpace(raw, i)
					if i >= len(raw) || raw[i] != ':' {
						return i, syntaxErr(i)
					}
					i = jsonlex.SkipSpace(raw, i+1)
				}
				ci := len(e.nodes)
				var err error
				if i, err = e.parse(i, depth+1); err != nil {
					return i, err
				}
				if isObj {
					cn := &e.nodes[ci]
					cn.ks, cn.ke, cn.keyBuf = ks, ke, keyBuf
				}
				if prev >= 0 {
					e.nodes[prev].next = int32(ci)
				}
				prev = ci
				nd.n++
				i = jsonlex.SkipSpace(raw, i)
				if i >= len(raw) {
					return i, syntaxErr(i)
				}
				if raw[i] == closer {
					i++
					break
				}
				if raw[i] != ',' {
					return i, syntaxErr(i)
				}
				i = jsonlex.SkipSpace(raw, i+1)
			}
		}
		nd.ve = int32(i)
		e.nodes[idx] = nd
		return i, nil
	case '"':
		end, s, t, inBuf, err := e.str(i)
		if err != nil {
			return end, err
		}
		e.nodes[idx] = node{kind: String, vs: s, ve: t, valBuf: inBuf}
		return end, nil
	case 't':
		return e.lit(idx, i, "true", Bool)
	case 'f':
		return e.lit(idx, i, "false", Bool)
	case 'n':
		return e.lit(idx, i, "null", Null)
	default:
		end, ok := jsonlex.SkipNumber(raw, i)
		if !ok {
			return i, syntaxErr(i)
		}
		e.nodes[idx] = node{kind: Number, vs: int32(i), ve: int32(end)}
		return end, nil
	}
}

func (e *Event) lit(idx, i int, word string, k Kind) (int, error) {
	if len(e.raw)-i < len(word) || string(e.raw[i:i+len(word)]) != word {
		return i, syntaxErr(i)
	}
	e.nodes[idx] = node{kind: k, vs: int32(i), ve: int32(i + len(word))}
	return i + len(word), nil
}

// str reads the string whose quote is at raw[i] and returns the offset past it and
// where its decoded contents are: raw[s:t] when it has no escapes, else buf[s:t].
func (e *Event) str(i int) (end int, s, t int32, inBuf bool, err error) {
	raw := e.raw
	j := scanPlain(raw, i+1)
	for j < len(raw) {
		c := raw[j]
		if c == '"' {
			return j + 1, int32(i + 1), int32(j), false, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return j, 0, 0, false, syntaxErr(j)
		}
		j++
	}
	if j >= len(raw) {
		return j, 0, 0, false, syntaxErr(j)
	}
	start := len(e.buf)
	var bad int
	e.buf, end, bad = jsonlex.AppendUnescaped(e.buf, raw, i+1)
	if bad >= 0 {
		return bad, 0, 0, false, syntaxErr(bad)
	}
	return end, int32(start), int32(len(e.buf)), true, nil
}

// scanPlain returns the offset of the first byte at or after i that ends the plain
// part of a string: a quote, a backslash or a control byte (len(b) if none). It tests
// eight bytes at a time.
func scanPlain(b []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		// A byte is zero in q or bs, or below 0x20 in x, when its high bit is set here.
		t := ((q - ones) &^ q) | ((bs - ones) &^ bs) | ((x - ones*0x20) &^ x)
		if t&highs != 0 {
			break
		}
	}
	return i
}

func (e *Event) key(n *node) []byte {
	if n.keyBuf {
		return e.buf[n.ks:n.ke]
	}
	return e.raw[n.ks:n.ke]
}

// Values calls fn with each value p resolves to, in document order, until fn
// returns false. It calls nothing for an absent path or an empty Event.
func (e *Event) Values(p Path, fn func(v Value) bool) {
	var arr [8]Value // most paths resolve to a few values
	for _, v := range e.AppendValues(arr[:0], p) {
		if !fn(v) {
			return
		}
	}
}

// AppendValues appends to dst the values p resolves to, in document order, and
// returns the extended slice. Unlike Values it needs no callback; the Texts stay
// valid until the next Reset.
func (e *Event) AppendValues(dst []Value, p Path) []Value {
	if len(e.nodes) == 0 {
		return dst
	}
	return e.walkAppend(0, p.segs, dst, math.MaxInt)
}

// walkAppend appends to dst the values segs resolves to from node i, in
// document order, until dst holds upto values. It takes no callback, so
// that a caller's stack array can hold the values.
func (e *Event) walkAppend(i int, segs []seg, dst []Value, upto int) []Value {
	n := &e.nodes[i]
	if len(segs) == 0 {
		return e.emitAppend(i, dst, upto)
	}
	switch n.kind {
	case Object:
		if c := e.member(i, segs[0].name); c >= 0 {
			return e.walkAppend(c, segs[1:], dst, upto)
		}
	case array:
		if ix := segs[0].index; ix >= 0 {
			if c := e.element(i, ix); c >= 0 {
				return e.walkAppend(c, segs[1:], dst, upto)
			}
			return dst
		}
		c := i + 1
		for k := int32(0); k < n.n && len(dst) < upto; k++ {
			dst = e.walkAppend(c, segs, dst, upto)
			c = int(e.nodes[c].next)
		}
	}
	return dst
}

// emitAppend appends the value of node i (an array's elements, flattened)
// until dst holds upto values.
func (e *Event) emitAppend(i int, dst []Value, upto int) []Value {
	n := &e.nodes[i]
	switch n.kind {
	case array:
		c := i + 1
		for k := int32(0); k < n.n && len(dst) < upto; k++ {
			dst = e.emitAppend(c, dst, upto)
			c = int(e.nodes[c].next)
		}
		return dst
	case String:
		return append(dst, Value{Kind: String, Text: e.text(n)})
	case Object:
		start := len(e.tmp)
		e.tmp = compact(e.tmp, e.raw[n.vs:n.ve])
		return append(dst, Value{Kind: Object, Text: e.tmp[start:len(e.tmp):len(e.tmp)]})
	default:
		return append(dst, Value{Kind: n.kind, Text: e.raw[n.vs:n.ve]})
	}
}

// member returns the node of the object i's member named name (exact first, else
// the first ASCII-case-insensitive match), or -1.
func (e *Event) member(i int, name string) int {
	n := &e.nodes[i]
	c, found := i+1, -1
	for k := int32(0); k < n.n; k++ {
		cn := &e.nodes[c]
		key := e.key(cn)
		if string(key) == name {
			return c
		}
		if found < 0 && equalFold(key, name) {
			found = c
		}
		c = int(cn.next)
	}
	return found
}

// Exists reports whether p resolves to at least one value (null counts).
func (e *Event) Exists(p Path) bool {
	if len(e.nodes) == 0 {
		return false
	}
	var one [1]Value
	return len(e.walkAppend(0, p.segs, one[:0], 1)) > 0
}

// Strings calls fn with every string value in the event (not keys), in document
// order, until fn returns false: the haystack of a Sigma keyword search.
func (e *Event) Strings(fn func(text []byte) bool) {
	for i := range e.nodes {
		if e.nodes[i].kind == String {
			if !fn(e.text(&e.nodes[i])) {
				return
			}
		}
	}
}

// AppendStrings appends every string value of the event (not keys) to dst, in
// document order, as Values of Kind String, and returns the extended slice.
func (e *Event) AppendStrings(dst []Value) []Value {
	for i := range e.nodes {
		if e.nodes[i].kind == String {
			dst = append(dst, Value{Kind: String, Text: e.text(&e.nodes[i])})
		}
	}
	return dst
}

func (e *Event) text(n *node) []byte {
	if n.valBuf {
		return e.buf[n.vs:n.ve]
	}
	return e.raw[n.vs:n.ve]
}

// element returns the node of element ix of the array node i (a numeric
// path segment), or -1 when the array is shorter.
func (e *Event) element(i, ix int) int {
	if ix >= int(e.nodes[i].n) {
		return -1
	}
	c := i + 1
	for range ix {
		c = int(e.nodes[c].next)
	}
	return c
}

// compact appends src, valid JSON, without white space outside strings.
func compact(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			end, _ := jsonlex.SkipString(src, i)
			dst = append(dst, src[i:end]...)
			i = end
		case jsonlex.IsSpace(c):
			i++
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// equalFold reports whether a and b are equal under ASCII case folding.
func equalFold(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
