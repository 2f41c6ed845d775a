package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEExample keeps the configuration reference in the README true:
// its YAML example must load without errors.
func TestREADMEExample(t *testing.T) {
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
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("README example: got %v, want it to load", err)
	}
	if len(cfg.Streams) == 0 || len(cfg.Sources) == 0 {
		t.Fatalf("README example: got %d streams and %d sources, want the examples of both", len(cfg.Streams), len(cfg.Sources))
	}
}
