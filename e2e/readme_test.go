package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the ```sh blocks of the README.md section under
// heading, joined.
func readmeBlock(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %q", heading)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks []string
	for {
		_, rest, ok := strings.Cut(section, "```sh\n")
		if !ok {
			break
		}
		var block string
		block, section, _ = strings.Cut(rest, "```")
		blocks = append(blocks, block)
	}
	if len(blocks) == 0 {
		t.Fatalf("README.md: no sh block under %q", heading)
	}
	return strings.Join(blocks, "")
}

// TestCIRunsReadmeTestCommand: .ci/run runs exactly the README's test
// command, so what CI proves is what a newcomer runs.
func TestCIRunsReadmeTestCommand(t *testing.T) {
	block := readmeBlock(t, "## Two commands")
	var cmd string
	for line := range strings.SplitSeq(block, "\n") {
		if strings.HasPrefix(line, "go test ") {
			cmd = line
		}
	}
	if cmd == "" {
		t.Fatalf("no go test command in the README's Two commands:\n%s", block)
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(ci)), "\n")
	if last := lines[len(lines)-1]; last != cmd {
		t.Fatalf(".ci/run ends with %q, want the README's %q", last, cmd)
	}
}

// TestReadmeTourIsSelfContained checks what pasting the tour in a fresh
// clone needs: it waits for readiness before the first request, uses only
// files of the repository, captures the stream id instead of a
// placeholder, and generates its admin token instead of a sample value.
// (The tour itself was run end to end against the binary by hand; it needs
// curl and openssl, which the test suite does not require.)
func TestReadmeTourIsSelfContained(t *testing.T) {
	tour := readmeBlock(t, "## A five-minute tour")
	serve := strings.Index(tour, "serve &")
	wait := strings.Index(tour, "until curl -sf http://127.0.0.1:8080/readyz")
	first := strings.Index(tour, "curl -s -H")
	if serve < 0 || wait < serve || first < wait {
		t.Errorf("the tour must start serve in the background, then wait for /readyz before its first request")
	}
	for _, bad := range []string{"../shared", "<id>", "change-me"} {
		if strings.Contains(tour, bad) {
			t.Errorf("the tour contains %q", bad)
		}
	}
	if !strings.Contains(tour, "AUDITSTREAM_ADMIN_TOKEN=$(") {
		t.Errorf("the tour must generate its admin token")
	}
	for _, p := range regexp.MustCompile(`\btestdata/[\w./-]+`).FindAllString(tour, -1) {
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("the tour reads %s: %v", p, err)
		}
	}
	if two := readmeBlock(t, "## Two commands"); strings.Contains(two, "change-me") || !strings.Contains(two, "AUDITSTREAM_ADMIN_TOKEN=$(") {
		t.Errorf("Two commands must generate the admin token:\n%s", two)
	}
}
