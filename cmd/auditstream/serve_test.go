package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
)

// testdata is the config package's golden files.
const testdata = "../../internal/config/testdata"

// TestPrintConfig: serve --print-config prints the effective configuration
// (every default resolved, every secret redacted) and exits without
// starting anything; a configuration serve would refuse is refused here
// too, with serve's exit code.
func TestPrintConfig(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		golden   string   // file the output must equal
		want     []string // each must appear in stdout (code 0) or stderr
	}{
		{name: "secrets redacted", args: []string{"--config", filepath.Join(testdata, "print.yaml")},
			golden: filepath.Join(testdata, "print.effective.yaml")},
		{name: "flags override the file", args: []string{"--config", filepath.Join(testdata, "minimal.yaml"), "--listen", "0.0.0.0:7777"},
			want: []string{"listen: 0.0.0.0:7777\n", "publicUrl: http://127.0.0.1:7777\n", "maxBytes: 10737418240\n",
				"timeout: 30s\n", "rateLimitPerMinute: 1200\n", "defaultOrg: default\n", "whenFull: protect\n"}},
		{name: "bad file", args: []string{"--config", filepath.Join(testdata, "bad_log_level.yaml")}, wantCode: 2,
			want: []string{`log.level: "verbose"`}},
		{name: "bad stream settings", args: []string{"--config", writeConfig(t, `streams:
  - {id: hook, name: hook, type: http, settings: {url: "https://siem.example.com", bogus: 1}}
`)}, wantCode: 2, want: []string{"stream hook", "bogus"}},
		{name: "unknown source type", args: []string{"--config", writeConfig(t, `sources:
  - {id: s, name: s, type: ftp}
`)}, wantCode: 2, want: []string{`source s: unknown type "ftp" (known: eventbridge, okta)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"serve", "--print-config", "--data-dir", data}, tt.args...)
			var out, errOut bytes.Buffer
			code := run(t.Context(), args, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			got := out.String()
			if code != 0 {
				got = errOut.String()
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got\n%s\nwant it to contain %q", got, w)
				}
			}
			if tt.golden != "" {
				want, err := os.ReadFile(tt.golden)
				if err != nil {
					t.Fatal(err)
				}
				// --data-dir overrides the file's.
				w := strings.Replace(string(want), "dataDir: /var/lib/auditstream\n", "dataDir: "+data+"\n", 1)
				if got != w {
					t.Errorf("got\n%s\nwant (%s)\n%s", got, tt.golden, w)
				}
			}
			for _, secret := range []string{"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "s3cr3t-nats-token", "http-password-1", "okta-api-token-1", "eb-client-secret", "oidc-client-secret-1"} {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("output shows the secret %q", secret)
				}
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("data dir after --print-config: got %v, want it not created", err)
			}
		})
	}
}

// TestPrintConfigRoundTrip: what --print-config prints loads back (it is
// a valid configuration file) and prints the same again.
func TestPrintConfigRoundTrip(t *testing.T) {
	print := func(path string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := run(t.Context(), []string{"serve", "--print-config", "--config", path}, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
		if code != 0 {
			t.Fatalf("print %s: got exit %d, want 0 (stderr %q)", path, code, errOut.String())
		}
		return out.String()
	}
	first := print(filepath.Join(testdata, "minimal.yaml"))
	if _, err := config.Load(writeConfig(t, first)); err != nil {
		t.Fatalf("load the printed config: got %v, want nil", err)
	}
	if again := print(writeConfig(t, first)); again != first {
		t.Errorf("printed again: got\n%s\nwant\n%s", again, first)
	}
}

// TestPrintConfigREADME: the README's configuration example is one serve
// accepts, streams and sources included, and its secrets are redacted.
func TestPrintConfigREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "```yaml\nlisten:")
	if start < 0 {
		t.Fatal("README has no ```yaml block starting with listen:")
	}
	body := text[start+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"serve", "--print-config", "--config", writeConfig(t, body)}, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("got exit %d, want 0 (stderr %q)", code, errOut.String())
	}
	if !strings.Contains(out.String(), "token: '********'") || strings.Contains(out.String(), "00abc") {
		t.Errorf("got\n%s\nwant the Okta token redacted", out.String())
	}
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "auditstream.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
