package sink_test

import (
	"testing"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/httpsink"
)

func TestFieldsDescribeSettings(t *testing.T) {
	fields := map[string]sink.Field{}
	for _, f := range httpsink.Type().Fields() {
		fields[f.Path] = f
	}
	tests := []struct {
		path, kind string
		required   bool
		help       bool
	}{
		{"url", "string", true, true},
		{"method", "string", false, true},
		{"headers", "json", false, true},
		{"auth.password", "secret", false, true},
		{"auth.apiKey", "secret", false, false},
		{"signing.secret", "secret", false, true},
		{"timeout", "duration", false, true},
		{"maxEvents", "int", false, true},
		{"insecureHttp", "bool", false, true},
	}
	for _, tt := range tests {
		f, ok := fields[tt.path]
		if !ok {
			t.Errorf("%s: missing", tt.path)
			continue
		}
		if f.Kind != tt.kind || f.Required != tt.required || (f.Help != "") != tt.help {
			t.Errorf("%s: got kind %s required %v help %q, want %s %v help=%v", tt.path, f.Kind, f.Required, f.Help, tt.kind, tt.required, tt.help)
		}
	}
	// Every secret of the row is a secret field of the form.
	for _, p := range httpsink.Type().Secrets {
		if fields[p].Kind != "secret" {
			t.Errorf("%s: got kind %q, want secret (write-only in forms)", p, fields[p].Kind)
		}
	}
}
