package app

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/query"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/wait"
)

// fakeIdP is an OpenID Connect provider for the tests: discovery, JWKS,
// an authorize endpoint that signs the user in at once, and a token
// endpoint that checks the client secret and the PKCE verifier against
// the challenge, and issues an RS256 ID token carrying the nonce.
type fakeIdP struct {
	t        *testing.T
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string
	secret   string

	mu    sync.Mutex
	codes map[string]authz // code → the authorization request
	// tamper changes the next ID token: "nonce" (a wrong nonce), "key"
	// (signed by a key the JWKS does not hold).
	tamper string
	// pkceChecked counts token requests whose verifier matched.
	pkceChecked int
	groups      []string
}

type authz struct {
	challenge, nonce, redirect string
}

func newFakeIdP(t *testing.T) *fakeIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeIdP{t: t, key: key, clientID: "console", secret: "idp-client-secret", codes: map[string]authz{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := p.srv.URL
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": base, "authorization_endpoint": base + "/authorize", "token_endpoint": base + "/token",
			"jwks_uri": base + "/jwks", "response_types_supported": []string{"code"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != p.clientID || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		code := rand.Text()
		p.mu.Lock()
		p.codes[code] = authz{challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), redirect: q.Get("redirect_uri")}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		if id != p.clientID || sec != p.secret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		p.mu.Lock()
		a, ok := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		tamper := p.tamper
		p.tamper = ""
		groups := p.groups
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge || r.PostFormValue("redirect_uri") != a.redirect {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		p.mu.Lock()
		p.pkceChecked++
		p.mu.Unlock()
		nonce, signer := a.nonce, p.key
		switch tamper {
		case "nonce":
			nonce = "not-the-nonce"
		case "key":
			signer, _ = rsa.GenerateKey(rand.Reader, 2048)
		}
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{"iss": p.srv.URL, "sub": "00u-alice", "aud": p.clientID,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": nonce,
			"email": "alice@acme.example", "groups": groups})
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: signer},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			t.Error(err)
			return
		}
		jws, err := s.Sign(claims)
		if err != nil {
			t.Error(err)
			return
		}
		idt, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": idt})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func TestConsoleOIDCSignIn(t *testing.T) {
	idp := newFakeIdP(t)
	idp.groups = []string{"Everyone", "acme-auditors"}
	// The redirect URL names the service's address, so the port is
	// chosen before it starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig("")
	cfg.Listen = addr
	cfg.Console.OIDC = config.OIDC{Issuer: idp.srv.URL, ClientID: idp.clientID, ClientSecret: secret.String(idp.secret),
		RedirectURL: "http://" + addr + "/console/oidc/callback",
		Groups: []config.OIDCGroup{
			{Group: "acme-auditors", Org: "acme", Scopes: []string{"logs.read", "logStreams.manage"}},
			{Group: "other-admins", Org: "other", Scopes: []string{"admin"}},
		}}
	r, err := launchListen(t, cfg, testAdmin)
	if err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the query index to catch up", func() bool {
		_, body := r.call("GET", "/readyz", testAdmin, nil)
		return !strings.Contains(body, query.ConditionIndex)
	}, wait.Within(20*time.Second), wait.Every(20*time.Millisecond))
	if code, body := r.call("POST", "/api/v1/logStreams", testAdmin, map[string]any{"type": "file", "name": "acme stream", "org": "acme",
		"settings": map[string]any{"dir": t.TempDir()}}); code != 200 {
		t.Fatalf("create stream: %d %s", code, body)
	}

	b := newBrowser(t, r.base)
	sso := func() {
		t.Helper()
		b.open("/console/signin")
		b.do("sso button", chromedp.WaitVisible(chromedp.CSS("#sso")))
		b.navigateBy("sign in with sso", chromedp.Click(chromedp.CSS("#sso")))
	}

	// A token with the wrong nonce, or signed by another key, is refused.
	for _, tamper := range []string{"nonce", "key"} {
		idp.mu.Lock()
		idp.tamper = tamper
		idp.mu.Unlock()
		sso()
		b.do("refused", chromedp.WaitVisible(chromedp.CSS("#error")))
		if got := b.text("#error"); !strings.Contains(got, "Authentication failed") {
			t.Fatalf("tampered %s: got %q, want Authentication failed", tamper, got)
		}
		if n := b.count("#who-org"); n != 0 {
			t.Fatalf("tampered %s: signed in", tamper)
		}
	}

	sso()
	b.do("signed in", chromedp.WaitVisible(chromedp.CSS("#who-org")))
	if got := b.text("#who-org"); got != "acme" {
		t.Fatalf("org from groups: got %q, want acme", got)
	}
	idp.mu.Lock()
	checked := idp.pkceChecked
	idp.mu.Unlock()
	if checked != 3 {
		t.Errorf("PKCE: got %d token requests with a matching verifier, want 3", checked)
	}
	// The user acts with the mapped scopes, as itself: a change is an
	// audit event with the user as actor.
	b.open("/console/streams")
	b.navigateBy("open the stream", chromedp.Click(chromedp.CSS("#streams-table tbody a")))
	b.navigateBy("deactivate", chromedp.Click(chromedp.CSS("#deactivate")))
	if got := b.text("#stream-status"); got != "INACTIVE" {
		t.Fatalf("deactivate as the SSO user: got %q", got)
	}
	b.shot("oidc-stream")
	_, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.log_stream.lifecycle.deactivate"`), testAdmin, nil)
	if !strings.Contains(body, `"alternateId":"alice@acme.example"`) || !strings.Contains(body, `"type":"User"`) {
		t.Errorf("audit event: got %s, want alice as a User actor", body)
	}
	// Tokens need admin, which acme-auditors does not map to.
	b.open("/console/tokens")
	if got := b.text("#error"); !strings.Contains(got, "You do not have permission") {
		t.Errorf("tokens as the SSO user: got %q, want Okta's permission error", got)
	}
}
