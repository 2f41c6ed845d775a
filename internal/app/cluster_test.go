package app

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestClusterView: a single node announces itself under its configured
// id, owns its log stream and the detection runtime, and shows itself as the embedded journal's
// leader in GET /api/v1/cluster.
func TestClusterView(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(hook.Close)
	cfg := testConfig("")
	cfg.Cluster.NodeID = "node-a"
	cfg.Streams = []config.Stream{{Declared: config.Declared{ID: "hook", Name: "hook", Type: "http",
		Settings: map[string]any{"url": hook.URL}}}}
	r := startApp(t, cfg)
	var c api.Cluster
	var body string
	wait.Eventually(t, "node-a owns hook", func() bool {
		var code int
		code, body = r.call("GET", "/api/v1/cluster", testAdmin, nil)
		if code != http.StatusOK || json.Unmarshal([]byte(body), &c) != nil {
			return false
		}
		return len(c.Nodes) == 1 && slices.Equal(c.Nodes[0].LogStreams, []string{"hook"}) && c.Nodes[0].Detections
	}, wait.Seen(func() string { return body }))
	if n := c.Nodes[0]; c.Self != "node-a" || n.ID != "node-a" || !n.Live || n.Version == "" {
		t.Errorf("got %s, want live node-a with a version", body)
	}
	if len(c.Journal) == 0 {
		t.Fatalf("got %s, want the journal's streams", body)
	}
	for _, js := range c.Journal {
		if js.Leader != "node-a" {
			t.Errorf("journal stream %+v: want leader node-a (embedded)", js)
		}
	}
}
