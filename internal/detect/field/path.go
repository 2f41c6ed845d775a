package field

import (
	"errors"
	"fmt"
	"strings"
)

// Path is a compiled dotted field name. The zero Path has no segments and resolves
// to the whole event.
type Path struct {
	text string
	segs []seg
}

type seg struct {
	name  string
	index int // the segment as an array index, or -1 when it is not a decimal integer
}

// ErrEmptySegment is returned by ParsePath for "", ".a", "a..b" and "a.".
var ErrEmptySegment = errors.New("empty path segment")

// ParsePath compiles a dotted field name such as "debugContext.debugData.behaviors"
// or "target.0.displayName".
func ParsePath(s string) (Path, error) {
	if s == "" {
		return Path{}, fmt.Errorf("field %q: %w", s, ErrEmptySegment)
	}
	parts := strings.Split(s, ".")
	p := Path{text: s, segs: make([]seg, len(parts))}
	for i, part := range parts {
		if part == "" {
			return Path{}, fmt.Errorf("field %q: %w", s, ErrEmptySegment)
		}
		p.segs[i] = seg{name: part, index: index(part)}
	}
	return p, nil
}

// MustParsePath is ParsePath for constant names in tests and tables; it panics on an
// invalid name.
func MustParsePath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the dotted name the Path was compiled from.
func (p Path) String() string { return p.text }

func index(s string) int {
	if len(s) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
