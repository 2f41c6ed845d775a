package jsonlex

import (
	"encoding/json"
	"testing"
)

func TestAppendUnescaped(t *testing.T) {
	tests := []struct {
		name string
		src  string // starts after the opening quote
		want string
		end  int // -1: bad
		bad  int
	}{
		{"plain", `abc"`, "abc", 4, -1},
		{"short escapes", `\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t", 17, -1},
		{"unicode", `\u00e9\u20AC"`, "é€", 13, -1},
		{"surrogate pair", `\ud83d\ude00"`, "😀", 13, -1},
		{"lone high surrogate", `\ud83dx"`, "\uFFFDx", 8, -1},
		{"lone low surrogate", `\ude00"`, "\uFFFD", 7, -1},
		{"high then not low", `\ud83d\u0041"`, "\uFFFDA", 13, -1},
		{"stops at the quote", `a"b"`, "a", 2, -1},
		{"bad escape", `ab\q"`, "ab", -1, 2},
		{"bad hex", `\u12g4"`, "", -1, 0},
		{"short hex", `\u12`, "", -1, 0},
		{"control byte", "a\tb\"", "a", -1, 1},
		{"unterminated", `abc`, "abc", -1, 3},
		{"backslash at the end", `ab\`, "ab", -1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, end, bad := AppendUnescaped([]byte("x"), []byte(tt.src), 0)
			if string(out) != "x"+tt.want {
				t.Errorf("out: got %q, want %q", out, "x"+tt.want)
			}
			if tt.end >= 0 && (end != tt.end || bad != -1) {
				t.Errorf("got end %d, bad %d, want end %d, bad -1", end, bad, tt.end)
			}
			if tt.end < 0 && bad != tt.bad {
				t.Errorf("bad: got %d, want %d", bad, tt.bad)
			}
		})
	}
}

// TestAppendUnescapedAgreesWithEncodingJSON checks valid strings decode as
// encoding/json decodes them, lone surrogates included.
func TestAppendUnescapedAgreesWithEncodingJSON(t *testing.T) {
	for _, lit := range []string{`""`, `"a\u0000b"`, `"\uD834\uDD1E x"`, `"\uDD1E\uD834"`, `"é\\\"/"`, `"\u004a\u004A"`} {
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		out, end, bad := AppendUnescaped(nil, []byte(lit), 1)
		if string(out) != want || end != len(lit) || bad != -1 {
			t.Errorf("%s: got %q (end %d, bad %d), want %q (end %d)", lit, out, end, bad, want, len(lit))
		}
	}
}

func TestHex4(t *testing.T) {
	tests := []struct {
		src  string
		want rune
		ok   bool
	}{
		{"0000", 0, true}, {"00e9", 0xe9, true}, {"ABCD", 0xabcd, true}, {"fFfF", 0xffff, true},
		{"12g4", 0, false}, {"123", 0, false}, {"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			r, ok := Hex4([]byte(tt.src), 0)
			if r != tt.want || ok != tt.ok {
				t.Errorf("got %#x, %v, want %#x, %v", r, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSkipSpace(t *testing.T) {
	tests := []struct {
		src  string
		from int
		want int
	}{
		{"", 0, 0}, {"x", 0, 0}, {" \t\r\nx", 0, 4}, {"   ", 1, 3}, {"\v x", 0, 0}, {"\x00", 0, 0}, {"a b", 1, 2},
	}
	for _, tt := range tests {
		if got := SkipSpace([]byte(tt.src), tt.from); got != tt.want {
			t.Errorf("SkipSpace(%q, %d): got %d, want %d", tt.src, tt.from, got, tt.want)
		}
	}
	for c := range 256 {
		want := c == ' ' || c == '\t' || c == '\n' || c == '\r'
		if got := IsSpace(byte(c)); got != want {
			t.Errorf("IsSpace(%#x): got %v, want %v", c, got, want)
		}
	}
}

func TestAppendArray(t *testing.T) {
	raw := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name  string
		items []string
		want  string
	}{
		{"none", nil, `x[]`},
		{"one", []string{`{"a":1}`}, `x[{"a":1}]`},
		{"several", []string{`1`, `"two"`, `{"three":[3]}`}, `x[1,"two",{"three":[3]}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendArray([]byte("x"), tt.items, raw)
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if !json.Valid(got[1:]) {
				t.Errorf("got %s, want valid JSON", got[1:])
			}
		})
	}
}

func TestSkipStringAndValue(t *testing.T) {
	tests := []struct {
		in     string
		i      int
		end    int
		closed bool
	}{
		{`"abc",`, 0, 5, true},
		{`"a\"b"x`, 0, 6, true},
		{`"a\\"x`, 0, 5, true},
		{`"abc`, 0, 4, false},
		{`"ab\"`, 0, 5, false},
	}
	for _, tt := range tests {
		if end, ok := SkipString([]byte(tt.in), tt.i); end != tt.end || ok != tt.closed {
			t.Errorf("SkipString(%s): got %d %v, want %d %v", tt.in, end, ok, tt.end, tt.closed)
		}
	}
	values := []struct {
		in  string
		end int
		ok  bool
	}{
		{` {"a":[1,"]}",{"b":null}]} ,`, 26, true},
		{`[1,2]]`, 5, true},
		{`-1.5e3,`, 6, true},
		{`true}`, 4, true},
		{`"x"`, 3, true},
		{` `, 1, false},
		{`}`, 0, false},
		{`{"a":"}`, 7, false},
		{`[[1]`, 4, false},
	}
	for _, tt := range values {
		if end, ok := SkipValue([]byte(tt.in), 0); end != tt.end || ok != tt.ok {
			t.Errorf("SkipValue(%s): got %d %v, want %d %v", tt.in, end, ok, tt.end, tt.ok)
		}
	}
}

func TestMembers(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []Member
		ok   bool
	}{
		{`{}`, nil, true},
		{` { "a" : 1 , "b\u0041":{"x":[1, "}"]},"c":"s" } `, []Member{{"a", []byte("1")}, {"bA", []byte(`{"x":[1, "}"]}`)}, {"c", []byte(`"s"`)}}, true},
		{`{"a":1,}`, nil, false},
		{`{"a" 1}`, nil, false},
		{`{"a":1} x`, nil, false},
		{`[1]`, nil, false},
		{`{"a":`, nil, false},
		{`{"a":1`, nil, false},
		{``, nil, false},
	} {
		got, ok := Members([]byte(tt.in))
		if ok != tt.ok || len(got) != len(tt.want) {
			t.Errorf("%s: got %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			continue
		}
		for i := range got {
			if got[i].Key != tt.want[i].Key || string(got[i].Value) != string(tt.want[i].Value) {
				t.Errorf("%s: member %d: got %s=%s, want %s=%s", tt.in, i, got[i].Key, got[i].Value, tt.want[i].Key, tt.want[i].Value)
			}
		}
	}
}
