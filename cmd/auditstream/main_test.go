package main

import (
	"bytes"
	"strings"
	"testing"
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
