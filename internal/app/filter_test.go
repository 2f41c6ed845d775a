package app

import (
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
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
