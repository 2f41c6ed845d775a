package app

import (
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/pattern"
)

func TestPatternLimitsFromConfig(t *testing.T) {
	long := []byte(`{"detail":{"eventType":["` + strings.Repeat("x", 200) + `"]}}`)
	if err := ValidateFilter(long); err != nil {
		t.Fatalf("default limits: got %v, want nil", err)
	}
	err := ValidateFilter(long, patternOptions(config.Patterns{MaxLength: 100})...)
	if err == nil || !strings.Contains(err.Error(), "Event pattern is not valid") {
		t.Fatalf("maxLength 100: got %v, want a pattern error", err)
	}
	off := false
	big := []byte(`{"n":[{"numeric":[">",9e10]}]}`)
	if err := ValidateFilter(big); err == nil {
		t.Fatalf("strict numeric operands by default: got nil, want an error")
	}
	if err := ValidateFilter(big, patternOptions(config.Patterns{StrictNumericOperands: &off})...); err != nil {
		t.Fatalf("strictNumericOperands false: got %v, want nil", err)
	}
}

// TestFilterEnvelope: a stream's filter matches each record's own envelope
// (default source of its org, its own source and account, time to the
// second) while it reuses the strings of the previous record, and matching
// allocates nothing.
func TestFilterEnvelope(t *testing.T) {
	d := &destinations{envelope: envelopeDefaults{account: "000000000000", region: "us-east-1"}}
	p, err := pattern.Compile([]byte(`{"source":["auditstream.acme","custom"],"account":["000000000000"],` +
		`"time":["2026-01-02T03:04:05Z"],"detail":{"eventType":["keep"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	f := d.filter(p)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := func(org, source, account string, pub time.Time, typ string) *event.Record {
		return &event.Record{UUID: "u", Org: org, Source: source, Account: account, Published: pub,
			Data: []byte(`{"eventType":"` + typ + `"}`)}
	}
	for _, c := range []struct {
		name string
		r    *event.Record
		want bool
	}{
		{"org acme", rec("acme", "", "", at.Add(900*time.Millisecond), "keep"), true},
		{"other event type", rec("acme", "", "", at, "drop"), false},
		{"another org's default source", rec("other", "", "", at, "keep"), false},
		{"acme again", rec("acme", "", "", at, "keep"), true},
		{"its own source", rec("other", "custom", "", at, "keep"), true},
		{"its own account", rec("acme", "", "123456789012", at, "keep"), false},
		{"the next second", rec("acme", "", "", at.Add(time.Second), "keep"), false},
		{"back to the second", rec("acme", "", "", at.Add(100*time.Millisecond), "keep"), true},
	} {
		if got := f(c.r); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	r := rec("acme", "", "", at, "keep")
	if raceEnabled {
		t.Log("allocations per match not counted under the race detector (it allocates)")
		return
	}
	if n := testing.AllocsPerRun(100, func() { f(r) }); n != 0 {
		t.Errorf("allocations per match: got %v, want 0", n)
	}
}
