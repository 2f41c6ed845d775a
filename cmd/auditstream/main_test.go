package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/syncbuf"
	"github.com/auditstream/auditstream/internal/wait"
)

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{"no arguments prints usage", nil, nil, 2, "serve"},
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		// Started by the Lambda runtime as bootstrap: lambda mode, which
		// here stops at its missing configuration.
		{"lambda bootstrap", nil, map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9"}, 2, "lambda:"},
		{"secrets without a subcommand", []string{"secrets"}, nil, 2, "usage: auditstream secrets rotate"},
		{"secrets rotate without a key", []string{"secrets", "rotate", "--data-dir", "unused"}, nil, 2, "no secret key"},
		{"secrets rotate with a short key", []string{"secrets", "rotate"}, map[string]string{"AUDITSTREAM_SECRET_KEY": "c2hvcnQ="}, 2, "key is 5 bytes, want 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			env := func(k string) string { return tt.env[k] }
			code := run(t.Context(), tt.args, strings.NewReader(""), &out, &errOut, env)
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("got stderr %q, want it to contain %q", errOut.String(), tt.wantErr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(t.Context(), []string{"version"}, nil, &out, &out, func(string) string { return "" }); code != 0 {
		t.Fatalf("got exit %d, want 0", code)
	}
	if !strings.HasPrefix(out.String(), "auditstream ") {
		t.Fatalf("got %q, want the version line", out.String())
	}
}

// TestHelp: every command's -h/--help prints its usage on stdout and
// exits 0, and the overall help names every command and the environment.
func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"serve", "send", "streams", "sources", "tokens", "detections", "logs", "import", "lambda", "pattern test", "version", "AUDITSTREAM_ADMIN_TOKEN", "AUDITSTREAM_URL", "AUDITSTREAM_TOKEN"}},
		{[]string{"-h"}, []string{"usage: auditstream <command>"}},
		{[]string{"help"}, []string{"usage: auditstream <command>"}},
		{[]string{"serve", "-h"}, []string{"usage: auditstream serve", "--data-dir DIR", "--listen host:port", "--config FILE", "--nats-url URL", "AUDITSTREAM_ADMIN_TOKEN"}},
		{[]string{"serve", "--help"}, []string{"usage: auditstream serve"}},
		{[]string{"import", "-h"}, []string{"usage: auditstream import s3://BUCKET/PREFIX", "--since T", "--endpoint"}},
		{[]string{"import", "s3://b/p", "--help"}, []string{"usage: auditstream import"}},
		{[]string{"lambda", "-h"}, []string{"usage: auditstream lambda", "AUDITSTREAM_S3_BUCKET", "AUDITSTREAM_FORWARD_URL"}},
		{[]string{"pattern", "-h"}, []string{"usage: auditstream pattern test"}},
		{[]string{"pattern", "test", "--help"}, []string{"usage: auditstream pattern test"}},
		{[]string{"send", "-h"}, []string{"usage: auditstream send"}},
		{[]string{"streams", "-h"}, []string{"usage: auditstream streams"}},
		{[]string{"logs", "-h"}, []string{"auditstream logs"}},
		{[]string{"tokens", "-h"}, []string{"usage: auditstream tokens", "create --name N --scopes", "revoke ID", "AUDITSTREAM_TOKEN"}},
		{[]string{"sources", "--help"}, []string{"usage: auditstream sources", "create -f FILE", "deactivate ID", "status ID"}},
		{[]string{"detections", "-h"}, []string{"usage: auditstream detections", "upload -f FILE", "backtest --rule R|--pack P", "detections.manage"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(t.Context(), tt.args, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
			if code != 0 {
				t.Fatalf("got exit %d, want 0 (stderr %q)", code, errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("got stdout %q, want it to contain %q", out.String(), w)
				}
			}
			if strings.Contains(strings.ToLower(out.String()), "console") {
				t.Errorf("help mentions a console, which does not exist:\n%s", out.String())
			}
		})
	}
}

// TestUsageErrors: wrong arguments print the usage on stderr and exit 2.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--bogus"}, "usage: auditstream serve"},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"import"}, "usage: auditstream import s3://BUCKET/PREFIX"},
		{[]string{"import", "s3://b/p", "--bogus"}, "usage: auditstream import"},
		{[]string{"lambda", "extra"}, "usage: auditstream lambda"},
		{[]string{"pattern"}, "usage: auditstream pattern test"},
		{[]string{"tokens"}, "tokens needs a verb"},
		{[]string{"sources", "get"}, "sources get takes one source ID"},
		{[]string{"detections"}, "detections needs a verb"},
		{[]string{"detections", "ack"}, "detections ack takes one ID"},
		{[]string{"detections", "backtest"}, "needs --rule or --pack"},
		{[]string{"detections", "explode"}, `unknown detections verb "explode"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(t.Context(), tt.args, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
			if code != 2 || !strings.Contains(errOut.String(), tt.want) {
				t.Fatalf("got exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.want)
			}
		})
	}
}

// TestServeWarnsWithoutToken runs serve in-process on a loopback port: a
// fresh store without AUDITSTREAM_ADMIN_TOKEN warns how to create a token;
// with the token, and later without it on the same (no longer empty)
// store, it does not.
func TestServeWarnsWithoutToken(t *testing.T) {
	const hint = "AUDITSTREAM_ADMIN_TOKEN=$(openssl rand -hex 24)"
	serve := func(t *testing.T, dataDir, token string) string {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var out, errOut syncbuf.Buffer
		env := func(k string) string {
			if k == "AUDITSTREAM_ADMIN_TOKEN" {
				return token
			}
			return ""
		}
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, nil, &out, &errOut, env)
		}()
		wait.Eventually(t, "serve to start", func() bool {
			select {
			case code := <-done:
				t.Fatalf("serve exited with %d at start:\n%s", code, errOut.String())
			default:
			}
			return strings.Contains(out.String(), "listening on")
		}, wait.Within(30*time.Second), wait.Every(20*time.Millisecond), wait.Seen(errOut.String))
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("serve exited with %d:\n%s", code, errOut.String())
		}
		return errOut.String()
	}
	fresh := t.TempDir()
	if logs := serve(t, fresh, ""); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, hint) {
		t.Fatalf("fresh store, no token: got logs\n%s\nwant a WARN with %q", logs, hint)
	}
	withToken := t.TempDir()
	if logs := serve(t, withToken, "serve-test-token-0123456789abcdef"); strings.Contains(logs, hint) {
		t.Fatalf("with a token: got logs\n%s\nwant no warning", logs)
	}
	if logs := serve(t, withToken, ""); strings.Contains(logs, hint) {
		t.Fatalf("store with a token, no env: got logs\n%s\nwant no warning", logs)
	}
}
