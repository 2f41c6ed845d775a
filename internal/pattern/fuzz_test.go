package pattern

import (
	"errors"
	"testing"
)

// fuzzPatterns seed both fuzz targets: every operator, valid and invalid forms.
var fuzzPatterns = []string{
	`{"a":["x"]}`,
	`{"detail":{"eventType":["user.session.start"],"outcome":{"result":["FAILURE"]}}}`,
	`{"a":[{"prefix":"us-"},{"suffix":{"equals-ignore-case":".PNG"}}]}`,
	`{"a":[{"wildcard":"a*b\\*c*"}]}`,
	`{"a":[{"anything-but":{"wildcard":["*x*","y*"]}}]}`,
	`{"a":[{"anything-but":[1,2,3]},{"exists":false}]}`,
	`{"a":[{"numeric":[">",0,"<=",5]}],"b":[{"cidr":"10.0.0.0/8"}]}`,
	`{"$or":[{"a":["1"]},{"b":{"$or":[{"c":[null]},{"d":[true,false,1e3]}]}}]}`,
	`{"e":{"f":["Anna"],"g":["Jones"]}}`,
	`{"a.b":["x"],"a":{"b":[{"equals-ignore-case":"X"}]}}`,
	`{"a":[{"anything-but":null}]}`,
	`{"a":[{"wildcard":"**"}]}`,
	`{"a":[{"numeric":[">",0,">",0]}]}`,
	`{}`,
	`[`,
}

var fuzzEvents = []string{
	`{"a":"x","b":"10.1.2.3"}`,
	`{"detail":{"eventType":"user.session.start","outcome":{"result":"FAILURE"}}}`,
	`{"a":["us-east","img.png",5,null,true]}`,
	`{"e":[{"f":"Anna","g":"Smith"},{"f":"John","g":"Jones"}]}`,
	`{"a.b":"x","a":{"b":"X"},"c":null,"d":1000.0}`,
	`{"a":[[["x"]]],"b":{}}`,
	`{"a":"\u00e9\"\\"}`,
	`[1]`,
	`{"a":`,
}

func FuzzCompile(f *testing.F) {
	for _, p := range fuzzPatterns {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, pat []byte) {
		p, err := Compile(pat)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Compile error %v is not an *Error", err)
			}
			if perr.Reason == "" {
				t.Fatalf("empty reason")
			}
			return
		}
		if p.String() != string(pat) {
			t.Fatalf("String() does not return the source")
		}
		for _, ev := range fuzzEvents {
			p.Match([]byte(ev))
		}
	})
}

// FuzzMatch checks that matching never panics and that a Set agrees with its patterns
// matched one by one, in both the JSON and the Envelope form.
func FuzzMatch(f *testing.F) {
	for i, p := range fuzzPatterns {
		f.Add([]byte(p), []byte(fuzzEvents[i%len(fuzzEvents)]))
		f.Add([]byte(p), []byte(`{"detail":`+fuzzEvents[(i+1)%len(fuzzEvents)]+`,"source":"s","resources":["r"]}`))
	}
	fixed := []*Pattern{
		MustCompile(`{"a":[{"exists":true}]}`),
		MustCompile(`{"a":[{"anything-but":"x"}],"b":[{"exists":false}]}`),
		MustCompile(`{"detail":{"a":[{"prefix":""}]}}`),
		MustCompile(`{"e":{"f":[{"exists":true}],"g":[{"exists":true}]}}`),
	}
	f.Fuzz(func(t *testing.T, pat, event []byte) {
		p, err := Compile(pat)
		if err != nil {
			return
		}
		pats := append([]*Pattern{p}, fixed...)
		s := NewSet()
		var want []ID
		for i, q := range pats {
			id := ID(rune('A' + i))
			s.Add(id, q)
			if q.Match(event) {
				want = append(want, id)
			}
		}
		got := s.MatchAll(event, nil)
		if !equalIDs(got, want) {
			t.Fatalf("Set.MatchAll = %v, want %v (pattern %s, event %q)", got, want, pat, event)
		}
		// The same event as an envelope's detail.
		env := &Envelope{Version: "0", ID: "i", DetailType: "t", Source: "s", Account: "a",
			Time: "t", Region: "r", Resources: []string{"r"}, Detail: event}
		want = want[:0]
		for i, q := range pats {
			if q.MatchEnvelope(env) {
				want = append(want, ID(rune('A'+i)))
			}
		}
		got = s.MatchAllEnvelope(env, got[:0])
		if !equalIDs(got, want) {
			t.Fatalf("Set.MatchAllEnvelope = %v, want %v (pattern %s, detail %q)", got, want, pat, event)
		}
	})
}

func equalIDs(a, b []ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
