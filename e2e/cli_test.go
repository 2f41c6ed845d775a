package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
)

// cliRun runs the auditstream binary as a client of s with token, and
// returns its exit code, stdout and stderr.
func (s *server) cliRun(token, stdin string, args ...string) (int, string, string) {
	s.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "AUDITSTREAM_URL=http://"+s.addr, "AUDITSTREAM_TOKEN="+token, "AUDITSTREAM_ADMIN_TOKEN=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		s.t.Fatalf("run %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// mustCLI runs the binary and fails the test unless it exits 0.
func (s *server) mustCLI(stdin string, args ...string) string {
	s.t.Helper()
	code, out, errOut := s.cliRun(adminToken, stdin, args...)
	if code != 0 {
		s.t.Fatalf("auditstream %s: got exit %d, want 0; stderr: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// TestCLITokens creates a token with `auditstream tokens create`, uses it,
// lists it, revokes it, and sees it refused afterwards.
func TestCLITokens(t *testing.T) {
	s := startServer(t, "")
	var tok struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		Org    string   `json:"org"`
		Scopes []string `json:"scopes"`
		Secret string   `json:"token"`
	}
	out := s.mustCLI("", "tokens", "create", "--name", "shipper", "--org", "acme", "--scopes", "events.write, logs.read", "-o", "json")
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("tokens create -o json: %v in %q", err, out)
	}
	if tok.ID == "" || tok.Secret == "" || tok.Org != "acme" || strings.Join(tok.Scopes, ",") != "events.write,logs.read" {
		t.Fatalf("created token: got %+v, want an id, a secret, org acme, scopes events.write,logs.read", tok)
	}
	if code, out, errOut := s.cliRun(tok.Secret, `{"uuid":"cli-1","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z"}`, "send", "-"); code != 0 || out != "accepted 1, duplicates 0\n" {
		t.Fatalf("send with the new token: got exit %d, %q, %q; want 0, accepted 1", code, out, errOut)
	}
	list := s.mustCLI("", "tokens", "list")
	if !strings.HasPrefix(list, "ID ") || !strings.Contains(list, tok.ID) || !strings.Contains(list, "shipper") || strings.Contains(list, tok.Secret) {
		t.Fatalf("tokens list: got\n%s\nwant a table with %s (shipper) and no secret", list, tok.ID)
	}
	// A table create prints the secret on its "token" line.
	out = s.mustCLI("", "tokens", "create", "--name", "reader", "--scopes", "logs.read")
	if !strings.Contains(out, "\ntoken  ") || !strings.Contains(out, "shown only now") {
		t.Fatalf("tokens create: got %q, want the secret on a token line", out)
	}
	if got := s.mustCLI("", "tokens", "revoke", tok.ID); got != "revoked "+tok.ID+"\n" {
		t.Fatalf("tokens revoke: got %q", got)
	}
	if code, _, errOut := s.cliRun(tok.Secret, `{"uuid":"cli-2","eventType":"x"}`, "send"); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("send with the revoked token: got exit %d, stderr %q; want 1 and a 401", code, errOut)
	}
	if list := s.mustCLI("", "tokens", "list"); strings.Contains(list, tok.ID) {
		t.Fatalf("tokens list after revoke still shows %s:\n%s", tok.ID, list)
	}
	if code, _, errOut := s.cliRun(adminToken, "", "tokens", "create", "--name", "x"); code != 2 || !strings.Contains(errOut, "needs --scopes") {
		t.Fatalf("tokens create without scopes: got exit %d, %q; want 2 and needs --scopes", code, errOut)
	}
}

// TestCLISources drives an Okta source through `auditstream sources`:
// create from a YAML file, list, get (no secret), status, deactivate,
// activate, update, delete.
func TestCLISources(t *testing.T) {
	const oktaToken = "okta-api-token-for-the-cli-test-0123"
	o := oktatest.New(oktatest.Config{APIToken: oktaToken})
	defer o.Close()
	s := startServer(t, "")
	file := filepath.Join(t.TempDir(), "source.yaml")
	writeSpec := func(name string) {
		spec := "type: okta\nname: " + name + "\norg: acme\nsettings:\n  baseUrl: " + o.URL +
			"\n  pollInterval: 1s\n  auth: {type: SSWS, token: " + oktaToken + "}\n"
		if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeSpec("acme okta")
	var src struct {
		ID       string         `json:"id"`
		Name     string         `json:"name"`
		Status   string         `json:"status"`
		Org      string         `json:"org"`
		Settings map[string]any `json:"settings"`
	}
	out := s.mustCLI("", "sources", "create", "-f", file)
	if err := json.Unmarshal([]byte(out), &src); err != nil {
		t.Fatalf("sources create: %v in %q", err, out)
	}
	if src.ID == "" || src.Status != "ACTIVE" || src.Org != "acme" || strings.Contains(out, oktaToken) {
		t.Fatalf("sources create: got %s, want an ACTIVE source of acme without the token", out)
	}
	if list := s.mustCLI("", "sources", "list"); !strings.Contains(list, src.ID) || !strings.Contains(list, "acme okta") || !strings.Contains(list, "okta") {
		t.Fatalf("sources list: got\n%s\nwant %s", list, src.ID)
	}
	if got := s.mustCLI("", "sources", "get", src.ID); !strings.Contains(got, `"baseUrl": "`+o.URL+`"`) || strings.Contains(got, oktaToken) {
		t.Fatalf("sources get: got %s, want the settings without the token", got)
	}
	if got := s.mustCLI("", "sources", "status", src.ID); !strings.Contains(got, `"state"`) {
		t.Fatalf("sources status: got %s, want a state", got)
	}
	if got := s.mustCLI("", "sources", "deactivate", src.ID); got != src.ID+" acme okta: INACTIVE\n" {
		t.Fatalf("sources deactivate: got %q", got)
	}
	if got := s.mustCLI("", "sources", "activate", src.ID); got != src.ID+" acme okta: ACTIVE\n" {
		t.Fatalf("sources activate: got %q", got)
	}
	writeSpec("acme okta renamed")
	if got := s.mustCLI("", "sources", "update", src.ID, "-f", file, "-o", "table"); !strings.Contains(got, "acme okta renamed") {
		t.Fatalf("sources update: got %q, want the new name", got)
	}
	if got := s.mustCLI("", "sources", "delete", src.ID); got != "deleted "+src.ID+"\n" {
		t.Fatalf("sources delete: got %q", got)
	}
	if code, _, errOut := s.cliRun(adminToken, "", "sources", "get", src.ID); code != 1 || !strings.Contains(errOut, "404") {
		t.Fatalf("sources get after delete: got exit %d, %q; want 1 and a 404", code, errOut)
	}
}
