package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/client/clienttest"
)

func TestTokensFlow(t *testing.T) {
	srv := clienttest.New(t, token)
	env := envFor(srv)

	r := run(t, Tokens, env, "", "create", "--name", "shipper", "--scopes", "events.write,logs.read", "--org", "acme", "-o", "json")
	if r.code != 0 {
		t.Fatalf("create: got exit %d, want 0; stderr %s", r.code, r.stderr)
	}
	var created struct {
		ID     string   `json:"id"`
		Org    string   `json:"org"`
		Scopes []string `json:"scopes"`
		Secret string   `json:"token"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.ID == "" || created.Secret == "" ||
		created.Org != "acme" || strings.Join(created.Scopes, ",") != "events.write,logs.read" {
		t.Fatalf("create -o json: got %q (%v), want the token with its secret", r.stdout, err)
	}
	r = run(t, Tokens, env, "", "create", "--name", "reader", "--scopes", "logs.read")
	if r.code != 0 || !strings.Contains(r.stdout, "\ntoken  secret-") || !strings.Contains(r.stdout, "shown only now") {
		t.Fatalf("create: got exit %d, stdout %q; want the secret on a token line", r.code, r.stdout)
	}
	r = run(t, Tokens, env, "", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, created.ID) ||
		!strings.Contains(r.stdout, "events.write,logs.read") || strings.Contains(r.stdout, created.Secret) {
		t.Fatalf("list: got exit %d, stdout\n%s\nwant a table with %s and no secret", r.code, r.stdout, created.ID)
	}
	r = run(t, Tokens, env, "", "get", created.ID)
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "shipper"`) || strings.Contains(r.stdout, created.Secret) {
		t.Fatalf("get: got exit %d, stdout %q", r.code, r.stdout)
	}
	r = run(t, Tokens, env, "", "revoke", created.ID)
	if r.code != 0 || r.stdout != "revoked "+created.ID+"\n" {
		t.Fatalf("revoke: got exit %d, stdout %q", r.code, r.stdout)
	}
	if n := len(srv.Tokens()); n != 1 {
		t.Fatalf("after revoke: got %d tokens, want 1", n)
	}
	r = run(t, Tokens, env, "", "delete", created.ID)
	if r.code != 1 || !strings.Contains(r.stderr, "404 E0000007") {
		t.Fatalf("delete again: got exit %d, stderr %q; want 1 and a 404", r.code, r.stderr)
	}
	r = run(t, Tokens, env, "", "create", "--name", "x", "--scopes", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, "unknown scope nope") {
		t.Fatalf("bad scope: got exit %d, stderr %q; want 1 and the server's cause", r.code, r.stderr)
	}
}

