package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/client/clienttest"
)

const token = "cli-token"

type command func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int

type result struct {
	code           int
	stdout, stderr string
}

// run runs cmd with env holding vars.
func run(t *testing.T, cmd command, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cmd(t.Context(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return vars[k] })
	return result{code, out.String(), errOut.String()}
}

func envFor(srv *clienttest.Server) map[string]string {
	return map[string]string{envURL: srv.URL, envToken: token}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const threeEvents = `{"uuid":"a","eventType":"user.session.start"}

{"uuid":"b","eventType":"user.session.end"}
{"uuid":"c","eventType":"user.session.end"}
`

func TestSend(t *testing.T) {
	srv := clienttest.New(t, token)
	file := writeFile(t, "events.ndjson", threeEvents)
	tests := []struct {
		name       string
		vars       map[string]string
		stdin      string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"file", envFor(srv), "", []string{file}, 0, "accepted 3, duplicates 0\n", ""},
		{"again is all duplicates", envFor(srv), "", []string{file}, 0, "accepted 0, duplicates 3\n", ""},
		{"stdin by dash", envFor(srv), `{"uuid":"d","eventType":"x"}`, []string{"-"}, 0, "accepted 1, duplicates 0\n", ""},
		{"stdin by default", envFor(srv), `{"uuid":"e","eventType":"x"}`, nil, 0, "accepted 1, duplicates 0\n", ""},
		{"flags after file", nil, "", []string{file, "--server", srv.URL, "--token", token}, 0, "accepted 0, duplicates 3\n", ""},
		{"admin token fallback", map[string]string{envURL: srv.URL, envAdminToken: token}, `{"uuid":"f","eventType":"x"}`, nil, 0, "accepted 1, duplicates 0\n", ""},
		{"flag beats env", map[string]string{envURL: "http://127.0.0.1:1", envToken: "wrong"}, `{"uuid":"g","eventType":"x"}`, []string{"-server=" + srv.URL, "-token=" + token}, 0, "accepted 1, duplicates 0\n", ""},
		{"no token", map[string]string{envURL: srv.URL}, "", nil, 2, "", "no API token"},
		{"two files", envFor(srv), "", []string{file, file}, 2, "", "usage: auditstream send"},
		{"unknown flag", envFor(srv), "", []string{"--nope"}, 2, "", "flag provided but not defined: -nope"},
		{"bad server", map[string]string{envURL: "127.0.0.1:8080", envToken: token}, "", nil, 2, "", "want an http or https URL"},
		{"missing file", envFor(srv), "", []string{filepath.Join(t.TempDir(), "none")}, 1, "", "no such file"},
		{"wrong token", map[string]string{envURL: srv.URL, envToken: "wrong"}, threeEvents, nil, 1, "", "401 E0000011: Invalid token provided"},
		{"bad line", envFor(srv), "{\"uuid\":\"h\",\"eventType\":\"x\"}\n\nnot json\n", nil, 1, "", "line 3 is not a JSON object"},
		{"server rejects", envFor(srv), `{"uuid":"i"}`, nil, 1, "", "400 E0000001"},
		{"unreachable", map[string]string{envURL: "http://127.0.0.1:1", envToken: token}, threeEvents, nil, 1, "", "connection refused"},
		{"empty stdin", envFor(srv), "", []string{"-"}, 1, "", "no events: stdin is empty"},
		{"blank stdin", envFor(srv), "\n  \n\t\n", nil, 1, "", "no events: stdin is empty"},
		{"empty file", envFor(srv), "", []string{writeFile(t, "empty.ndjson", "")}, 1, "", "empty.ndjson is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, Send, tt.vars, tt.stdin, tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("got exit %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			if r.stdout != tt.wantStdout {
				t.Errorf("got stdout %q, want %q", r.stdout, tt.wantStdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("got stderr %q, want it to contain %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestSendHelp(t *testing.T) {
	r := run(t, Send, nil, "", "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: auditstream send") || !strings.Contains(r.stdout, "--server URL") {
		t.Errorf("got exit %d, stdout %q, want usage and 0", r.code, r.stdout)
	}
}

func TestStreamsUsageErrors(t *testing.T) {
	srv := clienttest.New(t, token)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no verb", nil, "needs a verb"},
		{"unknown verb", []string{"frobnicate"}, `unknown streams verb "frobnicate"`},
		{"get without id", []string{"get"}, "takes one stream ID, got 0"},
		{"two ids", []string{"delete", "a", "b"}, "takes one stream ID, got 2"},
		{"list with args", []string{"list", "x"}, "takes no arguments"},
		{"since on list", []string{"list", "--since", "1h"}, "does not take --since"},
		{"file on get", []string{"get", "x", "-f", "y"}, "does not take -f"},
		{"replay without since", []string{"replay", "x"}, "needs --since"},
		{"replay bad since", []string{"replay", "x", "--since", "yesterday"}, `--since "yesterday"`},
		{"apply without file", []string{"apply"}, "needs -f FILE"},
		{"bad output", []string{"list", "-o", "yaml"}, `--output "yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, Streams, envFor(srv), "", tt.args...)
			if r.code != 2 {
				t.Fatalf("got exit %d, want 2; stderr: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "usage: auditstream streams") {
				t.Errorf("got stderr %q, want %q and the usage", r.stderr, tt.want)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("usage errors made %d requests, want 0", n)
	}
}

const applyYAML = `
streams:
  - name: siem
    type: http
    settings:
      url: http://127.0.0.1:9/hook
      body: batch
      maxEvents: 500
    filter:
      detail:
        eventType: [{prefix: "user.session."}]
  - name: archive
    type: http
    status: inactive
    settings: {url: "http://127.0.0.1:9/archive"}
`

func TestStreamsFlow(t *testing.T) {
	srv := clienttest.New(t, token)
	srv.PageSize = 1
	env := envFor(srv)
	file := writeFile(t, "streams.yaml", applyYAML)

	r := run(t, Streams, env, "", "apply", "-f", file)
	if r.code != 0 {
		t.Fatalf("apply: exit %d, stderr %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "created siem (") || !strings.HasSuffix(lines[0], ") ACTIVE") ||
		!strings.HasPrefix(lines[1], "created, deactivated archive (") || !strings.HasSuffix(lines[1], ") INACTIVE") {
		t.Fatalf("apply printed %q", r.stdout)
	}

	r = run(t, Streams, env, "", "list", "--output", "json")
	var list []struct {
		ID, Name, Status string
		Settings         map[string]any
		Filter           map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 0 {
		t.Fatalf("list json: exit %d, %v, %q", r.code, err, r.stdout)
	}
	if len(list) != 2 || list[0].Name != "siem" || list[0].Settings["maxEvents"] != 500.0 || list[0].Filter["detail"] == nil || list[1].Status != "INACTIVE" {
		t.Fatalf("list = %+v", list)
	}
	siem, archive := list[0].ID, list[1].ID

	// Applying again replaces by name: same ids, new settings.
	changed := strings.Replace(applyYAML, "maxEvents: 500", "maxEvents: 100", 1)
	changed = strings.Replace(changed, "status: inactive", "status: ACTIVE", 1)
	r = run(t, Streams, env, changed, "-f", "-", "apply")
	if r.code != 0 || !strings.Contains(r.stdout, "updated siem ("+siem+") ACTIVE") || !strings.Contains(r.stdout, "updated, activated archive ("+archive+") ACTIVE") {
		t.Fatalf("re-apply: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if n := srv.Count("POST", "/api/v1/logStreams"); n != 2 {
		t.Errorf("got %d creates, want 2", n)
	}

	// A single JSON object through stdin.
	r = run(t, Streams, env, `{"name":"one","type":"http","settings":{"url":"http://127.0.0.1:9/one"}}`, "apply", "--file=-", "-o", "json")
	var applied []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &applied); err != nil || r.code != 0 || len(applied) != 1 || applied[0]["name"] != "one" {
		t.Fatalf("apply json: exit %d, %v, %q, %q", r.code, err, r.stdout, r.stderr)
	}

	r = run(t, Streams, env, "", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ID") || strings.Count(r.stdout, "\n") != 4 || !strings.Contains(r.stdout, siem+"  siem") {
		t.Errorf("list table: exit %d, %q", r.code, r.stdout)
	}

	r = run(t, Streams, env, "", "get", siem)
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got["id"] != siem || got["settings"].(map[string]any)["maxEvents"] != 100.0 {
		t.Errorf("get: %v, %q", err, r.stdout)
	}
	r = run(t, Streams, env, "", "get", siem, "-o", "table")
	if !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, "siem") {
		t.Errorf("get table: %q", r.stdout)
	}

	r = run(t, Streams, env, "", "deactivate", siem)
	if r.code != 0 || r.stdout != siem+" siem: INACTIVE\n" {
		t.Errorf("deactivate: %d %q", r.code, r.stdout)
	}
	r = run(t, Streams, env, "", "status", siem)
	if r.code != 0 || !strings.Contains(r.stdout, "STATE          inactive") || !strings.Contains(r.stdout, "LAST ERROR AT  -") {
		t.Errorf("status table: %q", r.stdout)
	}
	r = run(t, Streams, env, "", "activate", siem, "--output", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"status": "ACTIVE"`) {
		t.Errorf("activate json: %d %q", r.code, r.stdout)
	}
	r = run(t, Streams, env, "", "status", "-o", "json", siem)
	if r.code != 0 || !strings.Contains(r.stdout, `"state": "active"`) {
		t.Errorf("status json: %q", r.stdout)
	}

	r = run(t, Streams, env, "", "replay", siem, "--since", "2024-08-13T15:58:20Z")
	if r.code != 0 || r.stdout != "replaying "+siem+" from 2024-08-13T15:58:20Z\n" {
		t.Errorf("replay: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, Streams, env, "", "--since", "90m", "replay", siem)
	if r.code != 0 {
		t.Errorf("replay with duration: %d %q", r.code, r.stderr)
	}

	srv.AddDeadLetter(siem, clienttest.DeadLetter{Seq: 42, UUID: "u-42", Reason: "400 Bad Request", At: "2024-08-13T15:58:20.353Z", Event: json.RawMessage(`{"uuid":"u-42"}`)})
	r = run(t, Streams, env, "", "deadletters", siem)
	if r.code != 0 || !strings.Contains(r.stdout, "SEQ") || !strings.Contains(r.stdout, "42   u-42  2024-08-13T15:58:20Z  400 Bad Request") {
		t.Errorf("deadletters: %q", r.stdout)
	}
	r = run(t, Streams, env, "", "redrive", siem)
	if r.code != 0 || r.stdout != "redriven 1\n" {
		t.Errorf("redrive: %q", r.stdout)
	}

	// Flags before the verb.
	r = run(t, Streams, nil, "", "--server", srv.URL, "--token", token, "delete", siem)
	if r.code != 0 || r.stdout != "deleted "+siem+"\n" {
		t.Errorf("delete: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(t, Streams, env, "", "get", siem)
	if r.code != 1 || !strings.Contains(r.stderr, "404 E0000007") || r.stdout != "" {
		t.Errorf("get deleted: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestStreamsAPIErrors(t *testing.T) {
	srv := clienttest.New(t, token)
	r := run(t, Streams, map[string]string{envURL: srv.URL, envToken: "bad"}, "", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "streams list: 401 E0000011") {
		t.Errorf("got exit %d, stderr %q, want 1 and the 401", r.code, r.stderr)
	}
	// The server's validation causes reach the user.
	r = run(t, Streams, envFor(srv), `{"name":"x","type":"http","settings":{"body":"batch"}}`, "apply", "-f", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "settings.url") {
		t.Errorf("got exit %d, stderr %q, want 1 and the cause", r.code, r.stderr)
	}
}

func TestApplyFileErrors(t *testing.T) {
	srv := clienttest.New(t, token)
	tests := []struct {
		name, file string
		want       []string
	}{
		{"empty", "", []string{"no streams"}},
		{"unknown field", "name: a\ntype: http\nsettings: {url: x}\nsetings: {}\n", []string{`stream 1 (a): json: unknown field "setings"`}},
		{"every problem", "- {type: http, settings: {url: x}}\n- name: b\n  settings: [1]\n  status: on\n- name: b\n  type: http\n  settings: {}\n  filter: [1]\n",
			[]string{"stream 1: name is missing", "stream 2 (b): type is missing", "stream 2 (b): settings must be a mapping", `status "on"`, "stream 3 (b): filter must be a mapping", "name also used by stream 2"}},
		{"bad yaml", "name: [", []string{"parse YAML"}},
		{"bad json", `{"name":`, []string{"parse JSON"}},
		{"non-string key", "name: a\ntype: http\nsettings: {1: x}\n", []string{"settings: key 1 is not a string"}},
		{"streams plus other keys", "streams: []\nname: a\n", []string{"takes no other keys"}},
		{"scalar", "42\n", []string{"want a stream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, Streams, envFor(srv), tt.file, "apply", "-f", "-")
			if r.code != 1 {
				t.Fatalf("got exit %d, want 1; stderr %q", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("got stderr %q, want it to contain %q", r.stderr, w)
				}
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("invalid files made %d requests, want 0", n)
	}
}

func TestParseSpecsShapes(t *testing.T) {
	tests := []struct {
		name, in  string
		wantNames []string
	}{
		{"one yaml", "name: a\ntype: http\nsettings: {url: u}\n", []string{"a"}},
		{"yaml list", "- {name: a, type: http, settings: {url: u}}\n- {name: b, type: http, settings: {url: u}}\n", []string{"a", "b"}},
		{"yaml documents", "name: a\ntype: http\nsettings: {url: u}\n---\nstreams:\n- {name: b, type: http, settings: {url: u}}\n", []string{"a", "b"}},
		{"json list with tabs", "[\n\t{\"name\": \"a\", \"type\": \"http\", \"settings\": {\"url\": \"u\"}}\n]", []string{"a"}},
		{"json streams", `{"streams":[{"name":"a","type":"http","settings":{"url":"u"},"filter":null,"status":"active"}]}`, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			specs, err := parseSpecs([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range specs {
				names = append(names, s.Name)
				if s.Status != "" && s.Status != "ACTIVE" {
					t.Errorf("status %q not normalised", s.Status)
				}
				if s.Filter != nil {
					t.Errorf("null filter kept as %s", s.Filter)
				}
			}
			if !slices.Equal(names, tt.wantNames) {
				t.Errorf("got %v, want %v", names, tt.wantNames)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args     []string
		wantPos  []string
		wantFlag string
	}{
		{[]string{"get", "x", "-o", "json"}, []string{"get", "x"}, "json"},
		{[]string{"-o", "json", "get", "x"}, []string{"get", "x"}, "json"},
		{[]string{"get", "-o", "json", "x"}, []string{"get", "x"}, "json"},
		{[]string{"get", "--", "-o", "x"}, []string{"get", "-o", "x"}, ""},
		{[]string{"-"}, []string{"-"}, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		o := fs.String("o", "", "")
		pos, err := parseArgs(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.wantPos) || *o != tt.wantFlag {
			t.Errorf("parseArgs(%q) = %q, -o %q, %v; want %q, -o %q", tt.args, pos, *o, err, tt.wantPos, tt.wantFlag)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-08-13T15:58:20.353Z", time.Date(2024, 8, 13, 15, 58, 20, 353e6, time.UTC)},
		{"2024-08-13", time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-5m", "tomorrow"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q): got nil error", bad)
		}
	}
}

func TestUsage(t *testing.T) {
	var b bytes.Buffer
	Usage(&b)
	for _, cmd := range []string{"serve", "import", "lambda", "send", "logs", "streams", "sources", "tokens", "pattern test", "version", "help"} {
		if !strings.Contains(b.String(), "\n  "+cmd+" ") {
			t.Errorf("usage lacks %q:\n%s", cmd, b.String())
		}
	}
	for _, v := range []string{envAdminToken, envURL, envToken} {
		if !strings.Contains(b.String(), "\n  "+v+"\n") {
			t.Errorf("usage lacks the environment variable %s:\n%s", v, b.String())
		}
	}
	// There is no console (yet): the help must not promise one.
	if strings.Contains(strings.ToLower(b.String()), "console") {
		t.Errorf("usage mentions a console:\n%s", b.String())
	}
}
