package sinktest

import (
	"strings"
	"testing"
)

// WantProblems checks the error of a Config's Validate against a table
// test's want: nil when want is empty, else an error whose text holds
// every string in want (each problem a case expects).
func WantProblems(t testing.TB, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("validate: got %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("validate: got nil, want errors %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("validate: got %q, want it to contain %q", err, w)
		}
	}
}