func TestSourcesFlow(t *testing.T) {
	srv := clienttest.New(t, token)
	env := envFor(srv)
	file := writeFile(t, "okta.yaml", `type: okta
name: acme okta
org: acme
settings:
  baseUrl: https://acme.okta.com
  auth: {type: SSWS, token: okta-secret-token}
`)
	r := run(t, Sources, env, "", "create", "-f", file)
	var created struct {
		ID, Name, Status, Org string
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &created) != nil || created.ID == "" || created.Status != "ACTIVE" || created.Org != "acme" {
		t.Fatalf("create: got exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "okta-secret-token") {
		t.Fatalf("create printed the secret: %s", r.stdout)
	}
	if got := srv.Sources()[0]["settings"].(map[string]any)["auth"].(map[string]any)["token"]; got != "okta-secret-token" {
		t.Fatalf("server got token %v, want the file's", got)
	}
	r = run(t, Sources, env, "", "list")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, created.ID) || !strings.Contains(r.stdout, "acme okta") {
		t.Fatalf("list: got exit %d, stdout\n%s", r.code, r.stdout)
	}
	r = run(t, Sources, env, "", "get", created.ID, "-o", "table")
	if r.code != 0 || !strings.Contains(r.stdout, "okta") || !strings.Contains(r.stdout, "ACTIVE") {
		t.Fatalf("get -o table: got exit %d, stdout %q", r.code, r.stdout)
	}
	for _, tt := range []struct{ verb, want string }{
		{"deactivate", created.ID + " acme okta: INACTIVE\n"},
		{"activate", created.ID + " acme okta: ACTIVE\n"},
	} {
		if r = run(t, Sources, env, "", tt.verb, created.ID); r.code != 0 || r.stdout != tt.want {
			t.Fatalf("%s: got exit %d, stdout %q, want %q", tt.verb, r.code, r.stdout, tt.want)
		}
	}
	r = run(t, Sources, env, "", "status", created.ID)
	if r.code != 0 || !strings.Contains(r.stdout, `"state": "active"`) {
		t.Fatalf("status: got exit %d, stdout %q", r.code, r.stdout)
	}
	// update reads the file from stdin.
	r = run(t, Sources, env, `{"type":"okta","name":"renamed","settings":{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"t2"}}}`,
		"update", created.ID, "-f", "-")
	if r.code != 0 || !strings.Contains(r.stdout, `"name": "renamed"`) {
		t.Fatalf("update: got exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r = run(t, Sources, env, "", "delete", created.ID); r.code != 0 || r.stdout != "deleted "+created.ID+"\n" {
		t.Fatalf("delete: got exit %d, stdout %q", r.code, r.stdout)
	}
	if r = run(t, Sources, env, "", "get", created.ID); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Fatalf("get after delete: got exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestResourceUsageErrors(t *testing.T) {
	srv := clienttest.New(t, token)
	env := envFor(srv)
	tests := []struct {
		name string
		cmd  command
		args []string
		want string
	}{
		{"tokens without verb", Tokens, nil, "tokens needs a verb"},
		{"tokens unknown verb", Tokens, []string{"rotate"}, `unknown tokens verb "rotate"`},
		{"tokens create without name", Tokens, []string{"create", "--scopes", "admin"}, "tokens create needs --name"},
		{"tokens list with a flag of create", Tokens, []string{"list", "--name", "x"}, "tokens list does not take --name"},
		{"tokens delete without id", Tokens, []string{"delete"}, "takes one token ID"},
		{"sources create without file", Sources, []string{"create"}, "sources create needs --file"},
		{"sources get two ids", Sources, []string{"get", "a", "b"}, "takes one source ID, got 2"},
		{"sources bad output", Sources, []string{"list", "-o", "yaml"}, `--output "yaml"`},
		{"sources no token", Sources, []string{"list", "--server", srv.URL}, "no API token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := env
			if tt.name == "sources no token" {
				vars = nil
			}
			r := run(t, tt.cmd, vars, "", tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "usage: auditstream ") {
				t.Fatalf("got exit %d, stderr %q; want 2, %q and the usage", r.code, r.stderr, tt.want)
			}
		})
	}
	// A file holding two sources is refused before any request.
	file := writeFile(t, "two.yaml", "type: okta\nname: a\nsettings: {}\n---\ntype: okta\nname: b\nsettings: {}\n")
	if r := run(t, Sources, env, "", "create", "-f", file); r.code != 1 || !strings.Contains(r.stderr, "want one object, got 2 documents") {
		t.Fatalf("two sources: got exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, Sources, env, "", "create", "-f", writeFile(t, "bad.yaml", "type: okta\nname: a\nsetings: {}\n")); r.code != 1 || !strings.Contains(r.stderr, `unknown field "setings"`) {
		t.Fatalf("unknown field: got exit %d, stderr %q", r.code, r.stderr)
	}
	if len(srv.Sources()) != 0 {
		t.Fatalf("got %d sources, want none created", len(srv.Sources()))
	}
}

// TestResourceUsageText pins the -h text of the resource commands, which
// share one implementation: each must print exactly its own usage
// (testdata/usage/NAME.txt), on stdout, with exit 0.
func TestResourceUsageText(t *testing.T) {
	for _, tt := range []struct {
		name string
		cmd  command
	}{
		{"streams", Streams},
		{"sources", Sources},
		{"tokens", Tokens},
		{"activity", Activity},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "usage", tt.name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			r := run(t, tt.cmd, nil, "", "-h")
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("got exit %d, stderr %q, want 0 and none", r.code, r.stderr)
			}
			if r.stdout != string(want) {
				t.Errorf("got usage\n%s\nwant\n%s", r.stdout, want)
			}
		})
	}
}
