package sinktest

import "testing"

func TestReceivedFrom(t *testing.T) {
	src := []string{`{"uuid":"a","x":1}`, `{"uuid":"b"}`}
	got, err := ReceivedFrom(src, func(s string) []byte { return []byte(s) })
	if err != nil || len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" || string(got[0].Data) != src[0] {
		t.Fatalf("got %+v %v, want ids a, b with their events", got, err)
	}
	if _, err := ReceivedFrom([]string{`{"x":1}`}, func(s string) []byte { return []byte(s) }); err == nil {
		t.Error("no uuid: got nil error, want one")
	}
}

func TestEqualWithout(t *testing.T) {
	tests := []struct {
		name, event, got string
		drop             []string
		want             bool
	}{
		{"added member dropped", `{"a":1}`, `{"@timestamp":"t","a":1}`, []string{"@timestamp"}, true},
		{"added member kept", `{"a":1}`, `{"@timestamp":"t","a":1}`, nil, false},
		{"changed value", `{"a":1}`, `{"a":2,"t":0}`, []string{"t"}, false},
		{"not json", `{"a":1}`, `nope`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EqualWithout([]byte(tt.event), []byte(tt.got), tt.drop...); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
