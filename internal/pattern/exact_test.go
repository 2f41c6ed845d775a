package pattern

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestExactStrings: a path's exact strings are reported only when every $or
// combination tests the path with plain exact strings, and they are then the
// union over the combinations.
func TestExactStrings(t *testing.T) {
	for _, c := range []struct {
		name, pattern string
		want          []string
		ok            bool
	}{
		{"one type", `{"detail":{"eventType":["a.b"]}}`, []string{"a.b"}, true},
		{"several types and other fields", `{"source":["s"],"detail":{"eventType":["a","b"],"outcome":{"result":["FAILURE"]}}}`, []string{"a", "b"}, true},
		{"dotted pattern key", `{"detail.eventType":["a"]}`, []string{"a"}, true},
		{"$or over other fields", `{"detail":{"eventType":["a"],"$or":[{"x":["1"]},{"y":["2"]}]}}`, []string{"a"}, true},
		{"$or over the path", `{"detail":{"$or":[{"eventType":["a"]},{"eventType":["b","a"]}]}}`, []string{"a", "b"}, true},
		{"$or with a branch without the path", `{"detail":{"$or":[{"eventType":["a"]},{"x":["b"]}]}}`, nil, false},
		{"path not named", `{"detail":{"x":["a"]}}`, nil, false},
		{"prefix", `{"detail":{"eventType":[{"prefix":"user."}]}}`, nil, false},
		{"exact string and prefix", `{"detail":{"eventType":["a",{"prefix":"user."}]}}`, nil, false},
		{"exists false", `{"detail":{"eventType":["a",{"exists":false}]}}`, nil, false},
		{"anything-but", `{"detail":{"eventType":[{"anything-but":"a"}]}}`, nil, false},
		{"number", `{"detail":{"eventType":["a",1]}}`, nil, false},
		{"null", `{"detail":{"eventType":["a",null]}}`, nil, false},
		{"ip address", `{"detail":{"eventType":["10.0.0.1"]}}`, nil, false},
		{"explicit exact operator", `{"detail":{"eventType":[{"equals-ignore-case":"a"}]}}`, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := MustCompile(c.pattern).ExactStrings("detail.eventType")
			slices.Sort(got)
			if ok != c.ok || !slices.Equal(got, c.want) {
				t.Errorf("ExactStrings: got %q, %v, want %q, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

// TestExactStringsAgreeWithMatch: for patterns that report exact strings, an
// event whose eventType is not among them never matches, whatever else it holds.
func TestExactStringsAgreeWithMatch(t *testing.T) {
	pats := []string{
		`{"detail":{"eventType":["a","b"]}}`,
		`{"detail":{"$or":[{"eventType":["a"]},{"eventType":["b"],"x":["1"]}]}}`,
		`{"detail":{"eventType":["a"],"x":[{"exists":false}]}}`,
	}
	events := []string{
		`{"eventType":"a"}`, `{"eventType":"b","x":"1"}`, `{"eventType":"c","x":"1"}`, `{"eventType":"event\u0061"}`,
		`{"eventType":"A"}`, `{"x":"1"}`, `{"eventType":"b"}`, `{"eventType":"c"}`,
	}
	for _, ps := range pats {
		p := MustCompile(ps)
		vals, ok := p.ExactStrings("detail.eventType")
		if !ok {
			t.Fatalf("%s: no exact strings", ps)
		}
		for _, ev := range events {
			var m struct{ EventType string }
			if err := json.Unmarshal([]byte(ev), &m); err != nil {
				t.Fatal(err)
			}
			et := m.EventType
			if p.MatchEnvelope(&Envelope{Detail: []byte(ev)}) && !slices.Contains(vals, et) {
				t.Errorf("%s matches %s, whose eventType %q is not in %q", ps, ev, et, vals)
			}
		}
	}
}
