package query

import (
	"bytes"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// A small walker over raw event JSON. Events in the journal were validated
// when they were ingested, so the walker does not validate: it only finds
// values at paths and visits scalar leaves, without decoding the whole event.

// valueKind is the JSON type of a raw value.
type valueKind uint8

const (
	kindNull valueKind = iota
	kindString
	kindNumber
	kindBool
	kindObject
	kindArray
)

// rawValue is one JSON value as bytes of the event. For strings, raw still
// holds the quotes and escapes; use text.
type rawValue struct {
	kind valueKind
	raw  []byte
	// decoded marks a string given as str rather than raw (index lookups).
	decoded bool
	str     string
}

func kindOf(b []byte) valueKind {
	if len(b) == 0 {
		return kindNull
	}
	switch b[0] {
	case '"':
		return kindString
	case '{':
		return kindObject
	case '[':
		return kindArray
	case 't', 'f':
		return kindBool
	case 'n':
		return kindNull
	default:
		return kindNumber
	}
}

// text returns a string value unescaped, or the raw text of a number or
// boolean.
func (v rawValue) text() string {
	if v.decoded {
		return v.str
	}
	if v.kind != kindString {
		return string(v.raw)
	}
	return unquote(v.raw)
}

// unquote decodes a JSON string literal (with its quotes). Stored events
// passed event.Parse, so their strings are valid JSON; a filter's string
// that neither strconv.Unquote nor JSON reads keeps its bytes, less the
// backslash of each bad escape.
func unquote(b []byte) string {
	if len(b) < 2 {
		return ""
	}
	in := b[1 : len(b)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return string(in)
	}
	out := make([]byte, 0, len(in))
	for i := 1; ; {
		var bad int
		out, i, bad = jsonlex.AppendUnescaped(out, b, i)
		if bad < 0 || bad >= len(b)-1 {
			return string(out)
		}
		if b[bad] != '\\' {
			out = append(out, b[bad])
		}
		i = bad + 1
	}
}

// skipValue returns the index just past the value starting at i.
func skipValue(b []byte, i int) int {
	end, _ := jsonlex.SkipValue(b, i)
	return end
}

// skipString returns the index just past the string starting at i.
func skipString(b []byte, i int) int {
	end, _ := jsonlex.SkipString(b, i)
	return end
}

// eachMember calls fn for each member of the object starting at i, with
// the raw key (quoted) and the value's bounds, until fn returns false.
func eachMember(b []byte, i int, fn func(key []byte, vs, ve int) bool) {
	eachItem(b, i, '{', '}', func(i int) (int, bool) {
		ks := i
		i = skipString(b, i)
		key := b[ks:i]
		i = jsonlex.SkipSpace(b, i)
		if i < len(b) && b[i] == ':' {
			i++
		}
		vs := jsonlex.SkipSpace(b, i)
		ve := skipValue(b, vs)
		return ve, fn(key, vs, ve)
	})
}

// eachElement calls fn for each element of the array starting at i.
func eachElement(b []byte, i int, fn func(vs, ve int)) {
	eachItem(b, i, '[', ']', func(i int) (int, bool) {
		ve := skipValue(b, i)
		fn(i, ve)
		return ve, true
	})
}

// eachItem calls item for each member or element of the container that
// opens with open at i (nothing when another value is there), skipping
// separators. item reads the one at i and returns the index just past it,
// and whether to go on.
func eachItem(b []byte, i int, open, closer byte, item func(i int) (end int, more bool)) {
	i = jsonlex.SkipSpace(b, i)
	if i >= len(b) || b[i] != open {
		return
	}
	i++
	for {
		i = jsonlex.SkipSpace(b, i)
		if i >= len(b) || b[i] == closer {
			return
		}
		if b[i] == ',' {
			i++
			continue
		}
		more := false
		if i, more = item(i); !more {
			return
		}
	}
}

// keyEquals reports whether the quoted JSON key equals name.
func keyEquals(key []byte, name string) bool {
	if len(key) == len(name)+2 && string(key[1:len(key)-1]) == name {
		return true
	}
	for _, c := range key {
		if c == '\\' {
			return unquote(key) == name
		}
	}
	return false
}

// lookup calls fn for every value at path in the JSON value b, descending
// into every element of arrays met on the way (so target.id visits the id
// of each target). An array at the end of the path is visited element by
// element too.
func lookup(b []byte, path []string, fn func(v rawValue)) {
	walkPath(b, 0, path, fn)
}

func walkPath(b []byte, i int, path []string, fn func(v rawValue)) {
	i = jsonlex.SkipSpace(b, i)
	if i >= len(b) {
		return
	}
	if b[i] == '[' {
		eachElement(b, i, func(vs, _ int) { walkPath(b, vs, path, fn) })
		return
	}
	if len(path) == 0 {
		end := skipValue(b, i)
		fn(rawValue{kind: kindOf(b[i:end]), raw: b[i:end]})
		return
	}
	if b[i] != '{' {
		return
	}
	eachMember(b, i, func(key []byte, vs, _ int) bool {
		if keyEquals(key, path[0]) {
			walkPath(b, vs, path[1:], fn)
			return false
		}
		return true
	})
}

// leaves calls fn for every scalar (string, number, boolean) in b.
func leaves(b []byte, i int, fn func(v rawValue)) {
	i = jsonlex.SkipSpace(b, i)
	if i >= len(b) {
		return
	}
	switch b[i] {
	case '{':
		eachMember(b, i, func(_ []byte, vs, _ int) bool {
			leaves(b, vs, fn)
			return true
		})
	case '[':
		eachElement(b, i, func(vs, _ int) { leaves(b, vs, fn) })
	case 'n':
	default:
		end := skipValue(b, i)
		fn(rawValue{kind: kindOf(b[i:end]), raw: b[i:end]})
	}
}
