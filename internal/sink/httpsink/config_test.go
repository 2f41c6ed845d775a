package httpsink

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func TestValidate(t *testing.T) {
	ok := Config{URL: "https://hooks.example/audit"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the joined error; none means valid
	}{
		{name: "minimal", cfg: ok},
		{name: "full", cfg: Config{
			URL: "http://10.0.0.1:8080/in?x=1", Method: "PUT", Body: BodyNDJSON,
			Headers: map[string]string{"X-Tenant": "acme"},
			Auth:    Auth{Type: AuthOAuth2, TokenURL: "https://idp.example/token", ClientID: "c", ClientSecret: "s", Scopes: []string{"a", "b"}},
			Signing: Signing{Secret: testSecret}, Timeout: sink.Duration(30 * time.Second), MaxEvents: 100, MaxBytes: 2 << 20,
			InsecureHTTP: true,
		}},
		{name: "plain http to another host", cfg: Config{URL: "http://10.0.0.1:8080/in"}, want: []string{"plain http to 10.0.0.1:8080", "insecureHttp"}},
		{name: "plain http to this machine", cfg: Config{URL: "http://127.0.0.1:8080/in"}},
		// The client secret goes to tokenUrl: the same rule as url.
		{name: "token url over plain http to another host", cfg: Config{URL: "https://hook.example/in",
			Auth: Auth{Type: AuthOAuth2, TokenURL: "http://idp.example/token", ClientID: "c", ClientSecret: "s"}},
			want: []string{"auth.tokenUrl:", "plain http to idp.example", "insecureHttp"}},
		{name: "missing url", cfg: Config{}, want: []string{"url: required"}},
		{name: "ftp", cfg: Config{URL: "ftp://x/y"}, want: []string{`scheme "ftp"`}},
		{name: "no host", cfg: Config{URL: "https:///x"}, want: []string{"no host"}},
		{name: "userinfo", cfg: Config{URL: "https://u:p@x/"}, want: []string{"credentials in the URL"}},
		{name: "every problem at once", cfg: Config{
			URL: "x", Method: "GET", Body: "xml", Timeout: sink.Duration(-time.Second), MaxEvents: -1, MaxBytes: 10,
			Headers: map[string]string{"Content-Type": "text/plain", "bad name": "v", "X-Ok": "a\nb"},
			Auth:    Auth{Type: "kerberos"},
			Signing: Signing{Secret: "nope"},
		}, want: []string{
			"url:", `method "GET"`, `body "xml"`, "timeout -1s", "maxEvents -1", "maxBytes 10",
			"Content-Type is set by the sink", `"bad name" is not a valid header name`, "X-Ok: value contains",
			`auth.type "kerberos"`, `signing.secret: want a "whsec_" prefix`,
		}},
		{name: "basic incomplete", cfg: Config{URL: ok.URL, Auth: Auth{Type: AuthBasic, Username: "a:b", APIKey: "k"}}, want: []string{
			"auth.username: must not contain ':'", "auth.password: required", "auth.apiKey: not used by auth type basic",
		}},
		{name: "apiKey", cfg: Config{URL: ok.URL, Auth: Auth{Type: AuthAPIKey, HeaderName: "Webhook-Signature"}}, want: []string{
			"auth.headerName Webhook-Signature: set by the sink", "auth.apiKey: required",
		}},
		{name: "header clashes with auth", cfg: Config{URL: ok.URL, Headers: map[string]string{"x-api-key": "v"}, Auth: Auth{Type: AuthAPIKey, APIKey: "k"}}, want: []string{
			"X-Api-Key is set by auth",
		}},
		{name: "credentials in headers", cfg: Config{URL: ok.URL, Headers: map[string]string{"Authorization": "Bearer x", "X-Auth-Token": "t", "DD-API-KEY": "k"}}, want: []string{
			"Authorization looks like a credential", "X-Auth-Token looks like a credential", "Dd-Api-Key looks like a credential",
		}},
		{name: "oauth incomplete", cfg: Config{URL: ok.URL, Auth: Auth{Type: AuthOAuth2, TokenURL: "file:///x", Scopes: []string{"a b"}}}, want: []string{
			"auth.tokenUrl:", "auth.clientId: required", "auth.clientSecret: required", `"a b" is not a valid scope`,
		}},
		{name: "none with leftovers", cfg: Config{URL: ok.URL, Auth: Auth{Password: "p"}}, want: []string{"auth.password: not used by auth type none"}},
		{name: "short signing key", cfg: Config{URL: ok.URL, Signing: Signing{Secret: "whsec_c2hvcnQ="}}, want: []string{"key is 5 bytes"}},
		{name: "signing not base64", cfg: Config{URL: ok.URL, Signing: Signing{Secret: "whsec_!!"}}, want: []string{"not standard base64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.WantProblems(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestConfigJSON(t *testing.T) {
	settings := `{
		"url": "https://hooks.example/audit",
		"method": "POST",
		"headers": {"X-Tenant": "acme"},
		"auth": {"type": "basic", "username": "ada", "password": "hunter2"},
		"body": "ndjson",
		"signing": {"secret": "` + testSecret.Reveal() + `"},
		"timeout": "20s",
		"maxEvents": 100,
		"maxBytes": 524288
	}`
	dec := json.NewDecoder(strings.NewReader(settings))
	dec.DisallowUnknownFields()
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if cfg.Auth.Password.Reveal() != "hunter2" || cfg.Timeout.D() != 20*time.Second || cfg.Body != BodyNDJSON {
		t.Errorf("decoded: got %+v, want the settings", cfg)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"hunter2", testSecret.Reveal()} {
		if bytes.Contains(out, []byte(plain)) {
			t.Errorf("marshalled config: got %s, want no secret in it", out)
		}
	}
	if !bytes.Contains(out, []byte(`"password":"`+secret.Redacted+`"`)) {
		t.Errorf("marshalled config: got %s, want the password redacted", out)
	}

	dec = json.NewDecoder(strings.NewReader(`{"url":"https://x","retries":3}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&Config{}); err == nil {
		t.Error("decode with an unknown key: got nil, want an error")
	}
}
