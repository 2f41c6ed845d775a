package jsonmap

import (
	"encoding/json"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encode(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGet(t *testing.T) {
	m := decode(t, `{"a":{"b":{"c":"x"}},"s":"y","n":null}`)
	for _, tt := range []struct {
		path []string
		want any
		ok   bool
	}{
		{[]string{"a", "b", "c"}, "x", true},
		{[]string{"s"}, "y", true},
		{[]string{"n"}, nil, true},
		{[]string{"a", "x"}, nil, false},
		{[]string{"s", "x"}, nil, false}, // through a string
		{[]string{"missing", "x"}, nil, false},
	} {
		if got, ok := Get(m, tt.path); got != tt.want || ok != tt.ok {
			t.Errorf("%v: got %v, %v, want %v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSetAndDelete(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		path     []string
		set      string
		wantSet  string
		wantDel  string
	}{
		{"top", `{"a":1}`, []string{"b"}, "v", `{"a":1,"b":"v"}`, `{"a":1}`},
		{"makes objects", `{}`, []string{"a", "b", "c"}, "v", `{"a":{"b":{"c":"v"}}}`, `{"a":{"b":{}}}`},
		{"replaces a non-object on the way", `{"a":"s"}`, []string{"a", "b"}, "v", `{"a":{"b":"v"}}`, `{"a":{}}`},
		{"keeps siblings", `{"a":{"x":1,"b":2}}`, []string{"a", "b"}, "v", `{"a":{"b":"v","x":1}}`, `{"a":{"x":1}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := decode(t, tt.in)
			Set(m, tt.path, tt.set)
			if got := encode(t, m); got != tt.wantSet {
				t.Errorf("set: got %s, want %s", got, tt.wantSet)
			}
			Delete(m, tt.path)
			if got := encode(t, m); got != tt.wantDel {
				t.Errorf("delete: got %s, want %s", got, tt.wantDel)
			}
		})
	}
	m := decode(t, `{"a":"s"}`)
	Delete(m, []string{"a", "b"}) // through a string: nothing to delete
	if got := encode(t, m); got != `{"a":"s"}` {
		t.Errorf("delete through a string: got %s, want {\"a\":\"s\"}", got)
	}
}

func TestLookupAndScalar(t *testing.T) {
	m := decode(t, `{"actor":{"id":"u1"},"target":[{"id":"t0"},{"id":"t1","n":2.5,"ok":true,"o":{"k":[1]}}],"z":null}`)
	for _, tt := range []struct {
		path []string
		want string
	}{
		{[]string{"actor", "id"}, "u1"},
		{[]string{"target", "1", "id"}, "t1"},
		{[]string{"target", "1", "n"}, "2.5"},
		{[]string{"target", "1", "ok"}, "true"},
		{[]string{"target", "1", "o"}, `{"k":[1]}`},
		{[]string{"target", "2", "id"}, ""},
		{[]string{"target", "-1"}, ""},
		{[]string{"target", "x"}, ""},
		{[]string{"actor", "id", "deeper"}, ""},
		{[]string{"z"}, ""},
		{[]string{"missing"}, ""},
	} {
		if got := Scalar(Lookup(m, tt.path)); got != tt.want {
			t.Errorf("Scalar(Lookup(%v)): got %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := Scalar(json.Number("1e3")); got != "1e3" {
		t.Errorf("Scalar(json.Number): got %q, want the number as written", got)
	}
}
