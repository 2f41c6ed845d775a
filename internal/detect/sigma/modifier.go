package sigma

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// maxExpansions bounds the alternatives windash, base64offset and expand may
// produce for one value.
const maxExpansions = 4096

// matcher tests one field value.
type matcher interface {
	match(v field.Value) bool
}

// strMatcher compares the value as a string. Objects are compared by their compact
// JSON text only for wildcard matching (contains, startswith, endswith, explicit
// wildcards); plain equality never matches an object. null matches no string.
type strMatcher struct{ g *glob }

func (m strMatcher) match(v field.Value) bool {
	switch v.Kind {
	case field.Null:
		return false
	case field.Object:
		if m.g.mode == 'e' {
			return false
		}
	}
	return m.g.match(v.Text)
}

type reMatcher struct{ re *regexp.Regexp }

func (m reMatcher) match(v field.Value) bool { return v.Kind != field.Null && m.re.Match(v.Text) }

type cidrMatcher struct{ p netip.Prefix }

func (m cidrMatcher) match(v field.Value) bool {
	if v.Kind != field.String {
		return false
	}
	a, err := netip.ParseAddr(string(v.Text))
	return err == nil && m.p.Contains(a.Unmap())
}

// numMatcher compares the value (a JSON number or a numeric string) with a number.
type numMatcher struct {
	op string // lt lte gt gte eq
	n  float64
}

func (m numMatcher) match(v field.Value) bool {
	if v.Kind != field.Number && v.Kind != field.String {
		return false
	}
	x, err := strconv.ParseFloat(string(v.Text), 64)
	if err != nil {
		return false
	}
	return compare(m.op, x, m.n)
}

func compare(op string, x, n float64) bool {
	switch op {
	case "lt":
		return x < n
	case "lte":
		return x <= n
	case "gt":
		return x > n
	case "gte":
		return x >= n
	}
	return x == n
}

// timeMatcher extracts a part of an RFC 3339 timestamp and compares it.
type timeMatcher struct {
	unit string
	num  numMatcher
}

func (m timeMatcher) match(v field.Value) bool {
	if v.Kind != field.String {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, string(v.Text))
	if err != nil {
		return false
	}
	t = t.UTC()
	var x int
	switch m.unit {
	case "minute":
		x = t.Minute()
	case "hour":
		x = t.Hour()
	case "day":
		x = t.Day()
	case "week":
		_, x = t.ISOWeek()
	case "month":
		x = int(t.Month())
	case "year":
		x = t.Year()
	}
	return compare(m.num.op, float64(x), m.num.n)
}

// mods is a parsed modifier chain.
type mods struct {
	transforms []string // expand windash base64 base64offset utf16le utf16be utf16 wide, in order
	position   string   // contains startswith endswith
	kind       string   // "" (string), re, cidr, exists, fieldref, num, time
	numOp      string   // lt lte gt gte (num and time)
	timeUnit   string
	reFlags    string
	all, cased bool
	neq        bool
	list       []string
}

