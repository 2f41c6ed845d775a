package okta_test

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
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/okta"
	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
)

// internalResolver answers every name with a private address.
type internalResolver struct{}

func (internalResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
}

// verifyAPI serves the sources API with the okta type wired as serve
// wires it: the egress policy checks baseUrl, and the poller's transport
// dials through an egress.Dialer of the source owner's trust. X-Org picks
// the token: "*" the operator's, else an org's. Logs go to logs.
func verifyAPI(t *testing.T, logs *bytes.Buffer) (*httptest.Server, *source.Store) {
	t.Helper()
	j := journaltest.Open(t)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := source.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketSources), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := egress.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	typ := okta.NewType(okta.Options{Egress: policy, RequestTimeout: 5 * time.Second, Transport: func(d source.Definition) http.RoundTripper {
		trust := egress.Tenant
		if d.ByOperator() {
			trust = egress.Operator
		}
		return &http.Transport{DialContext: (&egress.Dialer{Policy: policy, Trust: trust, Resolver: internalResolver{}}).DialContext}
	}})
	a := &source.API{Store: store, Types: map[string]source.Type{"okta": typ}, Log: log, DefaultOrg: "default"}
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			tok := auth.Token{ID: "t-" + r.Header.Get("X-Org"), Org: r.Header.Get("X-Org"), Scopes: []auth.Scope{auth.ScopeManageSources}}
			if err := rt.Handle(w, r, tok); err != nil {
				httpapi.WriteError(w, log, err)
			}
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, store
}

