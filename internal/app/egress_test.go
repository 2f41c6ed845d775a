package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/sink/outbound"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// token makes a token of org with scopes.
func (r *running) token(org string, scopes ...string) string {
	r.t.Helper()
	code, body := r.call("POST", "/api/v1/tokens", testAdmin, map[string]any{"name": org + "-" + strings.Join(scopes, "-"), "org": org, "scopes": scopes})
	if code != http.StatusCreated {
		r.t.Fatalf("create token: got %d %s, want 201", code, body)
	}
	var out struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal([]byte(body), &out)
	return out.Token
}

// stream creates a log stream with token and returns status, body and id.
func (r *running) stream(token, query string, in map[string]any) (int, string, string) {
	r.t.Helper()
	code, body := r.call("POST", "/api/v1/logStreams"+query, token, in)
	var out struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &out)
	return code, body, out.ID
}

func (r *running) ingest(token, uuid string) {
	r.t.Helper()
	code, body := r.call("POST", "/api/v1/events", token, map[string]any{"eventType": "user.session.start", "uuid": uuid})
	if code != http.StatusAccepted {
		r.t.Fatalf("ingest: got %d %s, want 202", code, body)
	}
}

// hook is a loopback destination that counts requests and answers with
// status and body.
type hook struct {
	*httptest.Server
	hits atomic.Int32
}

func newHook(t *testing.T, status int, body string) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h.hits.Add(1)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(h.Close)
	return h
}

func httpStream(name, url string) map[string]any {
	return map[string]any{"type": "http", "name": name, "settings": map[string]any{"url": url}}
}

