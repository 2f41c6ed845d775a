package console

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/sink"
)

func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/console/streams", "/console/streams"},
		{"/console/logs?filter=x", "/console/logs?filter=x"},
		{"", "/console/"},
		{"https://evil.example/console/", "/console/"},
		{"//evil.example/console/", "/console/"},
		{"/console/\\evil", "/console/"},
		{"/api/v1/tokens", "/console/"},
		{"/console/x\r\nSet-Cookie: a=b", "/console/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSettingsFrom(t *testing.T) {
	fields := []sink.Field{{Path: "url", Kind: "string"}, {Path: "auth.password", Kind: "secret"},
		{Path: "maxEvents", Kind: "int"}, {Path: "insecureHttp", Kind: "bool"}, {Path: "headers", Kind: "json"},
		{Path: "method", Kind: "string"}}
	tests := []struct {
		name   string
		form   url.Values
		want   string
		causes int
	}{
		{"nested and typed", url.Values{"s.url": {"https://x"}, "s.auth.password": {"pw"}, "s.maxEvents": {"10"},
			"s.insecureHttp": {"on"}, "s.headers": {`{"A":"b"}`}},
			`{"auth":{"password":"pw"},"headers":{"A":"b"},"insecureHttp":true,"maxEvents":10,"url":"https://x"}`, 0},
		{"empty inputs left out", url.Values{"s.url": {"https://x"}, "s.method": {"  "}}, `{"url":"https://x"}`, 0},
		{"bad number and JSON", url.Values{"s.maxEvents": {"ten"}, "s.headers": {"{"}}, `{}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, causes := settingsFrom(tt.form, fields)
			b, _ := json.Marshal(got)
			if string(b) != tt.want || len(causes) != tt.causes {
				t.Fatalf("got %s with %q, want %s with %d causes", b, causes, tt.want, tt.causes)
			}
		})
	}
}

func TestOIDCIdentity(t *testing.T) {
	o := NewOIDC(config.OIDC{GroupsClaim: "groups", Groups: []config.OIDCGroup{
		{Group: "soc", Org: "acme", Scopes: []string{"logs.read"}},
		{Group: "ops", Org: "acme", Scopes: []string{"logStreams.manage", "logs.read"}},
		{Group: "admins", Org: "*", Scopes: []string{"admin"}},
	}}, nil)
	tests := []struct {
		name    string
		claims  map[string]any
		org     string
		scopes  []auth.Scope
		refused bool
	}{
		{"one group", map[string]any{"groups": []any{"soc"}, "email": "a@x"}, "acme", []auth.Scope{"logs.read"}, false},
		{"scopes of one org add up", map[string]any{"groups": []any{"ops", "soc"}}, "acme", []auth.Scope{"logs.read", "logStreams.manage"}, false},
		{"first org wins, the other's scopes are not added", map[string]any{"groups": []any{"admins", "soc"}}, "acme", []auth.Scope{"logs.read"}, false},
		{"no mapped group", map[string]any{"groups": []any{"Everyone"}}, "", nil, true},
		{"no groups claim", map[string]any{"email": "a@x"}, "", nil, true},
		{"a single group as a string", map[string]any{"groups": "admins"}, "*", []auth.Scope{"admin"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			who, err := o.identity("00u1", tt.claims)
			if tt.refused {
				if err == nil {
					t.Fatalf("got %+v, want refused", who)
				}
				return
			}
			slices.Sort(who.Scopes)
			slices.Sort(tt.scopes)
			if err != nil || who.Org != tt.org || !slices.Equal(who.Scopes, tt.scopes) || who.ID != "sso:00u1" {
				t.Fatalf("got %+v, %v, want org %s scopes %v", who, err, tt.org, tt.scopes)
			}
		})
	}
}
