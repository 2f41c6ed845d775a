package pattern

import (
	"encoding/binary"
	"math/bits"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// skip validates the value at f.pos, which sits at the given depth, without recording
// anything: no pattern path reaches it. It accepts exactly what walk accepts (the same
// grammar, string escapes and depth limit), but as one loop over the bytes with an
// explicit stack of open containers instead of recursion, trie lookups and string
// decoding, since most of a typical event is in subtrees no pattern names.
func (f *flattener) skip(depth int) bool {
	ev := f.ev
	i := f.pos
	// One byte per open container: the byte that closes it. The buffer is kept in the
	// scratch so that deep events do not allocate again.
	stack := f.s.skipStack[:0]
	needKey := false
	var ok bool
	for {
		// A value at depth+len(stack), or an object key when needKey is set.
		if !needKey && depth+len(stack) > MaxEventDepth {
			return false
		}
		i = jsonlex.SkipSpace(ev, i)
		if i >= len(ev) {
			return false
		}
		c := ev[i]
		if needKey && c != '"' {
			return false
		}
		switch c {
		case '"':
			// Strings are most of the bytes: scan them here, 8 bytes at a time, and
			// leave escapes and the last few bytes of the event to skipString.
			i++
			for i+8 <= len(ev) {
				if m := specialBytes(binary.LittleEndian.Uint64(ev[i:])); m != 0 {
					i += bits.TrailingZeros64(m) >> 3
					break
				}
				i += 8
			}
			if i < len(ev) && ev[i] == '"' {
				i++
			} else if i, ok = skipString(ev, i); !ok {
				return false
			}
			if needKey {
				i = jsonlex.SkipSpace(ev, i)
				if i >= len(ev) || ev[i] != ':' {
					return false
				}
				i++
				needKey = false
				continue
			}
		case '{', '[':
			closer := c + 2 // '}' or ']'
			i = jsonlex.SkipSpace(ev, i+1)
			if i < len(ev) && ev[i] == closer {
				i++
				break
			}
			stack = append(stack, closer)
			f.s.skipStack = stack
			needKey = c == '{'
			continue
		case 't':
			if len(ev)-i < 4 || bstr(ev[i:i+4]) != "true" {
				return false
			}
			i += 4
		case 'f':
			if len(ev)-i < 5 || bstr(ev[i:i+5]) != "false" {
				return false
			}
			i += 5
		case 'n':
			if len(ev)-i < 4 || bstr(ev[i:i+4]) != "null" {
				return false
			}
			i += 4
		default:
			if i, ok = jsonlex.SkipNumber(ev, i); !ok {
				return false
			}
		}
		// After a value: close finished containers, then a separator.
		for {
			if len(stack) == 0 {
				f.pos = i
				return true
			}
			i = jsonlex.SkipSpace(ev, i)
			if i >= len(ev) {
				return false
			}
			c, top := ev[i], stack[len(stack)-1]
			i++
			if c == top {
				stack = stack[:len(stack)-1]
				continue
			}
			if c != ',' {
				return false
			}
			needKey = top == '}'
			break
		}
	}
}

// skipString validates a JSON string whose opening quote is just before ev[i] and
// returns the offset after its closing quote. Escapes are checked as jsonlex.AppendUnescaped
// checks them (which is also what str accepts): one of \" \\ \/ \b \f \n \r \t, or \u
// with four hex digits; control bytes are rejected.
func skipString(ev []byte, i int) (int, bool) {
	for {
		// Find the next '"', '\\' or control byte, 8 bytes at a time.
		for i+8 <= len(ev) {
			if m := specialBytes(binary.LittleEndian.Uint64(ev[i:])); m != 0 {
				// The lowest flagged byte is always a real match.
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for i < len(ev) && !strClass[ev[i]] {
			i++
		}
		if i >= len(ev) {
			return i, false
		}
	found:
		switch c := ev[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		}
		// A backslash.
		if i+1 >= len(ev) {
			return i, false
		}
		switch ev[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if _, ok := jsonlex.Hex4(ev, i+2); !ok {
				return i, false
			}
			i += 6
		default:
			return i, false
		}
	}
}
