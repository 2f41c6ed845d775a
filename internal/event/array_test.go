package event

import "testing"

func TestJSONArray(t *testing.T) {
	tests := []struct {
		name  string
		items []string
		want  string
	}{
		{"none", nil, "[]"},
		{"one", []string{`{"a":1}`}, `[{"a":1}]`},
		{"two", []string{`{"a":1}`, `{"b":2}`}, `[{"a":1},{"b":2}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JSONArray(tt.items, func(s string) []byte { return []byte(s) })
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if cap(got) <= len(got) {
				t.Errorf("cap %d, len %d: want room for a newline", cap(got), len(got))
			}
		})
	}
}
