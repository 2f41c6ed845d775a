package field

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func values(t testing.TB, e *Event, path string) []string {
	t.Helper()
	var out []string
	e.Values(MustParsePath(path), func(v Value) bool {
		out = append(out, kindName(v.Kind)+":"+string(v.Text))
		return true
	})
	return out
}

func kindName(k Kind) string {
	return map[Kind]string{Null: "null", Bool: "bool", Number: "num", String: "str", Object: "obj"}[k]
}

func TestValues(t *testing.T) {
	const ev = `{
	  "eventType": "user.session.start",
	  "EventType": "shadowed",
	  "actor": {"alternateId": "a\u0040b.test", "detailEntry": null},
	  "securityContext": {"isProxy": true, "asNumber": 394089, "domain": null},
	  "target": [
	    {"displayName": "Okta Admin Console", "detail": {"x": [1, 2]}},
	    {"displayName": "Other", "alternateId": "o"}
	  ],
	  "debugContext": {"debugData": {"behaviors": ["New Device=POSITIVE", ["nested"]], "obj": {"a" : 1, "b": "c d"}}},
	  "empty": [],
	  "ALLCAPS": {"Key": "v"}
	}`
	var e Event
	if err := e.Reset([]byte(ev)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"eventType", []string{"str:user.session.start"}},
		{"EventType", []string{"str:shadowed"}},
		{"eventtype", []string{"str:user.session.start"}}, // first case-insensitive in document order
		{"EVENTTYPE", []string{"str:user.session.start"}},
		{"actor.alternateId", []string{"str:a@b.test"}},
		{"actor.alternateid", []string{"str:a@b.test"}},
		{"actor.detailEntry", []string{"null:null"}},
		{"actor.missing", nil},
		{"actor.alternateId.deeper", nil},
		{"securityContext.isProxy", []string{"bool:true"}},
		{"securitycontext.isproxy", []string{"bool:true"}},
		{"securityContext.asNumber", []string{"num:394089"}},
		{"target.displayName", []string{"str:Okta Admin Console", "str:Other"}},
		{"target.displayname", []string{"str:Okta Admin Console", "str:Other"}},
		{"target.0.displayName", []string{"str:Okta Admin Console"}},
		{"target.1.displayName", []string{"str:Other"}},
		{"target.2.displayName", nil},
		{"target.alternateId", []string{"str:o"}},
		{"target.detail.x", []string{"num:1", "num:2"}},
		{"target.0", []string{`obj:{"displayName":"Okta Admin Console","detail":{"x":[1,2]}}`}},
		{"debugContext.debugData.behaviors", []string{"str:New Device=POSITIVE", "str:nested"}},
		{"debugContext.debugData.obj", []string{`obj:{"a":1,"b":"c d"}`}},
		{"empty", nil},
		{"allcaps.key", []string{"str:v"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := values(t, &e, tt.path); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if !e.Exists(MustParsePath("actor.detailEntry")) || e.Exists(MustParsePath("actor.nope")) {
		t.Error("Exists: null must exist, absent must not")
	}
	var strs []string
	e.Strings(func(b []byte) bool { strs = append(strs, string(b)); return true })
	want := []string{"user.session.start", "shadowed", "a@b.test", "Okta Admin Console", "Other", "o", "New Device=POSITIVE", "nested", "c d", "v"}
	if !slices.Equal(strs, want) {
		t.Errorf("Strings: got %q, want %q", strs, want)
	}
	strs = strs[:0]
	for _, v := range e.AppendStrings(nil) {
		strs = append(strs, string(v.Text))
	}
	if !slices.Equal(strs, want) {
		t.Errorf("AppendStrings: got %q, want %q", strs, want)
	}
}

func TestAppendValues(t *testing.T) {
	var e Event
	if err := e.Reset([]byte(`{"a":[{"x":1},{"y":2},"s",null]}`)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range e.AppendValues(nil, MustParsePath("a")) {
		got = append(got, kindName(v.Kind)+":"+string(v.Text))
	}
	want := []string{`obj:{"x":1}`, `obj:{"y":2}`, "str:s", "null:null"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValuesStop(t *testing.T) {
	var e Event
	if err := e.Reset([]byte(`{"a":[1,2,3]}`)); err != nil {
		t.Fatal(err)
	}
	n := 0
	e.Values(MustParsePath("a"), func(Value) bool { n++; return false })
	if n != 1 {
		t.Errorf("got %d calls, want 1", n)
	}
}

func TestResetErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1}x`, `tru`, `01`, `1.`, `"\x"`, "\"a\x01\"", `{"a":1,}`, strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)} {
		var e Event
		if err := e.Reset([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Reset(%q): got %v, want ErrSyntax", in, err)
		}
		if got := values(t, &e, "a"); got != nil {
			t.Errorf("after failed Reset(%q): got %q, want nothing", in, got)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, in := range []string{"", ".", "a.", ".a", "a..b"} {
		if _, err := ParsePath(in); !errors.Is(err, ErrEmptySegment) {
			t.Errorf("ParsePath(%q): got %v, want ErrEmptySegment", in, err)
		}
	}
	if p := MustParsePath("a.b"); p.String() != "a.b" {
		t.Errorf("got %q, want a.b", p.String())
	}
}

// reference resolves a path with encoding/json's decoder, keeping key order, as
// the package documents: the oracle for the fuzz and corpus comparisons.
type ordered struct {
	keys []string
	vals []any
}

func decodeOrdered(d *json.Decoder) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			o := &ordered{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeOrdered(d)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k.(string))
				o.vals = append(o.vals, v)
			}
			_, err := d.Token()
			return o, err
		}
		var a []any
		for d.More() {
			v, err := decodeOrdered(d)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.Token()
		if a == nil {
			a = []any{}
		}
		return a, err
	default:
		return tok, nil
	}
}

func refWalk(v any, segs []seg, out *[]string) {
	if len(segs) == 0 {
		refEmit(v, out)
		return
	}
	switch v := v.(type) {
	case *ordered:
		found := -1
		for i, k := range v.keys {
			if k == segs[0].name {
				found = i
				break
			}
			if found < 0 && equalFold([]byte(k), segs[0].name) {
				found = i
			}
		}
		if found >= 0 {
			refWalk(v.vals[found], segs[1:], out)
		}
	case []any:
		if segs[0].index >= 0 {
			if segs[0].index < len(v) {
				refWalk(v[segs[0].index], segs[1:], out)
			}
			return
		}
		for _, x := range v {
			refWalk(x, segs, out)
		}
	}
}

func refEmit(v any, out *[]string) {
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			refEmit(x, out)
		}
	case *ordered:
		*out = append(*out, "obj")
	case nil:
		*out = append(*out, "null:null")
	case bool:
		if v {
			*out = append(*out, "bool:true")
		} else {
			*out = append(*out, "bool:false")
		}
	case json.Number:
		*out = append(*out, "num:"+string(v))
	case string:
		*out = append(*out, "str:"+v)
	}
}

func compare(t *testing.T, e *Event, raw []byte, path string) {
	t.Helper()
	p, err := ParsePath(path)
	if err != nil {
		return
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	ref, err := decodeOrdered(d)
	if err != nil {
		t.Fatalf("reference decode: %v", err)
	}
	var want []string
	refWalk(ref, p.segs, &want)
	var got []string
	e.Values(p, func(v Value) bool {
		s := kindName(v.Kind) + ":" + string(v.Text)
		if v.Kind == Object {
			var c bytes.Buffer
			if err := json.Compact(&c, v.Text); err != nil || !bytes.Equal(c.Bytes(), v.Text) {
				t.Errorf("object text %q is not compact JSON", v.Text)
			}
			s = "obj"
		}
		got = append(got, s)
		return true
	})
	if !slices.Equal(got, want) {
		t.Errorf("%s over %s: got %q, want %q", path, raw, got, want)
	}
	var appended []string
	for _, v := range e.AppendValues(nil, p) {
		s := kindName(v.Kind) + ":" + string(v.Text)
		if v.Kind == Object {
			s = "obj"
		}
		appended = append(appended, s)
	}
	if !slices.Equal(appended, want) {
		t.Errorf("AppendValues %s over %s: got %q, want %q", path, raw, appended, want)
	}
}

func TestAgainstEncodingJSON(t *testing.T) {
	f, err := os.Open("../../../testdata/okta/logevents.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	paths := []string{"eventType", "eventtype", "actor.alternateId", "target.displayName", "target.0.displayName",
		"target.1.alternateId", "debugContext.debugData.behaviors", "debugcontext.debugdata.logonlysecuritydata",
		"securityContext.isProxy", "securityContext.asNumber", "client.geographicalContext.geolocation.lat",
		"outcome.reason", "target.detailEntry", "target", "actor", "transaction.detail"}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var e Event
	n := 0
	for sc.Scan() {
		raw := sc.Bytes()
		if err := e.Reset(raw); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		for _, p := range paths {
			compare(t, &e, raw, p)
		}
		n++
	}
	if n != 56 {
		t.Errorf("got %d events, want 56", n)
	}
}

func FuzzValues(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[{"c":1},{"C":"x\u00e9"}]},"A":null}`), "a.b.c")
	f.Add([]byte(`{"target":[{"displayName":"x"},{"displayName":["y",[true]]}]}`), "target.1.displayName")
	f.Add([]byte(`[[1],{"a":2}]`), "a")
	f.Add([]byte(`{"k\"ey":{"n": -1.5e+3 }}`), "k\"ey.n")
	f.Fuzz(func(t *testing.T, raw []byte, path string) {
		var e Event
		err := e.Reset(raw)
		valid := json.Valid(raw)
		if (err == nil) != valid {
			t.Fatalf("Reset(%q): got err %v, json.Valid %v", raw, err, valid)
		}
		if err != nil || !utf8.Valid(raw) {
			// encoding/json replaces invalid UTF-8 with U+FFFD; we pass bytes through.
			return
		}
		compare(t, &e, raw, path)
	})
}

func BenchmarkReset(b *testing.B) {
	data, err := os.ReadFile("../../../testdata/okta/logevents.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	p := MustParsePath("target.displayName")
	var e Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := e.Reset(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
		e.Values(p, func(Value) bool { return true })
	}
}

// BenchmarkExists is a Sigma `exists` test: a path present once, one
// through an array and one absent, on each event of the fixture.
func BenchmarkExists(b *testing.B) {
	data, err := os.ReadFile("../../../testdata/okta/logevents.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	evs := make([]Event, len(lines))
	for i := range lines {
		if err := evs[i].Reset(lines[i]); err != nil {
			b.Fatal(err)
		}
	}
	paths := []Path{MustParsePath("actor.id"), MustParsePath("target.displayName"), MustParsePath("client.nope")}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range evs {
			for _, p := range paths {
				if evs[i].Exists(p) {
					n++
				}
			}
		}
	}
	if n == 0 {
		b.Fatal("no path exists")
	}
}
