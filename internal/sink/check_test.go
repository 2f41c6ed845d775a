package sink

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	base := URLRules{Credentials: "token"}
	tests := []struct {
		name  string
		raw   string
		rules URLRules
		want  string // "" means valid
	}{
		{"https", "https://splunk.example.com:8088", base, ""},
		{"loopback http", "http://127.0.0.1:8088", base, ""},
		{"not a URL", "http://[::1", base, "not a URL"},
		{"scheme", "ftp://x", base, `scheme "ftp": want https (or http)`},
		{"no host", "https:///x", base, "no host"},
		{"credentials", "https://u:p@x/", base, "credentials in the URL: use token"},
		{"query on a base URL", "https://x/?token=t", base, "no query or fragment, the base URL only"},
		{"fragment on a base URL", "https://x/#f", base, "no query or fragment, the base URL only"},
		{"query allowed", "https://x/in?a=1", URLRules{Query: true}, ""},
		{"fragment with query allowed", "https://x/in#f", URLRules{Query: true}, "fragment is not sent: remove it"},
		{"plain http elsewhere", "http://splunk:8088", base, "plain http to splunk:8088"},
		{"plain http allowed", "http://splunk:8088", URLRules{InsecureHTTP: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.raw, tt.rules)
			if tt.want == "" {
				if err != nil || u == nil {
					t.Fatalf("got %v, %v, want the URL", u, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error: got %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckBetweenAndTimeout(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" means nil
	}{
		{"in range", CheckBetween("maxBytes", 1024, 1024, 2048), ""},
		{"below", CheckBetween("maxBytes", 10, 1024, 2048), "maxBytes 10: want between 1024 and 2048"},
		{"above", CheckBetween("maxEvents", 3, 1, 2), "maxEvents 3: want between 1 and 2"},
		{"timeout", CheckTimeout(Duration(time.Second), time.Minute), ""},
		{"timeout negative", CheckTimeout(Duration(-time.Second), time.Minute), "timeout -1s: want between 0 and 1m0s"},
		{"timeout zero", CheckTimeout(0, time.Minute), "timeout 0s: want between 0 and 1m0s"},
		{"timeout too long", CheckTimeout(Duration(time.Hour), time.Minute), "timeout 1h0m0s: want between 0 and 1m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestClosedReleasesOnce(t *testing.T) {
	var c Closed
	n := 0
	for range 3 {
		if err := c.Close(func() { n++ }); err != nil {
			t.Fatalf("close: got %v, want nil", err)
		}
	}
	if n != 1 || !c.Load() {
		t.Errorf("releases: got %d (closed %v), want 1 (closed true)", n, c.Load())
	}
}

func TestProblems(t *testing.T) {
	var p Problems
	if err := p.Err(); err != nil {
		t.Fatalf("empty: got %v, want nil", err)
	}
	p.Addf("maxBytes %d: too small", 3)
	p.Add(nil, CheckBetween("maxEvents", 0, 1, 2))
	got := p.Err()
	if got == nil || got.Error() != "maxBytes 3: too small\nmaxEvents 0: want between 1 and 2" {
		t.Errorf("got %q, want both problems, one a line, the nil dropped", got)
	}
}

type checkedConfig struct{ N, Default int }

func (c checkedConfig) Validate() error { return CheckBetween("n", c.N, 1, 9) }

func TestChecked(t *testing.T) {
	withDefault := func(c checkedConfig) checkedConfig { c.Default = 5; return c }
	got, err := Checked("demo", checkedConfig{N: 2}, withDefault)
	if err != nil || got.Default != 5 {
		t.Fatalf("got %+v %v, want the default applied and no error", got, err)
	}
	_, err = Checked("demo", checkedConfig{N: 10}, withDefault)
	if err == nil || err.Error() != "demo sink config: n 10: want between 1 and 9" {
		t.Errorf("got %v, want the problem wrapped with the sink's name", err)
	}
}
