package duration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationJSON(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: `"10s"`, want: 10 * time.Second},
		{in: `"1h30m"`, want: 90 * time.Minute},
		{in: `"ten"`, wantErr: true},
		{in: `10`, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var d Duration
			err := json.Unmarshal([]byte(tc.in), &d)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got error %v, want error %v", err, tc.wantErr)
			}
			if err == nil && d.D() != tc.want {
				t.Errorf("got %v, want %v", d.D(), tc.want)
			}
		})
	}
	out, err := json.Marshal(Duration(5 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"5m0s"`; string(out) != want {
		t.Errorf("got %s, want %s", out, want)
	}
}

func TestDurationYAML(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "d: 90s", want: 90 * time.Second},
		{in: "d: 1h", want: time.Hour},
		{in: "\nd: 5 minutes", wantErr: `line 2: "5 minutes" is not a duration like 30s or 5m`},
		{in: "d: [1]", wantErr: "line 1: want a duration"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var v struct{ D Duration }
			err := yaml.Unmarshal([]byte(tc.in), &v)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || v.D.D() != tc.want {
				t.Fatalf("got %v, %v, want %v", v.D.D(), err, tc.want)
			}
		})
	}
	out, err := yaml.Marshal(struct{ D Duration }{Duration(15 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if want := "d: 15s\n"; string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}
