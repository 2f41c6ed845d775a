package secret

import (
	"encoding/json"
	"testing"
)

func TestStripAndCarry(t *testing.T) {
	paths := []string{"auth.password", "token"}
	stored := json.RawMessage(`{"url":"u","token":"t1","auth":{"type":"basic","username":"a","password":"p1"}}`)

	shown, err := Strip(stored, paths)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(shown), `{"auth":{"type":"basic","username":"a"},"url":"u"}`; got != want {
		t.Fatalf("Strip: got %s, want %s", got, want)
	}

	tests := []struct {
		name, update, want string
	}{
		{"left out", `{"url":"v","auth":{"type":"basic","username":"a"}}`,
			`{"auth":{"password":"p1","type":"basic","username":"a"},"token":"t1","url":"v"}`},
		{"sent back redacted", `{"url":"v","token":"********","auth":{"password":"********"}}`,
			`{"auth":{"password":"p1"},"token":"t1","url":"v"}`},
		{"replaced", `{"token":"t2","auth":{"password":"p2"}}`,
			`{"auth":{"password":"p2"},"token":"t2"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Carry(json.RawMessage(tt.update), stored, paths)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}