// TestTenantStreamsKeptOffLoopback: an org-scoped token cannot aim a
// stream at a loopback server, with or without verification, for any
// destination type; the all-orgs token can, and its stream delivers.
func TestTenantStreamsKeptOffLoopback(t *testing.T) {
	h := newHook(t, http.StatusOK, "")
	r := startApp(t, testConfig(""))
	acme := r.token("acme", "logStreams.manage", "logStreams.read", "events.write")
	for _, tc := range []struct {
		name string
		in   map[string]any
	}{
		{"http", httpStream("h", h.URL)},
		{"http localhost", httpStream("h", strings.Replace(h.URL, "127.0.0.1", "localhost", 1))},
		{"http mapped", httpStream("h", strings.Replace(h.URL, "127.0.0.1", "[::ffff:127.0.0.1]", 1))},
		{"splunk_hec", map[string]any{"type": "splunk_hec", "name": "s", "settings": map[string]any{"url": h.URL, "token": "00000000-0000-0000-0000-000000000000"}}},
		{"elasticsearch", map[string]any{"type": "elasticsearch", "name": "e", "settings": map[string]any{"urls": []string{h.URL}}}},
		{"s3", map[string]any{"type": "s3", "name": "b", "settings": map[string]any{"bucket": "b", "region": "us-east-1", "endpoint": h.URL,
			"credentials": map[string]any{"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "secret"}}}},
	} {
		for _, query := range []string{"", "?verify=false"} {
			t.Run(tc.name+query, func(t *testing.T) {
				code, body, _ := r.stream(acme, query, tc.in)
				if code != http.StatusBadRequest || !strings.Contains(body, "loopback") || !strings.Contains(body, "egress.allow") {
					t.Fatalf("got %d %s, want 400 naming loopback and egress.allow", code, body)
				}
			})
		}
	}
	if n := h.hits.Load(); n != 0 {
		t.Fatalf("the loopback server got %d requests from tenants' attempts, want 0", n)
	}
	code, body, _ := r.stream(testAdmin, "", map[string]any{"type": "http", "name": "op", "org": "acme", "settings": map[string]any{"url": h.URL}})
	if code != http.StatusOK {
		t.Fatalf("all-orgs token: got %d %s, want 200", code, body)
	}
	r.ingest(acme, "e-1")
	wait.Eventually(t, "the operator's stream to deliver", func() bool { return h.hits.Load() >= 2 }, wait.Within(20*time.Second))
}

// TestEgressAllowAndRestart: egress.allow lets a tenant's stream reach a
// loopback destination; started again without the allowance, the same
// stream is refused at delivery by the dialer, and the status says why.
func TestEgressAllowAndRestart(t *testing.T) {
	h := newHook(t, http.StatusOK, "")
	cfg := testConfig("")
	cfg.DataDir = t.TempDir()
	cfg.Egress.Allow = []string{"127.0.0.0/8"}
	r := startApp(t, cfg)
	acme := r.token("acme", "logStreams.manage", "logStreams.read", "events.write")
	code, body, id := r.stream(acme, "", httpStream("allowed", h.URL))
	if code != http.StatusOK {
		t.Fatalf("tenant with egress.allow: got %d %s, want 200", code, body)
	}
	// The metadata address stays out of reach.
	if code, body, _ := r.stream(acme, "?verify=false", httpStream("md", "https://169.254.169.254/latest/meta-data/")); code != http.StatusBadRequest || !strings.Contains(body, "metadata") {
		t.Fatalf("metadata address: got %d %s, want 400 naming it", code, body)
	}
	r.ingest(acme, "e-1")
	wait.Eventually(t, "delivery", func() bool { return h.hits.Load() >= 2 }, wait.Within(20*time.Second))
	r.stop()

	cfg.Egress.Allow = nil
	r2 := startApp(t, cfg)
	before := h.hits.Load()
	r2.ingest(acme, "e-2")
	wait.Eventually(t, "the status to show the refusal", func() bool {
		_, body := r2.call("GET", "/api/v1/logStreams/"+id+"/status", acme, nil)
		return strings.Contains(body, "loopback") && strings.Contains(body, "egress.allow")
	}, wait.Within(20*time.Second))
	if n := h.hits.Load(); n != before {
		t.Fatalf("the destination got %d requests after the allowance went, want 0", n-before)
	}
}

// TestOperatorDenyApplies: egress.deny refuses even the all-orgs token.
func TestOperatorDenyApplies(t *testing.T) {
	cfg := testConfig("")
	cfg.Egress.Deny = []string{"169.254.169.254/32"}
	r := startApp(t, cfg)
	code, body, _ := r.stream(testAdmin, "?verify=false", httpStream("md", "https://169.254.169.254/latest/meta-data/"))
	if code != http.StatusBadRequest || !strings.Contains(body, "egress.deny") {
		t.Fatalf("got %d %s, want 400 naming egress.deny", code, body)
	}
}

// TestTenantsDoNotSeeAnswerBodies: what a destination answers (here an
// internal service's secret) never reaches an org-scoped caller, neither
// in the 400 of verification nor in status.lastError; the operator's
// verification still shows it.
func TestTenantsDoNotSeeAnswerBodies(t *testing.T) {
	const secret = "INTERNAL-ONLY-DATA: db_password=hunter2"
	h := newHook(t, http.StatusInternalServerError, `{"internal":"`+secret+`"}`)
	cfg := testConfig("")
	cfg.Egress.Allow = []string{"127.0.0.0/8"}
	r := startApp(t, cfg)
	acme := r.token("acme", "logStreams.manage", "logStreams.read", "events.write")
	for _, typ := range []map[string]any{
		httpStream("h", h.URL),
		{"type": "elasticsearch", "name": "e", "settings": map[string]any{"urls": []string{h.URL}}},
		{"type": "splunk_hec", "name": "s", "settings": map[string]any{"url": h.URL, "token": "00000000-0000-0000-0000-000000000000", "insecureHttp": true}},
	} {
		code, body, _ := r.stream(acme, "", typ)
		if code != http.StatusBadRequest || strings.Contains(body, "hunter2") || !strings.Contains(body, "500") {
			t.Fatalf("%s, tenant: got %d %s, want 400 with the status and without the body", typ["type"], code, body)
		}
	}
	op := map[string]any{"type": "elasticsearch", "name": "op", "settings": map[string]any{"urls": []string{h.URL}}}
	if code, body, _ := r.stream(testAdmin, "", op); code != http.StatusBadRequest || !strings.Contains(body, "hunter2") {
		t.Fatalf("operator: got %d %s, want 400 with the answer for diagnosis", code, body)
	}
	code, body, id := r.stream(acme, "?verify=false", httpStream("later", h.URL))
	if code != http.StatusOK {
		t.Fatalf("create without verification: got %d %s, want 200", code, body)
	}
	r.ingest(acme, "e-1")
	var status string
	wait.Eventually(t, "status.lastError", func() bool {
		_, status = r.call("GET", "/api/v1/logStreams/"+id+"/status", acme, nil)
		return strings.Contains(status, "lastError")
	}, wait.Within(20*time.Second))
	if strings.Contains(status, "hunter2") || !strings.Contains(status, "500 Internal Server Error") {
		t.Fatalf("status: got %s, want the status line without the body", status)
	}
}

// TestTenantOktaSourceKeptOffLoopback: an org token's Okta source may not
// poll a loopback baseUrl (the service itself, in the review); the
// operator's may.
func TestTenantOktaSourceKeptOffLoopback(t *testing.T) {
	r := startApp(t, testConfig(""))
	acme := r.token("acme", "sources.manage", "sources.read")
	in := func(url string) map[string]any {
		return map[string]any{"type": "okta", "name": "o", "org": "acme",
			"settings": map[string]any{"baseUrl": url, "auth": map[string]any{"type": "SSWS", "token": "okta-token-0123456789"}}}
	}
	for _, u := range []string{r.base, "http://localhost:9", "http://127.0.0.2:8443"} {
		code, body := r.call("POST", "/api/v1/sources", acme, in(u))
		if code != http.StatusBadRequest || !strings.Contains(body, "loopback") {
			t.Fatalf("tenant, %s: got %d %s, want 400 naming loopback", u, code, body)
		}
	}
	if code, body := r.call("POST", "/api/v1/sources", testAdmin, in("http://127.0.0.1:9")); code != http.StatusOK {
		t.Fatalf("operator: got %d %s, want 200", code, body)
	}
}

// TestTenantOktaPollerUsesGuardedClient: the poller of a tenant's source
// whose baseUrl is on loopback (stored before the policy, or reached by a
// name that resolves there) is refused by the dialer: it sends through the
// guarded transport of its owner. The operator's poller reaches the org.
func TestTenantOktaPollerUsesGuardedClient(t *testing.T) {
	var hits atomic.Int32
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "[]")
	}))
	defer org.Close()
	okta := sourceTypes(outbound.New(outbound.Config{}), "http://127.0.0.1")["okta"]
	settings, err := okta.Prepare([]byte(`{"baseUrl":"`+org.URL+`","auth":{"type":"SSWS","token":"okta-token-0123456789"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	backfill := func(operator bool) {
		d := source.Definition{Header: kvstore.Header{ID: "s1", Type: "okta", Org: "acme", Settings: settings},
			Stamps: kvstore.Stamps{Created: time.Now()}, Operator: operator}
		r, err := okta.NewRunner(d, source.RunnerDeps{Status: &source.Status{}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		_ = r.Backfill(ctx, time.Now().Add(-time.Hour), time.Now())
	}
	backfill(false)
	if n := hits.Load(); n != 0 {
		t.Fatalf("tenant's poller: the org got %d requests, want 0", n)
	}
	if err := okta.Check(source.Definition{Header: kvstore.Header{Type: "okta", Org: "acme", Settings: settings}}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("check, tenant: got %v, want a loopback refusal", err)
	}
	backfill(true)
	if n := hits.Load(); n == 0 {
		t.Fatal("operator's poller: the org got no request, want at least one")
	}
}

// TestTenantFileStreams: each org writes below <fileRoot>/<org>; an org
// token can name neither another org's directory nor the root, and cannot
// create file streams at all without fileRoots.
func TestTenantFileStreams(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "roots")
	if err := os.MkdirAll(filepath.Join(root, "beta", "exports"), 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("")
	cfg.FileRoots = []string{root}
	r := startApp(t, cfg)
	acme := r.token("acme", "logStreams.manage", "logStreams.read", "events.write")
	file := func(dir string) map[string]any {
		return map[string]any{"type": "file", "name": "f-" + dir, "settings": map[string]any{"dir": dir, "maxAge": "1s"}}
	}
	for _, dir := range []string{"../beta/exports", filepath.Join(root, "beta", "exports"), root, "..", ""} {
		code, body, _ := r.stream(acme, "", file(dir))
		if code != http.StatusBadRequest || !strings.Contains(body, "relative") {
			t.Fatalf("dir %q: got %d %s, want 400 asking for a relative directory", dir, code, body)
		}
	}
	code, body, _ := r.stream(acme, "", file("exports"))
	if code != http.StatusOK {
		t.Fatalf("relative dir: got %d %s, want 200", code, body)
	}
	r.ingest(acme, "file-e-1")
	wait.Eventually(t, "a file in acme's directory", func() bool {
		entries, _ := os.ReadDir(filepath.Join(root, "acme", "exports"))
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(root, "acme", "exports", e.Name())); err == nil && bytes.Contains(b, []byte("file-e-1")) {
				return true
			}
		}
		return false
	}, wait.Within(20*time.Second))
	if entries, _ := os.ReadDir(filepath.Join(root, "beta", "exports")); len(entries) != 0 {
		t.Fatalf("beta's directory: got %d files, want none", len(entries))
	}
	// The operator may still name an absolute directory within the roots.
	if code, body, _ := r.stream(testAdmin, "", file(filepath.Join(root, "shared"))); code != http.StatusOK {
		t.Fatalf("operator, absolute dir: got %d %s, want 200", code, body)
	}
	r.stop()

	noRoots := startApp(t, testConfig(""))
	acme2 := noRoots.token("acme", "logStreams.manage")
	if code, body, _ := noRoots.stream(acme2, "", file("exports")); code != http.StatusBadRequest || !strings.Contains(body, "fileRoots") {
		t.Fatalf("no fileRoots: got %d %s, want 400 naming fileRoots", code, body)
	}
}

// rebind answers every name with 127.0.0.1, as a hostile DNS record (or a
// rebinding one, after the check) would.
type rebind struct{}

func (rebind) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestEveryDestinationDialsThroughThePolicy builds each destination type
// for a tenant with a host name that resolves to loopback: the name passes
// the check before dialling, and the dialer refuses the address, so the
// server sees nothing (the AWS SDK clients included). The operator's
// destination with the same settings reaches it.
func TestEveryDestinationDialsThroughThePolicy(t *testing.T) {
	h := newHook(t, http.StatusInternalServerError, "{}")
	_, port, _ := net.SplitHostPort(h.Listener.Addr().String())
	u := "http://dest.rebind.test:" + port
	creds := map[string]any{"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "example-secret"}
	g := outbound.New(outbound.Config{Resolver: rebind{}, DataDir: t.TempDir()})
	g.SetListen("127.0.0.1:1")
	typ := newDestinations(slog.New(slog.DiscardHandler), g, envelopeDefaults{})
	for _, tc := range []struct {
		typ      string
		settings map[string]any
	}{
		{"http", map[string]any{"url": u, "insecureHttp": true}},
		{"splunk_hec", map[string]any{"url": u, "token": "00000000-0000-0000-0000-000000000000", "insecureHttp": true}},
		{"datadog", map[string]any{"url": u, "apiKey": "0123456789abcdef0123456789abcdef", "insecureHttp": true}},
		{"elasticsearch", map[string]any{"urls": []string{u}, "insecureHttp": true}},
		{"eventbridge", map[string]any{"region": "us-east-1", "endpoint": u, "eventBusName": "audit", "credentials": creds}},
		{"cloudwatch_logs", map[string]any{"logGroupName": "/audit", "region": "eu-west-1", "endpoint": u, "credentials": creds}},
		{"s3", map[string]any{"bucket": "audit", "region": "us-east-1", "endpoint": u, "credentials": creds}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			settings, _ := json.Marshal(tc.settings)
			verify := func(operator bool) error {
				def := stream.Definition{Header: kvstore.Header{ID: "s", Type: tc.typ, Org: "acme", Settings: settings},
					Operator: operator}
				if err := typ.Validate(def); err != nil {
					t.Fatalf("validate: got %v, want nil (a name is judged when dialled)", err)
				}
				return typ.Verify(t.Context(), def)
			}
			before := h.hits.Load()
			if err := verify(false); err == nil || !strings.Contains(err.Error(), "loopback") {
				t.Fatalf("tenant: got %v, want a loopback refusal from the dialer", err)
			}
			if n := h.hits.Load() - before; n != 0 {
				t.Fatalf("tenant: the server got %d requests, want 0", n)
			}
			_ = verify(true)
			if h.hits.Load() == before {
				t.Fatal("operator: the server got no request, want the destination reached")
			}
		})
	}
}

// TestTenantAWSDestinationsBringTheirOwnKeys: an AWS destination of an
// org-scoped token with no keys of its own would sign with the server's
// credentials (its environment, instance role): refused, unless the
// operator allows it; the operator's own streams may.
func TestTenantAWSDestinationsBringTheirOwnKeys(t *testing.T) {
	// The server's "own" credentials: what the default chain would find.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASERVERSOWNKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
	keyless := map[string]map[string]any{
		"s3":              {"type": "s3", "name": "b", "settings": map[string]any{"bucket": "acme-audit", "region": "us-east-1"}},
		"eventbridge":     {"type": "eventbridge", "name": "e", "settings": map[string]any{"region": "us-east-1"}},
		"cloudwatch_logs": {"type": "cloudwatch_logs", "name": "c", "settings": map[string]any{"region": "us-east-1", "logGroupName": "g"}},
		"assumed role":    {"type": "s3", "name": "r", "settings": map[string]any{"bucket": "acme-audit", "region": "us-east-1", "credentials": map[string]any{"roleArn": "arn:aws:iam::123456789012:role/x", "externalId": "acme"}}},
	}
	r := startApp(t, testConfig(""))
	acme := r.token("acme", "logStreams.manage", "logStreams.read")
	for name, in := range keyless {
		t.Run("tenant "+name, func(t *testing.T) {
			code, body, _ := r.stream(acme, "?verify=false", in)
			if code != http.StatusBadRequest || !strings.Contains(body, "credentials.accessKeyId") || !strings.Contains(body, "egress.tenantAwsCredentials") {
				t.Fatalf("got %d %s, want 400 naming credentials.accessKeyId and egress.tenantAwsCredentials", code, body)
			}
		})
	}
	own := map[string]any{"type": "s3", "name": "k", "settings": map[string]any{"bucket": "acme-audit", "region": "us-east-1",
		"credentials": map[string]any{"accessKeyId": "AKIATENANTSOWN", "secretAccessKey": "tenant-secret"}}}
	if code, body, _ := r.stream(acme, "?verify=false", own); code != http.StatusOK {
		t.Fatalf("tenant with keys of its own: got %d %s, want 200", code, body)
	}
	op := map[string]any{"type": "s3", "name": "op", "org": "acme", "settings": map[string]any{"bucket": "acme-audit", "region": "us-east-1"}}
	if code, body, _ := r.stream(testAdmin, "?verify=false", op); code != http.StatusOK {
		t.Fatalf("operator without keys: got %d %s, want 200", code, body)
	}

	cfg := testConfig("")
	cfg.Egress.TenantAWSCredentials = true
	allowed := startApp(t, cfg)
	tok := allowed.token("acme", "logStreams.manage")
	if code, body, _ := allowed.stream(tok, "?verify=false", keyless["s3"]); code != http.StatusOK {
		t.Fatalf("tenant without keys, egress.tenantAwsCredentials on: got %d %s, want 200", code, body)
	}
}
