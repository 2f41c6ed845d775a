package query

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// BenchmarkKeywordsMatch matches keywords against the real Okta events of
// testdata/okta/logevents.ndjson (about 1.4 KB each): a keyword no event
// holds (most events of a keyword search), and one most events hold; with
// Match's quick test and by walking every value (walk).
func BenchmarkKeywordsMatch(b *testing.B) {
	raw, err := os.ReadFile("../../testdata/okta/logevents.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	evs := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	for _, q := range []string{"user42", "okta"} {
		k, err := ParseKeywords(q)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []struct {
			name  string
			match func([]byte) bool
		}{{"match", k.Match}, {"walk", k.walkMatch}} {
			b.Run(q+"/"+m.name, func(b *testing.B) {
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					for _, ev := range evs {
						if m.match(ev) {
							n++
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
				b.ReportMetric(float64(n)/float64(b.N), "matches/op")
			})
		}
	}
}

// TestKeywordsQuickTestAgrees: Match (with its quick test on the raw
// bytes) answers as walking every value does, for every token of every
// value of the real Okta events, in upper and lower case, and for events
// with escapes and non-ASCII text.
func TestKeywordsQuickTestAgrees(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/okta/logevents.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	evs := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	evs = append(evs,
		[]byte(`{"a":"Mozilla\/5.0 (X11)","b":"say \"Hello\" \\ World","c":"tab\there"}`),
		[]byte(`{"a":"\u0041dmin","b":"caf\u00e9"}`),
		[]byte(`{"a":"Zürich","b":"\u212Aelvin","c":"KELVIN"}`),
		[]byte(`{"a":"line\nbreak","b":"x\/y"}`))
	words := map[string]bool{"mozilla/5.0": true, `"hello"`: true, "admin": true, "café": true,
		"zürich": true, "kelvin": true, "x/y": true, "break": true, "here": true, "nomatch": true}
	for _, ev := range evs {
		leaves(ev, 0, func(v rawValue) {
			for _, tok := range strings.FieldsFunc(v.text(), isSeparator) {
				if len(tok) <= MaxKeywordLen {
					words[tok] = true
				}
			}
		})
	}
	checked := 0
	for w := range words {
		for _, q := range []string{w, strings.ToUpper(w)} {
			k, err := ParseKeywords(q)
			if err != nil || len(k) == 0 {
				continue
			}
			for i, ev := range evs {
				if got, want := k.Match(ev), k.walkMatch(ev); got != want {
					t.Errorf("q %q, event %d: Match %v, walking %v", q, i, got, want)
				}
				checked++
			}
		}
	}
	if checked < 10000 {
		t.Errorf("checked %d cases, want many", checked)
	}
}
