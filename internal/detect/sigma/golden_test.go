package sigma

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/detect/field"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	packDir    = "../../../testdata/detections/"
	eventsFile = "../../../testdata/okta/logevents.ndjson"
)

// testOverlay is the overlay the golden run uses: a value for the placeholder rule's
// %legtimate_identifiers%.
var testOverlay = Overlay{Placeholders: map[string][]string{"legtimate_identifiers": {"@example.com"}}}

func readEvents(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, slices.Clone(sc.Bytes()))
	}
	return out
}

func loadPack(t testing.TB, dir string, ov Overlay) *Pack {
	t.Helper()
	p, err := LoadDir(packDir+dir, ov)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hits runs every rule of the pack over the events and returns, per rule file name,
// the 1-based event lines it matched.
func hits(t testing.TB, p *Pack, events [][]byte) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	var e field.Event
	for i, raw := range events {
		if err := e.Reset(raw); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, r := range p.Rules {
			if r.Match(&e) {
				out[path.Base(r.File)] = append(out[path.Base(r.File)], i+1)
			}
		}
	}
	return out
}

func render(h map[string][]int) string {
	var names []string
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %v\n", strings.TrimSuffix(n, ".yml"), h[n])
	}
	return b.String()
}

// TestGolden runs both SigmaHQ packs over logevents.ndjson: the camelCase pack's hits
// are the golden file; the r2026-01-01 (lower-case) pack gives the same hits but for
// the placeholder rule (absent there) and okta_apt_suspicious_user_creation (whose
// field target.user.display.name was replaced upstream; here it matches nothing
// either way).
func TestGolden(t *testing.T) {
	events := readEvents(t)
	if len(events) != 56 {
		t.Fatalf("got %d events, want 56", len(events))
	}
	cur := loadPack(t, "sigma", testOverlay)
	old := loadPack(t, "sigma-r2026-01-01", testOverlay)
	if len(cur.Refused) != 0 || len(old.Refused) != 0 {
		t.Fatalf("refused: %v %v", cur.Refused, old.Refused)
	}
	hc, ho := hits(t, cur, events), hits(t, old, events)
	got := render(hc)
	golden := "testdata/golden_okta.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("camelCase pack: got\n%s\nwant\n%s", got, want)
	}
	delete(hc, "okta_session_impersonation_granted.yml")
	if a, b := render(hc), render(ho); a != b {
		t.Errorf("the two spellings differ:\ncamelCase\n%s\nr2026-01-01\n%s", a, b)
	}
}
