package config

import (
	"strings"
	"testing"
)

func TestConsoleConfig(t *testing.T) {
	good := OIDC{Issuer: "https://idp.example", ClientID: "c", RedirectURL: "https://x/console/oidc/callback",
		Groups: []OIDCGroup{{Group: "soc", Org: "*", Scopes: []string{"logs.read"}}}}
	tests := []struct {
		name string
		edit func(*Console)
		want string // "" for valid
	}{
		{"default", func(*Console) {}, ""},
		{"oidc", func(c *Console) { c.OIDC = good }, ""},
		{"issuer not a URL", func(c *Console) { c.OIDC = good; c.OIDC.Issuer = "idp.example" }, "console.oidc.issuer"},
		{"no client id", func(c *Console) { c.OIDC = good; c.OIDC.ClientID = "" }, "clientId and redirectUrl are required"},
		{"no groups", func(c *Console) { c.OIDC = good; c.OIDC.Groups = nil }, "console.oidc.groups: at least one"},
		{"group without scopes", func(c *Console) {
			c.OIDC = good
			c.OIDC.Groups = []OIDCGroup{{Group: "g", Org: "acme"}}
		}, "console.oidc.groups[0]"},
		{"negative ttl", func(c *Console) { c.SessionTTL = -1 }, "console.sessionTtl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.DataDir = t.TempDir()
			tt.edit(&cfg.Console)
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
	d := Default().WithDefaults()
	if !d.Console.On() || d.Console.SessionTTL != Duration(DefaultSessionTTL) || d.Console.OIDC.GroupsClaim != "groups" {
		t.Errorf("defaults: got %+v, want enabled, 8h, groups", d.Console)
	}
	off := false
	d.Console.Enabled = &off
	if d.WithDefaults().Console.On() {
		t.Error("enabled: false: got on")
	}
}
