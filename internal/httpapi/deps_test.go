package httpapi_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLeaf keeps httpapi a leaf and the packages that contribute routes
// apart: httpapi imports auth and the standard library only, and source
// and query reach neither stream nor the api server through it.
func TestLeaf(t *testing.T) {
	const mod = "github.com/auditstream/auditstream/"
	deps := func(pkgs ...string) []string {
		args := append([]string{"list", "-deps"}, pkgs...)
		out, err := exec.CommandContext(t.Context(), "go", args...).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		var own []string
		for _, p := range strings.Fields(string(out)) {
			if strings.HasPrefix(p, mod) {
				own = append(own, strings.TrimPrefix(p, mod))
			}
		}
		return own
	}
	for _, p := range deps("./") {
		if !slices.Contains([]string{"internal/httpapi", "internal/auth", "internal/event", "internal/kvstore"}, p) {
			t.Errorf("httpapi depends on %s, want only auth (and what auth imports)", p)
		}
	}
	for _, p := range deps("../source/...", "../query") {
		if p == "internal/stream" || p == "internal/api" {
			t.Errorf("source or query depends on %s", p)
		}
	}
}
