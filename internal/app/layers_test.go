package app_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// layers orders the module's packages from the bottom: a package may
// import packages of its own layer or lower ones, never a higher one.
// The first pattern that matches gives a package's layer.
var layers = []struct {
	layer int
	re    *regexp.Regexp
}{
	{8, regexp.MustCompile(`^(cmd|bench|e2e)(/|$)`)},
	{7, regexp.MustCompile(`^internal/app$`)},
	{6, regexp.MustCompile(`^internal/(api|config|cli|console)$`)},
	{5, regexp.MustCompile(`^internal/(stream|lambda|source/.+|detect)$`)},
	{4, regexp.MustCompile(`^internal/(query|activity|source|sink/.+|integrity|integrity/integritytest|exportdigest|detect/.+)$`)},
	{3, regexp.MustCompile(`^internal/(httpapi|sysevent|sink|supervise|archive|client)$`)},
	{2, regexp.MustCompile(`^internal/(secret|pattern|journal|auth|journal/journaltest|client/clienttest)$`)},
	{1, regexp.MustCompile(`^internal/`)}, // the leaves: wire, event, kvstore, jsonlex, pause, benchcost, syncbuf, fakeclock, …
}

func layerOf(p string) int {
	for _, l := range layers {
		if l.re.MatchString(p) {
			return l.layer
		}
	}
	return 0
}

// TestLayers: no package imports one of a higher layer (the sources and
// the query API reach neither the log streams, the API server, the
// configuration nor the wiring; the sinks know nothing of who runs them).
func TestLayers(t *testing.T) {
	const mod = "github.com/auditstream/auditstream/"
	out, err := exec.CommandContext(t.Context(), "go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from := strings.TrimPrefix(f[0], mod)
		n++
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			to := strings.TrimPrefix(imp, mod)
			if layerOf(to) > layerOf(from) {
				t.Errorf("%s (layer %d) imports %s (layer %d)", from, layerOf(from), to, layerOf(to))
			}
		}
	}
	if n < 40 {
		t.Fatalf("go list gave %d packages, want the whole module", n)
	}
}
