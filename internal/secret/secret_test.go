package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type holder struct {
	Name     string `json:"name" yaml:"name"`
	Password String `json:"password" yaml:"password"`
}

func TestRedaction(t *testing.T) {
	const plain = "hunter2"
	h := holder{Name: "n", Password: plain}

	jsonOut, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var logOut bytes.Buffer
	slog.New(slog.NewJSONHandler(&logOut, nil)).Info("x", "cfg", h, "pw", h.Password)

	for _, tc := range []struct {
		name string
		out  string
	}{
		{"json", string(jsonOut)},
		{"yaml", string(yamlOut)},
		{"slog", logOut.String()},
		{"%v", fmt.Sprintf("%v", h)},
		{"%+v", fmt.Sprintf("%+v", h)},
		{"%#v", fmt.Sprintf("%#v", h)},
		{"%s", fmt.Sprintf("%s", h.Password)},
		{"%q", fmt.Sprintf("%q", h.Password)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.out, plain) {
				t.Errorf("got %s, want no %q in it", tc.out, plain)
			}
			if !strings.Contains(tc.out, Redacted) {
				t.Errorf("got %s, want %q in it", tc.out, Redacted)
			}
		})
	}
}

func TestUnset(t *testing.T) {
	var s String
	if got := s.String(); got != "" {
		t.Errorf("got %q, want empty", got)
	}
	out, err := json.Marshal(holder{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"","password":""}`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestDecodePlain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decode func([]byte, any) error
		in     string
	}{
		{"json", json.Unmarshal, `{"name":"n","password":"hunter2"}`},
		{"yaml", yaml.Unmarshal, "name: n\npassword: hunter2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h holder
			if err := tc.decode([]byte(tc.in), &h); err != nil {
				t.Fatal(err)
			}
			if got := h.Password.Reveal(); got != "hunter2" {
				t.Errorf("got %q, want %q", got, "hunter2")
			}
		})
	}
}
