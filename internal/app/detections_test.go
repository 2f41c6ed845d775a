package app

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/cli"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/detect"
	"github.com/auditstream/auditstream/internal/detect/oktarule"
	"github.com/auditstream/auditstream/internal/detect/shipped"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestDetectionsEndToEnd: serve with a native brute-force pack from the
// config; six failed sign-ins of one user, ingested through the API (whose
// source the config declares as Okta's), raise one detection, delivered to
// a webhook log stream within seconds, visible in /api/v1/logs and in
// /api/v1/detections, and invisible to another org.
func TestDetectionsEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	defer hook.Close()
	cfg := testConfig("")
	cfg.Detections.Packs = []config.DetectionPack{{Name: "ours", Path: filepath.Join("testdata", "detections")}}
	cfg.Detections.Logsources = []config.DetectionLogsource{{Product: "okta", Sources: []string{"auditstream."}}}
	cfg.Streams = []config.Stream{{Declared: config.Declared{ID: "alerts", Name: "alerts", Type: "http",
		Settings: map[string]any{"url": hook.URL}}, Filter: map[string]any{"source": []any{"auditstream.detect"}}}}
	r := startApp(t, cfg)
	acme := r.token("acme", "events.write", "logs.read", "detections.manage")
	other := r.token("other", "detections.read")
	logsOnly := r.token("acme", "logs.read")

	start := time.Now().UTC().Add(-10 * time.Second)
	for i := range 6 {
		ev := map[string]any{"uuid": fmt.Sprintf("e2e-fail-%d", i), "eventType": "user.session.start",
			"published": start.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano), "version": "0", "severity": "WARN",
			"actor":   map[string]any{"id": "00uJANE", "type": "User", "alternateId": "jane@example.com", "displayName": "Jane Doe"},
			"outcome": map[string]any{"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
			"client":  map[string]any{"ipAddress": "203.0.113.7"}}
		if code, body := r.call("POST", "/api/v1/events", acme, ev); code != http.StatusAccepted {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
	}
	const typ = "security.detection.okta_brute_force_user"
	delivered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(strings.Join(bodies, "\n"), `"eventType":"`+typ+`"`)
	}
	wait.Eventually(t, "the detection at the webhook", func() bool { return delivered() >= 1 }, wait.Within(20*time.Second))

	q := url.Values{"filter": {`eventType eq "` + typ + `"`}}
	code, body := r.call("GET", "/api/v1/logs?"+q.Encode(), acme, nil)
	var logs []map[string]any
	if code != http.StatusOK || json.Unmarshal([]byte(body), &logs) != nil || len(logs) != 1 {
		t.Fatalf("GET /api/v1/logs: got %d %s, want one detection", code, body)
	}
	dd := logs[0]["debugContext"].(map[string]any)["debugData"].(map[string]any)
	if dd["author"] != "auditstream" || dd["count"] != "5" {
		t.Errorf("detection debugData: got %v, want author auditstream and count 5", dd)
	}

	var dets []map[string]any
	wait.Eventually(t, "the detection in /api/v1/detections", func() bool {
		code, body := r.call("GET", "/api/v1/detections", acme, nil)
		return code == http.StatusOK && json.Unmarshal([]byte(body), &dets) == nil && len(dets) == 1
	}, wait.Within(10*time.Second))
	if dets[0]["id"] != logs[0]["uuid"] {
		t.Errorf("detection id: got %v, want the event's uuid %v", dets[0]["id"], logs[0]["uuid"])
	}
	if code, body := r.call("GET", "/api/v1/detections", other, nil); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("another org: got %d %s, want 200 []", code, body)
	}
	if code, _ := r.call("GET", "/api/v1/detections/"+dets[0]["id"].(string), other, nil); code != http.StatusNotFound {
		t.Errorf("another org's get: got %d, want 404", code)
	}
	if code, _ := r.call("GET", "/api/v1/detections", logsOnly, nil); code != http.StatusForbidden {
		t.Errorf("without detections.read: got %d, want 403", code)
	}
	if code, _ := r.call("POST", "/api/v1/detections/"+dets[0]["id"].(string), other, map[string]any{"status": "CLOSED"}); code != http.StatusForbidden {
		t.Errorf("close with detections.read only: got %d, want 403", code)
	}
	code, body = r.call("POST", "/api/v1/detections/"+dets[0]["id"].(string), acme, map[string]any{"status": "acknowledged", "note": "looking"})
	if code != http.StatusOK || !strings.Contains(body, `"status":"ACKNOWLEDGED"`) {
		t.Errorf("acknowledge: got %d %s, want 200 ACKNOWLEDGED", code, body)
	}
	if code, body := r.call("POST", "/api/v1/detections/"+dets[0]["id"].(string), acme, map[string]any{"status": "DONE"}); code != http.StatusBadRequest || !strings.Contains(body, "E0000001") {
		t.Errorf("bad status: got %d %s, want 400 E0000001", code, body)
	}
	wait.Eventually(t, "the triage System Log event", func() bool {
		q := url.Values{"filter": {`eventType eq "system.detection.update"`}}
		code, body := r.call("GET", "/api/v1/logs?"+q.Encode(), acme, nil)
		return code == http.StatusOK && strings.Contains(body, "looking")
	}, wait.Within(10*time.Second))

	// Rules: the pack's rule is listed loaded; backtest finds the detection
	// without raising another.
	code, body = r.call("GET", "/api/v1/detections/rules", acme, nil)
	if code != http.StatusOK || !strings.Contains(body, `"status":"loaded"`) || !strings.Contains(body, `"pack":"ours"`) {
		t.Errorf("rules: got %d %s, want the pack's rule loaded", code, body)
	}
	// The shipped pack is loaded by default and listed like any pack.
	if !strings.Contains(body, `"pack":"`+shipped.OktaPack+`"`) || !strings.Contains(body, `"name":"okta_push_fatigue_then_success"`) {
		t.Errorf("rules: got %s, want the shipped pack's rules listed", body)
	}
	code, body = r.call("POST", "/api/v1/detections/backtest", acme, map[string]any{"pack": "ours"})
	if code != http.StatusOK || !strings.Contains(body, `"count":1`) {
		t.Errorf("backtest: got %d %s, want count 1", code, body)
	}
	code, body = r.call("POST", "/api/v1/detections/backtest", other, map[string]any{"pack": "ours"})
	if code != http.StatusOK || !strings.Contains(body, `"count":0`) {
		t.Errorf("another org's backtest: got %d %s, want count 0", code, body)
	}
	// The CLI over the same server.
	ruleFile := filepath.Join(t.TempDir(), "token.yml")
	if err := os.WriteFile(ruleFile, []byte("title: Token created\nid: acme-token-created\nauthor: acme\n"+
		"match: {detail: {eventType: [system.api_token.create]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, dets[0]["id"].(string)},
		{[]string{"rules"}, "Okta brute force against one user"},
		{[]string{"close", dets[0]["id"].(string), "--note", "done"}, `"status": "CLOSED"`},
		{[]string{"backtest", "--pack", "ours"}, `"count":1`},
		{[]string{"backtests"}, "SUCCEEDED"},
		{[]string{"backtest", "--pack", "ours", "--async"}, `"status":"`},
		{[]string{"upload", "-f", ruleFile}, `"status": "loaded"`},
		{[]string{"deactivate", "acme-token-created"}, `"enabled": false`},
		{[]string{"rules"}, "acme-token-created"},
	} {
		var out, errOut strings.Builder
		args := append(tc.args, "--server", r.base, "--token", acme)
		if code := cli.Detections(t.Context(), args, strings.NewReader(""), &out, &errOut, func(string) string { return "" }); code != 0 ||
			!strings.Contains(out.String(), tc.want) {
			t.Errorf("auditstream detections %v: got exit %d, %s %s, want 0 and %q", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
	// A job started with --async, then shown and cancelled by id (a job
	// that ended is returned as it is); another org's token cannot see it.
	cliRun := func(token string, args ...string) (int, string) {
		var out, errOut strings.Builder
		code := cli.Detections(t.Context(), append(args, "--server", r.base, "--token", token), strings.NewReader(""), &out, &errOut, func(string) string { return "" })
		return code, out.String() + errOut.String()
	}
	code, out := cliRun(acme, "backtest", "--pack", "ours", "--async")
	var job struct{ ID string }
	if err := json.Unmarshal([]byte(out), &job); code != 0 || err != nil || job.ID == "" {
		t.Fatalf("backtest --async: got %d %s, want a job", code, out)
	}
	wait.Eventually(t, "the job ended", func() bool {
		code, out := cliRun(acme, "backtest-get", job.ID)
		return code == 0 && strings.Contains(out, `"status":"SUCCEEDED"`) && strings.Contains(out, `"count":1`)
	}, wait.Within(10*time.Second))
	if code, out := cliRun(acme, "backtest-cancel", job.ID); code != 0 || !strings.Contains(out, `"status":"SUCCEEDED"`) {
		t.Errorf("backtest-cancel of an ended job: got %d %s, want it as it is", code, out)
	}
	if code, out := cliRun(other, "backtest-get", job.ID); code == 0 || !strings.Contains(out, "Not found") {
		t.Errorf("another org's backtest-get: got %d %s, want an error", code, out)
	}
	_, metrics := r.call("GET", "/metrics", testAdmin, nil)
	for _, m := range []string{"auditstream_detect_unindexed_rules 0", "auditstream_detect_detections_total 1", "auditstream_detect_position "} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics: want %q", m)
		}
	}
	if d := delivered(); d != 1 {
		t.Errorf("webhook: got %d deliveries of the detection, want 1", d)
	}
}

// TestDetectionsLoadPacks: serve loads the shipped pack unless
// detections.shipped is false, with its overlay; a pack declared format
// okta loads Okta's catalog with its Splunk-only entries refused.
func TestDetectionsLoadPacks(t *testing.T) {
	if shipped.OktaPack != config.ShippedPackName {
		t.Fatalf("config.ShippedPackName %q, want shipped.OktaPack %q", config.ShippedPackName, shipped.OktaPack)
	}
	ov := filepath.Join(t.TempDir(), "shipped-overlay.yml")
	if err := os.WriteFile(ov, []byte("rules:\n  15065d5a-f789-4d94-bcec-ccfa6580a5a8: {enabled: false}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog := config.DetectionPack{Name: "okta-catalog", Path: filepath.Join("..", "..", "testdata", "detections", "okta-customer-detections"), Format: "okta"}
	off := false
	for _, tc := range []struct {
		name    string
		mod     func(*config.Detections)
		shipped int // shipped rules loaded
		okta    bool
	}{
		{"default", func(*config.Detections) {}, 24, false},
		{"shipped overlay", func(d *config.Detections) { d.ShippedOverlay = ov }, 23, false},
		{"shipped off, catalog on", func(d *config.Detections) { d.Shipped = &off; d.Packs = []config.DetectionPack{catalog} }, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("")
			cfg.DataDir = t.TempDir()
			tc.mod(&cfg.Detections)
			cfg = cfg.WithDefaults()
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			packs, err := loadPacks(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			n, refusedNoOIE, oktaLoaded := 0, 0, 0
			for _, p := range packs {
				for _, in := range p.Infos {
					switch {
					case p.Name == shipped.OktaPack && in.Status == detect.StatusLoaded:
						n++
					case p.Name == "okta-catalog" && in.Status == detect.StatusRefused && in.Reason == oktarule.ReasonNoOIE:
						refusedNoOIE++
					case p.Name == "okta-catalog" && in.Status == detect.StatusLoaded:
						oktaLoaded++
					}
				}
			}
			if n != tc.shipped {
				t.Errorf("got %d shipped rules loaded, want %d", n, tc.shipped)
			}
			if tc.okta && (refusedNoOIE != 9 || oktaLoaded == 0) {
				t.Errorf("catalog: got %d loaded, %d refused as Splunk only, want some loaded and 9 refused", oktaLoaded, refusedNoOIE)
			}
		})
	}
}
