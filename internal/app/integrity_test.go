package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/client"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestServeSignsDigests: serve generates a signing key into the data
// directory (0600), signs a digest of each
// org with new events every digestInterval, and a tenant verifies its
// org's trail through the API with its own token; after serve stops, the
// admin verifies the journal directly with the same keys.
func TestServeSignsDigests(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Integrity.DigestInterval = config.Duration(time.Second)
	r := startApp(t, cfg)
	fi, err := os.Stat(filepath.Join(dir, integrity.GeneratedKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key: got %v, %v, want a 0600 file", fi, err)
	}
	code, body := r.call("POST", "/api/v1/tokens", testAdmin, map[string]any{"name": "acme-reader", "org": "acme", "scopes": []string{"logs.read"}})
	if code != http.StatusCreated {
		t.Fatalf("create token: %d %s", code, body)
	}
	var tok struct {
		Secret string `json:"token"`
	}
	_ = json.Unmarshal([]byte(body), &tok)
	for i := range 20 {
		code, body := r.call("POST", "/api/v1/events?org=acme", testAdmin, map[string]any{"eventType": "user.session.start", "uuid": fmt.Sprintf("e-%d", i)})
		if code != http.StatusAccepted {
			t.Fatalf("ingest: %d %s", code, body)
		}
	}
	c := client.New(r.base, tok.Secret, nil)
	wait.Eventually(t, "a digest of acme", func() bool {
		var ds struct {
			Digests []integrity.DigestEntry `json:"digests"`
		}
		return c.GetJSON(t.Context(), "/api/v1/integrity/digests", &ds) == nil && len(ds.Digests) > 0
	}, wait.Within(20*time.Second), wait.Every(100*time.Millisecond))
	keys, err := integrity.FetchKeys(t.Context(), c.GetJSON)
	if err != nil || len(keys) != 1 || !keys[0].Current {
		t.Fatalf("keys: got %v, %v", keys, err)
	}
	vo, _ := integrity.VerifyOnly(keys)
	rep, err := integrity.VerifyAPI(t.Context(), c.GetJSON, "", vo.Lookup(), nil)
	if err != nil || !rep.OK() || rep.Org != "acme" || rep.Events < 20 || rep.Digests < 1 {
		t.Fatalf("tenant verify: got %s, %v", rep, err)
	}
	var p integrity.Proof
	if err := c.GetJSON(t.Context(), "/api/v1/integrity/proof?uuid=e-3", &p); err != nil {
		t.Fatal(err)
	}
	if _, err := integrity.CheckProof(p, "acme", vo.Lookup()); err != nil {
		t.Errorf("proof: %v", err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	reps, err := VerifyJournal(t.Context(), cfg, "", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var orgs []string
	for _, rp := range reps {
		orgs = append(orgs, rp.Org)
		if !rp.OK() {
			t.Errorf("admin verify: %s", rp)
		}
	}
	if !strings.Contains(strings.Join(orgs, ","), "acme") {
		t.Errorf("admin verify: got orgs %v, want acme among them", orgs)
	}
}
