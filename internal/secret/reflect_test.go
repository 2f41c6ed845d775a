package secret

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

type pathsInner struct {
	Token  String `json:"token"`
	Public string `json:"public"`
}

type pathsEmbedded struct {
	Key String `json:"key,omitempty"`
}

type pathsOuter struct {
	pathsEmbedded
	Password String      `json:"password,omitempty"`
	Auth     pathsInner  `json:"auth"`
	Ptr      *pathsInner `json:"ptr,omitempty"`
	Hidden   String      `json:"-"`
	NoTag    String
	Tagged   pathsEmbedded `json:"tagged"`
	Plain    string        `json:"plain"`
}

func TestPaths(t *testing.T) {
	got := Paths(pathsOuter{})
	want := []string{"key", "password", "auth.token", "ptr.token", "NoTag", "tagged.key"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := Paths(&pathsOuter{}); !slices.Equal(got, want) {
		t.Fatalf("pointer: got %v, want %v", got, want)
	}
	if got := Paths(nil); got != nil {
		t.Fatalf("nil: got %v, want nil", got)
	}
}

// TestPathsStripEverySecret: the derived paths remove every secret that
// encoding/json writes, whatever the nesting.
func TestPathsStripEverySecret(t *testing.T) {
	v := pathsOuter{pathsEmbedded: pathsEmbedded{Key: "k"}, Password: "p", Auth: pathsInner{Token: "t", Public: "x"},
		Ptr: &pathsInner{Token: "t2"}, NoTag: "n", Tagged: pathsEmbedded{Key: "k2"}}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Strip(raw, Paths(v))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), Redacted) {
		t.Fatalf("got %s, want no secret left", out)
	}
	if !strings.Contains(string(out), `"public":"x"`) {
		t.Fatalf("got %s, want the other settings kept", out)
	}
}

func TestPathsRefusesSecretsInSlices(t *testing.T) {
	type bad struct {
		Keys []pathsInner `json:"keys"`
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "keys") {
			t.Fatalf("got panic %v, want one naming keys", r)
		}
	}()
	Paths(bad{})
}