var timeUnits = map[string]bool{"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true}

func parseMods(list []string) (mods, error) {
	m := mods{list: list}
	setKind := func(k string) error {
		if m.kind != "" && m.kind != k {
			return fmt.Errorf("modifier %q cannot be combined with %q", k, m.kind)
		}
		m.kind = k
		return nil
	}
	for _, name := range list {
		switch name {
		case "contains", "startswith", "endswith":
			if m.position != "" {
				return m, fmt.Errorf("modifiers %q and %q cannot be combined", m.position, name)
			}
			m.position = name
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "neq":
			m.neq = true
		case "expand", "windash", "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide":
			if m.position != "" && name != "expand" && name != "windash" {
				return m, fmt.Errorf("modifier %q must come before %q", name, m.position)
			}
			m.transforms = append(m.transforms, name)
		case "re":
			if err := setKind("re"); err != nil {
				return m, err
			}
		case "i", "m", "s":
			if m.kind != "re" {
				return m, fmt.Errorf("regular expression flag %q needs the re modifier before it", name)
			}
			m.reFlags += name
		case "cidr", "exists", "fieldref":
			if err := setKind(name); err != nil {
				return m, err
			}
		case "lt", "lte", "gt", "gte":
			if m.numOp != "" {
				return m, fmt.Errorf("modifiers %q and %q cannot be combined", m.numOp, name)
			}
			m.numOp = name
			if m.kind != "time" {
				if err := setKind("num"); err != nil {
					return m, err
				}
			}
		default:
			if !timeUnits[name] {
				return m, fmt.Errorf("unknown modifier %q", name)
			}
			if m.kind == "num" {
				m.kind = ""
			}
			if err := setKind("time"); err != nil {
				return m, err
			}
			m.timeUnit = name
		}
	}
	if m.kind != "" && m.kind != "fieldref" && (m.position != "" || len(m.transforms) > 0) {
		return m, fmt.Errorf("modifier %q cannot be combined with %s", m.kind, strings.Join(append(m.transforms, m.position), " "))
	}
	if m.kind == "fieldref" && len(m.transforms) > 0 {
		return m, fmt.Errorf("modifier fieldref cannot be combined with %s", strings.Join(m.transforms, " "))
	}
	if m.cased && m.kind != "" && m.kind != "fieldref" {
		return m, fmt.Errorf("modifier cased applies to string matching, not %q", m.kind)
	}
	return m, nil
}

// transform applies one value-transforming modifier to each alternative.
func transform(name string, alts []sstr, placeholders map[string][]string) ([]sstr, error) {
	var out []sstr
	add := func(s sstr) error {
		if len(out) >= maxExpansions {
			return fmt.Errorf("modifier %s expands to more than %d values", name, maxExpansions)
		}
		out = append(out, s)
		return nil
	}
	for _, a := range alts {
		switch name {
		case "expand":
			exp, err := expand(a, placeholders)
			if err != nil {
				return nil, err
			}
			for _, e := range exp {
				if err := add(e); err != nil {
					return nil, err
				}
			}
		case "windash":
			for _, e := range windash(a) {
				if err := add(e); err != nil {
					return nil, err
				}
			}
		default:
			if a.hasWildcard() {
				return nil, fmt.Errorf("modifier %s cannot encode a value with wildcards (%q)", name, a.String())
			}
			b := []byte(a.plain())
			switch name {
			case "base64":
				if err := add(literal(base64.StdEncoding.EncodeToString(b))); err != nil {
					return nil, err
				}
			case "base64offset":
				for _, s := range base64Offsets(b) {
					if err := add(literal(s)); err != nil {
						return nil, err
					}
				}
			case "utf16le", "wide":
				if err := add(literal(string(utf16Bytes(b, binary.LittleEndian, false)))); err != nil {
					return nil, err
				}
			case "utf16be":
				if err := add(literal(string(utf16Bytes(b, binary.BigEndian, false)))); err != nil {
					return nil, err
				}
			case "utf16":
				if err := add(literal(string(utf16Bytes(b, binary.LittleEndian, true)))); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// base64Offsets returns the three base64 spellings of b at each alignment, with
// the characters that depend on surrounding bytes cut off, so that contains finds b
// encoded inside a longer base64 text.
func base64Offsets(b []byte) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2} // characters to drop at the end, by (len+i)%3
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		enc := base64.StdEncoding.EncodeToString(append([]byte(strings.Repeat(" ", i)), b...))
		end := len(enc) - ends[(len(b)+i)%3]
		if starts[i] > end {
			out = append(out, "")
			continue
		}
		out = append(out, enc[starts[i]:end])
	}
	return out
}

func utf16Bytes(b []byte, order binary.AppendByteOrder, bom bool) []byte {
	units := utf16.Encode([]rune(string(b)))
	out := make([]byte, 0, 2*len(units)+2)
	if bom {
		out = order.AppendUint16(out, 0xFEFF)
	}
	for _, u := range units {
		out = order.AppendUint16(out, u)
	}
	return out
}

var dashes = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// windash returns the value with every - or / that starts a word (a command-line
// flag) spelled with each Windows dash: -, /, en dash, em dash, horizontal bar.
func windash(s sstr) []sstr {
	out := []sstr{nil}
	for ti, t := range s {
		if t.kind != 'l' {
			appendEach(out, t)
			continue
		}
		start := 0
		for i := 0; i < len(t.lit); i++ {
			c := t.lit[i]
			if c != '-' && c != '/' {
				continue
			}
			prevWord := i > 0 && isWord(t.lit[i-1]) || i == 0 && ti > 0 && s[ti-1].kind == 'l' && isWord(s[ti-1].lit[len(s[ti-1].lit)-1])
			nextWord := i+1 < len(t.lit) && isWord(t.lit[i+1])
			if prevWord || !nextWord {
				continue
			}
			var next []sstr
			for _, o := range out {
				for _, d := range dashes {
					x := append(append(sstr{}, o...), tok{kind: 'l', lit: t.lit[start:i] + d})
					next = append(next, x)
				}
			}
			out = next
			start = i + 1
			if len(out) > maxExpansions {
				return out
			}
		}
		appendEach(out, tok{kind: 'l', lit: t.lit[start:]})
	}
	return out
}

// expand replaces each %name% in the value's literals with each of the overlay's
// values for name (Sigma strings themselves, so they may hold wildcards).
func expand(s sstr, placeholders map[string][]string) ([]sstr, error) {
	out := []sstr{nil}
	for _, t := range s {
		if t.kind != 'l' {
			appendEach(out, t)
			continue
		}
		rest := t.lit
		for {
			i := strings.IndexByte(rest, '%')
			j := -1
			if i >= 0 {
				j = strings.IndexByte(rest[i+1:], '%')
			}
			if i < 0 || j < 0 {
				appendEach(out, tok{kind: 'l', lit: rest})
				break
			}
			name := rest[i+1 : i+1+j]
			vals, ok := placeholders[name]
			if !ok || len(vals) == 0 {
				return nil, &placeholderError{name: name}
			}
			var next []sstr
			for _, o := range out {
				for _, v := range vals {
					x := append(append(sstr{}, o...), tok{kind: 'l', lit: rest[:i]})
					next = append(next, append(x, parseSigmaString(v)...))
					if len(next) > maxExpansions {
						return nil, fmt.Errorf("placeholder %%%s%% expands to more than %d values", name, maxExpansions)
					}
				}
			}
			out = next
			rest = rest[i+2+j:]
		}
	}
	return out, nil
}

// appendEach appends t to each of the alternative values in out.
func appendEach(out []sstr, t tok) {
	for i := range out {
		out[i] = append(out[i], t)
	}
}

// placeholderError is the reason a rule with an unresolved placeholder is refused.
type placeholderError struct{ name string }

func (e *placeholderError) Error() string {
	return fmt.Sprintf("placeholder %%%s%% has no value: set placeholders.%s in the pack overlay (a tool that cannot expand a placeholder must refuse the rule)", e.name, e.name)
}
