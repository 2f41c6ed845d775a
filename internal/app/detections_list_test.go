package app

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/cli"
	"github.com/auditstream/auditstream/internal/client"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/detect"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestListDetectionsPages: against serve, the client's ListDetections and
// `auditstream detections list` follow GET /api/v1/detections's
// rel="next" links up to the limit asked (every detection with 0; a page
// holds at most 1000, so 1100 or 1250 take two), in the list's order, with the filters kept on every page and only the caller's
// org. The detections are recorded in the serve's own store (on a NATS
// server the test shares with it).
func TestListDetectionsPages(t *testing.T) {
	ns := journaltest.StartNATS(t, nil)
	cfg := testConfig("")
	cfg.Journal.NatsURL = ns.ClientURL()
	// The Link headers are built on query.publicUrl: serve on a known port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listen = ln.Addr().String()
	ln.Close()
	cfg.Query.PublicURL = "http://" + cfg.Listen
	r, err := launchListen(t, cfg, testAdmin)
	if err != nil {
		t.Fatal(err)
	}
	acme := r.token("acme", "detections.read")

	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(t.Context(), detect.BucketDetections)
	if err != nil {
		t.Fatalf("serve's detections bucket: %v", err)
	}
	store := detect.NewStore(kv)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var rs []detect.Raised
	const n = 1250
	for i := range n {
		rule := "r1"
		if i%2 == 0 {
			rule = "r2"
		}
		rs = append(rs, detect.Raised{Detection: correlate.Detection{ID: fmt.Sprintf("det-%04d", i), Rule: rule, Org: "acme",
			Time: base.Add(time.Duration(i) * time.Second), Count: 1}, Info: detect.Info{ID: rule, Title: "Rule " + rule, Level: "high"}})
	}
	rs = append(rs, detect.Raised{Detection: correlate.Detection{ID: "theirs", Rule: "r1", Org: "other", Time: base, Count: 1},
		Info: detect.Info{ID: "r1", Title: "Rule r1", Level: "high"}})
	for i := 0; i < len(rs); i += 250 {
		if err := store.Record(t.Context(), rs[i:min(i+250, len(rs))]); err != nil {
			t.Fatal(err)
		}
	}

	cl := client.New(r.base, acme, nil)
	ids := func(ds []map[string]any) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d["id"].(string))
		}
		return out
	}
	newest := func(k int, rule string) []string {
		var out []string
		for i := n - 1; i >= 0 && len(out) < k; i-- {
			if rule == "" || (rule == "r2") == (i%2 == 0) {
				out = append(out, fmt.Sprintf("det-%04d", i))
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    client.DetectionQuery
		want []string
	}{
		{"every one", client.DetectionQuery{}, newest(n, "")},
		{"one page", client.DetectionQuery{Limit: 30}, newest(30, "")},
		{"past the first page", client.DetectionQuery{Limit: 1100}, newest(1100, "")},
		{"a rule over pages", client.DetectionQuery{Rule: "r2", Limit: 0}, newest(n, "r2")},
		{"a rule, limited", client.DetectionQuery{Rule: "r1", Limit: 7}, newest(7, "r1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cl.ListDetections(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); !slices.Equal(g, tc.want) {
				t.Errorf("got %d detections (%v…), want %d (%v…)", len(g), g[:min(3, len(g))], len(tc.want), tc.want[:min(3, len(tc.want))])
			}
		})
	}
	if _, err := cl.ListDetections(t.Context(), client.DetectionQuery{Limit: -1}); err == nil {
		t.Errorf("limit -1: got no error")
	}

	// The CLI: --limit across pages (a table: a header and one line each).
	var out, errOut strings.Builder
	args := []string{"list", "--limit", "1001", "--server", r.base, "--token", acme}
	if code := cli.Detections(t.Context(), args, strings.NewReader(""), &out, &errOut, func(string) string { return "" }); code != 0 {
		t.Fatalf("detections list: exit %d %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1002 || !strings.HasPrefix(lines[1], "det-1249") || !strings.HasPrefix(lines[1001], "det-0249") || strings.Contains(out.String(), "theirs") {
		t.Errorf("detections list --limit 1001: got %d lines, first %q, last %q, want a header and det-1249 … det-0249", len(lines), lines[1], lines[len(lines)-1])
	}
	out.Reset()
	args = []string{"list", "--limit", "-2", "--server", r.base, "--token", acme}
	if code := cli.Detections(t.Context(), args, strings.NewReader(""), &out, &errOut, func(string) string { return "" }); code == 0 {
		t.Errorf("detections list --limit -2: got exit 0, want a usage error")
	}
}

// TestBacktestJobsAcrossServeNodes: two serve nodes on one NATS server; a
// backtest job started through node A is read and listed through node B
// (before jobs were kept in the journal's KV, B answered 404), and stays
// hidden from another org there.
func TestBacktestJobsAcrossServeNodes(t *testing.T) {
	ns := journaltest.StartNATS(t, nil)
	node := func(id string) *running {
		cfg := testConfig("")
		cfg.Journal.NatsURL = ns.ClientURL()
		cfg.Cluster.NodeID = id
		cfg.Detections.Packs = []config.DetectionPack{{Name: "ours", Path: filepath.Join("testdata", "detections")}}
		return startApp(t, cfg)
	}
	a, b := node("node-a"), node("node-b")
	acme := a.token("acme", "detections.read")
	other := a.token("other", "detections.read")
	code, body := a.call("POST", "/api/v1/detections/backtests", acme, map[string]any{"pack": "ours"})
	if code != http.StatusAccepted {
		t.Fatalf("start on A: got %d %s, want 202", code, body)
	}
	var job detect.BacktestJob
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "B shows A's job ended", func() bool {
		code, body = b.call("GET", "/api/v1/detections/backtests/"+job.ID, acme, nil)
		return code == http.StatusOK && json.Unmarshal([]byte(body), &job) == nil && job.Status != detect.JobRunning
	}, wait.Within(20*time.Second), wait.Seen(func() string { return body }))
	if job.Status != detect.JobSucceeded || job.Node != "node-a" || job.Result == nil {
		t.Errorf("A's job on B: got %s, want SUCCEEDED on node-a with a result", body)
	}
	if code, body := b.call("GET", "/api/v1/detections/backtests", acme, nil); code != http.StatusOK || !strings.Contains(body, job.ID) {
		t.Errorf("list on B: got %d %s, want A's job", code, body)
	}
	if code, _ := b.call("GET", "/api/v1/detections/backtests/"+job.ID, other, nil); code != http.StatusNotFound {
		t.Errorf("another org on B: got %d, want 404", code)
	}
}
