package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunPattern(t *testing.T) {
	dir := t.TempDir()
	patFile := filepath.Join(dir, "p.json")
	if err := os.WriteFile(patFile, []byte(`{"detail":{"eventType":[{"prefix":"user.session."}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	logEvent := `{"uuid":"u-1","published":"2024-08-13T15:58:20.353Z","eventType":"user.session.start","outcome":{"result":"FAILURE"}}`
	evFile := filepath.Join(dir, "e.json")
	if err := os.WriteFile(evFile, []byte(logEvent), 0o600); err != nil {
		t.Fatal(err)
	}
	envelope := `{"version":"0","id":"1","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/x","account":"123456789012","time":"2024-08-13T15:58:20Z","region":"us-east-1","resources":[],"detail":` + logEvent + `}`

	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantOut    string
		wantErrHas string
	}{
		{"match envelope", []string{"test", "--pattern", `{"source":[{"prefix":"aws.partner/okta.com/"}]}`, "--event", envelope}, "", 0, "true\n", ""},
		{"no match envelope", []string{"test", "--pattern", `{"detail":{"outcome":{"result":["SUCCESS"]}}}`, "--event", envelope}, "", 0, "false\n", ""},
		{"bare LogEvent wrapped", []string{"test", "--pattern", `{"source":["auditstream.default"],"detail-type":["SystemLog"],"id":["u-1"],"account":["000000000000"],"region":["us-east-1"],"time":["2024-08-13T15:58:20Z"],"detail":{"outcome":{"result":["FAILURE"]}}}`, "--event", logEvent}, "", 0, "true\n", ""},
		{"@file both", []string{"test", "--pattern", "@" + patFile, "--event", "@" + evFile}, "", 0, "true\n", ""},
		{"@- stdin", []string{"test", "--pattern", "@" + patFile, "--event", "@-"}, `{"eventType":"system.api_token.create"}`, 0, "false\n", ""},
		{"invalid pattern", []string{"test", "--pattern", `{"a":[{"prefix":1}]}`, "--event", logEvent}, "", 2, "", "Event pattern is not valid. Reason: prefix match pattern must be a string"},
		{"event not object", []string{"test", "--pattern", `{"a":["x"]}`, "--event", `["x"]`}, "", 2, "", "not a JSON object"},
		{"event not JSON", []string{"test", "--pattern", `{"a":["x"]}`, "--event", `{"a":`}, "", 2, "", "not a JSON object"},
		{"envelope missing id", []string{"test", "--pattern", `{"a":["x"]}`, "--event", `{"detail-type":"x","source":"s","account":"a","time":"t","region":"r"}`}, "", 2, "", `without "id"`},
		{"missing file", []string{"test", "--pattern", "@" + filepath.Join(dir, "nope"), "--event", logEvent}, "", 2, "", "read pattern"},
		{"no subcommand", nil, "", 2, "", "usage:"},
		{"other subcommand", []string{"lint"}, "", 2, "", "usage:"},
		{"missing event flag", []string{"test", "--pattern", `{"a":["x"]}`}, "", 2, "", "usage:"},
		{"unknown flag", []string{"test", "--bogus"}, "", 2, "", "bogus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runPattern(tc.args, strings.NewReader(tc.stdin), &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit status: got %d, want %d (stderr %q)", code, tc.wantCode, errOut.String())
			}
			if out.String() != tc.wantOut {
				t.Fatalf("stdout: got %q, want %q", out.String(), tc.wantOut)
			}
			if tc.wantErrHas != "" && !strings.Contains(errOut.String(), tc.wantErrHas) {
				t.Fatalf("stderr: got %q, want it to contain %q", errOut.String(), tc.wantErrHas)
			}
		})
	}
}
