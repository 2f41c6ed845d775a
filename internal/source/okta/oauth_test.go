package okta_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/okta"
	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
	"github.com/auditstream/auditstream/internal/wait"
)

func rsaKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

const clientID = "0oaservice123"

// TestOAuthPoll polls with a service app: the org checks every client
// assertion, tokens are renewed before they expire and after the org
// drops them.
func TestOAuthPoll(t *testing.T) {
	key, pemKey := rsaKey(t)
	all := fileEvents(t)
	o := newOrg(t, oktatest.Config{ClientID: clientID, KeyID: "kid1", PublicKey: &key.PublicKey, TokenTTL: 2 * time.Second})
	o.Add(all[:20]...)
	e := newEnv(t)
	st := &source.Status{}
	d := definition(t, o.URL, okta.Settings{Auth: okta.Auth{Type: okta.AuthOAuth, ClientID: clientID, KeyID: "kid1", PrivateKey: pemKey}})
	e.start(d, fastOpts, nil, st, nil)
	wait.Eventually(t, "20 events", func() bool { return len(e.stored()) == 20 })
	// Past the token's lifetime the poller has renewed it on its own.
	wait.Eventually(t, "a renewed token", func() bool { return o.Stats().Tokens >= 2 })
	o.ExpireTokens()
	o.Add(all[20:]...)
	wait.Eventually(t, "all events", func() bool { return len(e.stored()) == len(all) })
	s := o.Stats()
	if len(s.AssertionErrors) != 0 {
		t.Fatalf("assertion errors: got %v, want none", s.AssertionErrors)
	}
	if s.Tokens < 3 {
		t.Fatalf("tokens issued: got %d, want at least 3 (first, renewed, after expiry)", s.Tokens)
	}
	e.wantAll(all)
	if snap := st.Snapshot(time.Now()); snap.State != source.StateActive {
		t.Fatalf("state: got %s, want active", snap.State)
	}
}

// TestOAuthWrongKey registers another key at the org: the token endpoint
// refuses the assertion and the source shows a credential error.
func TestOAuthWrongKey(t *testing.T) {
	registered, _ := rsaKey(t)
	_, pemKey := rsaKey(t)
	o := newOrg(t, oktatest.Config{ClientID: clientID, PublicKey: &registered.PublicKey})
	o.Add(fileEvents(t)[:3]...)
	e := newEnv(t)
	st := &source.Status{}
	e.start(definition(t, o.URL, okta.Settings{Auth: okta.Auth{Type: okta.AuthOAuth, ClientID: clientID, PrivateKey: pemKey}}), fastOpts, nil, st, nil)
	wait.Eventually(t, "a credential error", func() bool {
		s := st.Snapshot(time.Now())
		return s.State == source.StateError && s.LastErrorKind == source.KindAuth
	})
	if got := o.Stats().AssertionErrors; !slices.Contains(got, "signature does not verify") {
		t.Fatalf("assertion errors: got %v, want a signature error", got)
	}
	if n := len(e.stored()); n != 0 {
		t.Fatalf("events stored: got %d, want 0", n)
	}
}

// TestFakeOrgChecksAssertion posts assertions to the fake org's token
// endpoint directly: each wrong claim is refused for its reason.
func TestFakeOrgChecksAssertion(t *testing.T) {
	key, _ := rsaKey(t)
	other, _ := rsaKey(t)
	o := newOrg(t, oktatest.Config{ClientID: clientID, KeyID: "kid1", PublicKey: &key.PublicKey})
	aud := o.URL + "/oauth2/v1/token"
	now := time.Now()
	tests := []struct {
		name     string
		key      *rsa.PrivateKey
		kid      string
		clientID string
		aud      string
		at       time.Time
		want     int
		reason   string
	}{
		{"valid", key, "kid1", clientID, aud, now, 200, ""},
		{"other key", other, "kid1", clientID, aud, now, 401, "signature does not verify"},
		{"other kid", key, "kid2", clientID, aud, now, 401, "kid"},
		{"wrong aud", key, "kid1", clientID, o.URL + "/oauth2/default/v1/token", now, 401, "aud"},
		{"wrong iss and sub", key, "kid1", "0oaother", aud, now, 401, "iss"},
		{"expired", key, "kid1", clientID, aud, now.Add(-10 * time.Minute), 401, "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jwt, err := okta.SignAssertion(tc.key, tc.kid, tc.clientID, tc.aud, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"okta.logs.read"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {jwt}}
			resp, err := http.PostForm(aud, form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Desc string `json:"error_description"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, body.Desc, tc.want)
			}
			if !strings.Contains(body.Desc, tc.reason) {
				t.Fatalf("reason: got %q, want it to mention %q", body.Desc, tc.reason)
			}
		})
	}
}
