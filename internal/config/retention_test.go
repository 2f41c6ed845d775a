package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
)

// TestRetentionSettings checks journal.whenFull, journal.compression and
// the dead-letter cap: they load strictly, and bad values are reported
// with the others.
func TestRetentionSettings(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // "" means valid
	}{
		{"defaults", "journal: {}\n", nil},
		{"protect", "journal: {whenFull: protect, maxBytes: 1048576, deadLetters: {maxBytes: 65536}}\n", nil},
		{"dropOldest", "journal: {whenFull: dropOldest, maxBytes: -1, deadLetters: {maxBytes: -1}}\n", nil},
		{"unknown mode", "journal: {whenFull: block}\n", []string{`journal.whenFull: "block" is not protect or dropOldest`}},
		{"compression none", "journal: {compression: none}\n", nil},
		{"unknown compression", "journal: {compression: zstd, whenFull: block}\n", []string{`journal.compression: "zstd" is not s2 or none`,
			`journal.whenFull: "block"`}},
		{"negative caps", "journal: {maxBytes: -5, deadLetters: {maxBytes: -2}}\n", []string{
			"journal.maxBytes: -5 must be -1 (no cap), 0 (the default) or positive",
			"journal.deadLetters.maxBytes: -2 must be -1 (no cap), 0 (the default) or positive"}},
		{"unknown dead-letter key", "journal: {deadLetters: {maxbytes: 1}}\n", []string{"field maxbytes not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := config.Load(path)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want it to load", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error", c.Journal)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want it to contain %q", err, w)
				}
			}
		})
	}
}