func postAs(t *testing.T, srv *httptest.Server, org, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Org", org)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestVerifyDryRun: POST /api/v1/sources?dryRun=true makes one real
// System Log request with the settings and stores nothing: a good token
// is ok, a bad one is Okta's 401 with its error code, a rate-limited org
// its 429, a refused request its 403; an org's token may not reach an
// internal address, by address (the policy's check) or by a name that
// resolves to one (the dialer), and the org is never called then. The
// token is never in an answer or a log line.
func TestVerifyDryRun(t *testing.T) {
	const good, bad = "00good-token-secret-value", "00bad-token-secret-value"
	org := oktatest.New(oktatest.Config{APIToken: good})
	defer org.Close()
	limited := oktatest.New(oktatest.Config{APIToken: good, RateLimit: 1, Window: time.Hour})
	defer limited.Close()
	var logs bytes.Buffer
	srv, store := verifyAPI(t, &logs)
	body := func(base, tok string) string {
		return `{"type":"okta","name":"acme okta","org":"acme","settings":{"baseUrl":"` + base + `","auth":{"type":"SSWS","token":"` + tok + `"}}}`
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(org.URL, "http://"))
	tests := []struct {
		name     string
		as       string // X-Org
		org      *oktatest.Org
		body     string
		before   func()
		status   int
		want     []string
		requests int // calls the org sees
	}{
		{"good token", "*", org, body(org.URL, good), nil, 200, []string{`"valid":true`, `"verified":true`}, 1},
		{"bad token", "*", org, body(org.URL, bad), nil, 400, []string{"E0000001", "401 Unauthorized", "E0000011 Invalid token provided"}, 1},
		{"forbidden", "*", org, body(org.URL, good), func() { org.FailNext(1, http.StatusForbidden) }, 400, []string{"403 Forbidden"}, 1},
		{"rate limited", "*", limited, body(limited.URL, good), func() {
			if code, b := postAs(t, srv, "*", "/api/v1/sources?dryRun=true", body(limited.URL, good)); code != 200 {
				t.Fatalf("first call: got %d %s, want 200", code, b)
			}
		}, 400, []string{"429 Too Many Requests"}, 2},
		{"an org's token, loopback address", "acme", org, body(org.URL, good), nil, 400, []string{"settings.baseUrl", "127.0.0.1"}, 0},
		{"an org's token, a name of an internal address", "acme", org, body("https://okta-internal.example:"+port, good), nil, 400,
			[]string{"the source check failed", "10.1.2.3"}, 0},
		{"an org's token, skipping the check", "acme", org, body("https://acme.okta.example", good), nil, 200, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "an org's token, skipping the check" {
				code, b := postAs(t, srv, tt.as, "/api/v1/sources?dryRun=true&verify=false", tt.body)
				if code != 200 || !strings.Contains(b, `"verified":false`) {
					t.Errorf("verify=false: got %d %s, want 200, not verified", code, b)
				}
				return
			}
			if tt.before != nil {
				tt.before()
			}
			before := tt.org.Stats().Requests
			code, b := postAs(t, srv, tt.as, "/api/v1/sources?dryRun=true", tt.body)
			if code != tt.status {
				t.Errorf("got %d %s, want %d", code, b, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(b, w) {
					t.Errorf("got %s, want %q in it", b, w)
				}
			}
			if got := tt.org.Stats().Requests - before; tt.requests > 0 && got != 1 || tt.requests == 0 && got != 0 {
				t.Errorf("the org saw %d requests, want %d", got, min(tt.requests, 1))
			}
			if strings.Contains(b, good) || strings.Contains(b, bad) {
				t.Errorf("the answer holds the token: %s", b)
			}
		})
	}
	if ds := store.List(); len(ds) != 0 {
		t.Errorf("stored: got %d sources after dry runs, want none", len(ds))
	}
	if strings.Contains(logs.String(), good) || strings.Contains(logs.String(), bad) {
		t.Errorf("a log line holds the token:\n%s", logs.String())
	}
	// Without dryRun the same body is stored (the dry run is the only
	// difference).
	if code, b := postAs(t, srv, "*", "/api/v1/sources", body(org.URL, good)); code != 200 || strings.Contains(b, good) {
		t.Errorf("create: got %d %s, want 200 without the token", code, b)
	}
	if ds := store.List(); len(ds) != 1 {
		t.Errorf("stored: got %d sources after a create, want 1", len(ds))
	}
}

// TestVerifyDryRunOAuth: a service app's source is verified with a token
// from the org's token endpoint (its client assertion signed with the
// typed key), then the System Log request; a key the app did not register
// is the token endpoint's refusal, and the key is never in the answer.
func TestVerifyDryRunOAuth(t *testing.T) {
	key, pemKey := rsaKey(t)
	_, otherPEM := rsaKey(t)
	org := oktatest.New(oktatest.Config{ClientID: clientID, KeyID: "kid1", PublicKey: &key.PublicKey})
	defer org.Close()
	var logs bytes.Buffer
	srv, store := verifyAPI(t, &logs)
	body := func(pemText string) string {
		b, _ := json.Marshal(map[string]any{"type": "okta", "name": "oauth okta", "org": "acme", "settings": map[string]any{
			"baseUrl": org.URL, "auth": map[string]any{"type": "OAUTH", "clientId": clientID, "keyId": "kid1", "privateKey": pemText}}})
		return string(b)
	}
	if code, b := postAs(t, srv, "*", "/api/v1/sources?dryRun=true", body(pemKey)); code != 200 || !strings.Contains(b, `"verified":true`) {
		t.Errorf("registered key: got %d %s, want verified", code, b)
	}
	if st := org.Stats(); st.Tokens != 1 || st.Requests != 1 {
		t.Errorf("the org issued %d tokens and saw %d log requests, want 1 and 1", st.Tokens, st.Requests)
	}
	code, b := postAs(t, srv, "*", "/api/v1/sources?dryRun=true", body(otherPEM))
	if code != 400 || !strings.Contains(b, "the source check failed") {
		t.Errorf("another key: got %d %s, want the token endpoint's refusal", code, b)
	}
	if strings.Contains(b, "PRIVATE KEY") || strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Errorf("the key is in the answer or the logs")
	}
	if st := org.Stats(); st.Requests != 1 {
		t.Errorf("log requests: got %d, want still 1 (no token, no request)", st.Requests)
	}
	if ds := store.List(); len(ds) != 0 {
		t.Errorf("stored: got %d sources, want none", len(ds))
	}
}
