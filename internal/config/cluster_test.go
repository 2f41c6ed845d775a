package config_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/config"
)

// TestDefaultNodeID: the default node id is stable for one data
// directory, differs between two on one host, and is a valid id.
func TestDefaultNodeID(t *testing.T) {
	a, b := config.DefaultNodeID("/var/lib/a"), config.DefaultNodeID("/var/lib/b")
	if a != config.DefaultNodeID("/var/lib/a") {
		t.Errorf("node id of one data dir: got %q then %q, want it stable", a, config.DefaultNodeID("/var/lib/a"))
	}
	if a == b {
		t.Errorf("node ids of two data dirs: both %q, want them distinct", a)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`).MatchString(a) {
		t.Errorf("node id %q: want 1 to 64 letters, digits, '-' or '_'", a)
	}
	cfg := config.Default()
	cfg.DataDir = "/var/lib/a"
	if got := cfg.WithDefaults().Cluster.NodeID; got != a {
		t.Errorf("WithDefaults cluster.nodeId: got %q, want %q", got, a)
	}
	cfg.Cluster.NodeID = "node-1"
	if got := cfg.WithDefaults().Cluster.NodeID; got != "node-1" {
		t.Errorf("WithDefaults with cluster.nodeId set: got %q, want node-1", got)
	}
}

// TestNodeIDValidation: a node id that cannot name a key is refused.
func TestNodeIDValidation(t *testing.T) {
	tests := []struct {
		id      string
		wantErr bool
	}{
		{"node-1", false},
		{"", false}, // the default
		{"node.1", true},
		{"node 1", true},
		{strings.Repeat("n", 65), true},
	}
	for _, tt := range tests {
		cfg := config.Default()
		cfg.Cluster.NodeID = tt.id
		err := cfg.Validate()
		if got := err != nil && strings.Contains(err.Error(), "cluster.nodeId"); got != tt.wantErr {
			t.Errorf("nodeId %q: got error %v, want error %v", tt.id, err, tt.wantErr)
		}
	}
}
