package pattern

import (
	"strings"
	"testing"
)

// TestSkipValidates checks that subtrees no pattern names are still fully validated:
// a malformed or too deep event matches nothing, whichever paths the patterns name.
func TestSkipValidates(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		event string
		valid bool
	}{
		{`{"a":"x","b":{"c":[1,-2.5e+3,0,true,false,null,{},[],"s"]}}`, true},
		{` { "a" : [ 1 , { "b" : "c" } ] , "d" : { } } `, true},
		{"{\"a\":\t\"x\"\r\n}", true},
		{`{"a":"\" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \ud800"}`, true},
		{`{"a.b":{"c.d":"x"}}`, true},
		{`{"a":"x\q"}`, false},
		{`{"a":"\u00g0"}`, false},
		{`{"a":"\u00e"}`, false},
		{"{\"a\":\"x\ty\"}", false},
		{"{\"a\":\"0123456789\x01abcdef\"}", false},
		{`{"a":"unterminated}`, false},
		{`{"a":"x",}`, false},
		{`{"a":[1,]}`, false},
		{`{"a":[1 2]}`, false},
		{`{"a" "x"}`, false},
		{`{"a":{1:2}}`, false},
		{`{"a":{"b":1]}`, false},
		{`{"a":[1}`, false},
		{`{"a":tru}`, false},
		{`{"a":nul}`, false},
		{`{"a":falsey}`, false},
		{`{"a":01}`, false},
		{`{"a":1.}`, false},
		{`{"a":-}`, false},
		{`{"a":1e}`, false},
		{`{"a":+1}`, false},
		{`{"a":{"b":[{"c":"d"}]}`, false},
		{`{"a":` + nest(999) + `}`, true},
		{`{"a":` + nest(1000) + `}`, true},
		{`{"a":` + nest(1001) + `}`, false},
		{`{"a":` + strings.Repeat("[", 999) + `"deep string"` + strings.Repeat("]", 999) + `}`, true},
		{`{"a":` + strings.Repeat("[", 1000) + `"too deep"` + strings.Repeat("]", 1000) + `}`, false},
	}
	// Both patterns match every valid event. The first names no path of the events, so
	// they are only skipped; the second names a path below a, so a is walked.
	pats := []*Pattern{
		MustCompile(`{"zz":[{"exists":false}]}`),
		MustCompile(`{"a":{"q":[{"exists":false}]},"zz":[{"exists":false}]}`),
	}
	for _, tc := range cases {
		for i, p := range pats {
			if got := p.Match([]byte(tc.event)); got != tc.valid {
				t.Errorf("pattern %d, event %.60q: Match = %v, want %v", i, tc.event, got, tc.valid)
			}
		}
	}
}
