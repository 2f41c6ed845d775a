package pattern

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// corpusDir is the AWS-validated LocalStack corpus in the module's
// testdata/eventbridge-patterns (see its README for source and licence).
func corpusDir(t testing.TB) string {
	dir := filepath.Join("..", "..", "testdata", "eventbridge-patterns")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("AWS-validated corpus not found at %s: %v", dir, err)
	}
	return dir
}

// corpusAllowList lists corpus cases whose result deliberately differs from AWS's,
// with the reason. Each entry is also listed in doc.go. It is empty: all cases agree.
var corpusAllowList = map[string]string{}

var trailingComma = regexp.MustCompile(`,(\s*[}\]])`)

// json5ToJSON drops whole-line // comments and trailing commas, which is all the JSON5
// the corpus uses (see its README).
func json5ToJSON(b []byte) []byte {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "//") {
			continue
		}
		out = append(out, line)
	}
	return trailingComma.ReplaceAll([]byte(strings.Join(out, "\n")), []byte("$1"))
}

// splitCase extracts the raw JSON text of the Event and EventPattern members, keeping
// the pattern's exact text (duplicate keys and number spellings included).
func splitCase(t *testing.T, b []byte) (event, pat []byte) {
	var c struct {
		Event        json.RawMessage
		EventPattern json.RawMessage
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("corpus file is not JSON after JSON5 clean-up: %v", err)
	}
	return c.Event, c.EventPattern
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json5"))
	if err != nil {
		t.Fatal(err)
	}
	msgsRaw, err := os.ReadFile(filepath.Join(dir, "exc-messages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs map[string]string
	if err := json.Unmarshal(msgsRaw, &msgs); err != nil {
		t.Fatal(err)
	}
	if len(files) != 155 {
		t.Errorf("got %d corpus files, want 155", len(files))
	}
	passed := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json5")
		t.Run(name, func(t *testing.T) {
			if why, ok := corpusAllowList[name]; ok {
				t.Skipf("deliberate difference: %s", why)
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			event, pat := splitCase(t, json5ToJSON(raw))
			p, err := Compile(pat)
			switch {
			case strings.HasSuffix(name, "_EXC"):
				want, ok := msgs[name]
				if !ok {
					t.Fatalf("no message for %s in exc-messages.json", name)
				}
				var perr *Error
				if !errors.As(err, &perr) {
					t.Fatalf("Compile(%s) = %v, want *Error %q", pat, err, want)
				}
				if got := err.Error(); got != want {
					t.Fatalf("Compile(%s) error\n got %q\nwant %q", pat, got, want)
				}
			default:
				if err != nil {
					t.Fatalf("Compile(%s): %v", pat, err)
				}
				want := !strings.HasSuffix(name, "_NEG")
				if got := p.Match(event); got != want {
					t.Fatalf("Match(pattern %s, event %s) = %v, want %v", pat, event, got, want)
				}
				env := envelopeFromJSON(t, event)
				if env != nil {
					if got := p.MatchEnvelope(env); got != want {
						t.Fatalf("MatchEnvelope = %v, want %v", got, want)
					}
				}
			}
			passed++
		})
	}
	t.Logf("corpus: %d of %d cases pass", passed, len(files))
}

// envelopeFromJSON converts an event to an Envelope when it has only envelope members
// (so that the Envelope form can be checked on the same cases), or returns nil.
func envelopeFromJSON(t *testing.T, event []byte) *Envelope {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(event, &m); err != nil {
		t.Fatal(err)
	}
	env := &Envelope{}
	str := func(k string, dst *string) bool {
		raw, ok := m[k]
		if !ok {
			return false
		}
		return json.Unmarshal(raw, dst) == nil
	}
	fields := map[string]*string{"version": &env.Version, "id": &env.ID, "detail-type": &env.DetailType,
		"source": &env.Source, "account": &env.Account, "time": &env.Time, "region": &env.Region}
	for k := range m {
		switch k {
		case "resources":
			if json.Unmarshal(m[k], &env.Resources) != nil {
				return nil
			}
		case "detail":
			env.Detail = m[k]
		default:
			dst, ok := fields[k]
			if !ok || !str(k, dst) {
				return nil
			}
		}
	}
	// Absent string fields cannot be expressed in an Envelope: they would be "".
	for k := range fields {
		if _, ok := m[k]; !ok {
			return nil
		}
	}
	return env
}

func TestCorpusMultiKey(t *testing.T) {
	dir := corpusDir(t)
	event, err := os.ReadFile(filepath.Join(dir, "complex_multi_key_event.json"))
	if err != nil {
		t.Fatal(err)
	}
	pat, err := os.ReadFile(filepath.Join(dir, "complex_multi_key_event_pattern.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(pat)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if !p.Match(event) {
		t.Fatalf("Match = false, want true (the last \"location\" wins)")
	}
}
