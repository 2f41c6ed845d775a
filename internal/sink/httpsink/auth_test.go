package httpsink

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/fakeclock"
	"github.com/auditstream/auditstream/internal/sink"
)

func TestStaticAuth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		auth       Auth
		wantHeader string
		wantValue  string
	}{
		{"none", Auth{}, "Authorization", ""},
		{"basic", Auth{Type: AuthBasic, Username: "ada", Password: "p:ss wörd"}, "Authorization", "Basic YWRhOnA6c3Mgd8O2cmQ="},
		{"apiKey default header", Auth{Type: AuthAPIKey, APIKey: "k-123"}, "X-API-Key", "k-123"},
		{"apiKey bearer", Auth{Type: AuthAPIKey, HeaderName: "authorization", APIKey: "Bearer t-1"}, "Authorization", "Bearer t-1"},
		{"apiKey custom header", Auth{Type: AuthAPIKey, HeaderName: "DD-API-KEY", APIKey: "dd"}, "Dd-Api-Key", "dd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, nil)
			s := newTestSink(t, Config{URL: rc.srv.URL, Auth: tc.auth}, sink.Deps{})
			if err := s.Write(t.Context(), sink.Batch{Records: records(1)}); err != nil {
				t.Fatalf("write: got %v, want nil", err)
			}
			if got := rc.requests()[0].header.Get(tc.wantHeader); got != tc.wantValue {
				t.Errorf("%s: got %q, want %q", tc.wantHeader, got, tc.wantValue)
			}
		})
	}
}

// tokenServer is an OAuth 2.0 token endpoint and a protected webhook.
type tokenServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	issued   int    // tokens handed out
	valid    string // the only token the webhook accepts; "" accepts the newest
	refuse   int    // when set, the token endpoint answers this status
	hookHits int
	lifetime int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{t: t, lifetime: 120}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", ts.token)
	mux.HandleFunc("POST /hook", ts.hook)
	ts.srv = httptest.NewServer(mux)
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) token(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.refuse != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ts.refuse)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
		return
	}
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != "client:1" || secret != "s&cr=t" {
		ts.t.Errorf("token request credentials: got %q %q, want %q %q", id, secret, "client:1", "s&cr=t")
	}
	if err := r.ParseForm(); err != nil {
		ts.t.Errorf("token request form: %v", err)
	}
	if got := r.PostForm.Get("grant_type"); got != "client_credentials" {
		ts.t.Errorf("grant_type: got %q, want client_credentials", got)
	}
	if got := r.PostForm.Get("scope"); got != "events.write audit" {
		ts.t.Errorf("scope: got %q, want %q", got, "events.write audit")
	}
	ts.issued++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("tok-%d", ts.issued),
		"token_type":   "Bearer",
		"expires_in":   ts.lifetime,
	})
}

func (ts *tokenServer) hook(w http.ResponseWriter, r *http.Request) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.hookHits++
	valid := ts.valid
	if valid == "" {
		valid = fmt.Sprintf("tok-%d", ts.issued)
	}
	if r.Header.Get("Authorization") != "Bearer "+valid {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (ts *tokenServer) set(f func(*tokenServer)) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f(ts)
}

func (ts *tokenServer) counts() (issued, hookHits int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.issued, ts.hookHits
}

func TestOAuth2ClientCredentials(t *testing.T) {
	ts := newTokenServer(t)
	clock := fakeclock.New(time.Unix(1723564700, 0))
	s := newTestSink(t, Config{
		URL: ts.srv.URL + "/hook",
		Auth: Auth{
			Type:         AuthOAuth2,
			TokenURL:     ts.srv.URL + "/token",
			ClientID:     "client:1",
			ClientSecret: "s&cr=t",
			Scopes:       []string{"events.write", "audit"},
		},
	}, sink.Deps{Now: clock.Now})

	// Each step runs in order against the same sink and servers.
	for _, step := range []struct {
		name       string
		before     func()
		wantClass  *sink.Class // nil: success
		wantIssued int
		wantHits   int
	}{
		{name: "first write fetches a token", wantIssued: 1, wantHits: 1},
		{name: "cached token is reused", wantIssued: 1, wantHits: 2},
		{name: "still cached before refresh time", before: func() { clock.Add(100 * time.Second) }, wantIssued: 1, wantHits: 3},
		{name: "refreshed shortly before expiry", before: func() { clock.Add(10 * time.Second) }, wantIssued: 2, wantHits: 4},
		{name: "401 fetches again once", before: func() { ts.set(func(ts *tokenServer) { ts.valid = "tok-3" }) }, wantIssued: 3, wantHits: 6},
		{name: "second 401 holds the stream as misconfigured", before: func() { ts.set(func(ts *tokenServer) { ts.valid = "never" }) }, wantClass: ptr(sink.ClassConfig), wantIssued: 4, wantHits: 8},
		{name: "token endpoint refusing the client holds the stream as misconfigured", before: func() {
			ts.set(func(ts *tokenServer) { ts.valid, ts.refuse = "", http.StatusUnauthorized })
			clock.Add(time.Hour)
		}, wantClass: ptr(sink.ClassConfig), wantIssued: 4, wantHits: 8},
		{name: "token endpoint 503 throttles", before: func() { ts.set(func(ts *tokenServer) { ts.refuse = http.StatusServiceUnavailable }) }, wantClass: ptr(sink.ClassThrottled), wantIssued: 4, wantHits: 8},
		{name: "recovers", before: func() { ts.set(func(ts *tokenServer) { ts.refuse = 0 }) }, wantIssued: 5, wantHits: 9},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.before != nil {
				step.before()
			}
			err := s.Write(t.Context(), sink.Batch{Records: records(1)})
			switch {
			case step.wantClass == nil && err != nil:
				t.Errorf("write: got %v, want nil", err)
			case step.wantClass != nil:
				if class, _ := sink.ClassOf(err); err == nil || class != *step.wantClass {
					t.Errorf("write: got %v (%v), want class %v", err, class, *step.wantClass)
				}
			}
			if issued, hits := ts.counts(); issued != step.wantIssued || hits != step.wantHits {
				t.Errorf("tokens issued, webhook hits: got %d, %d, want %d, %d", issued, hits, step.wantIssued, step.wantHits)
			}
		})
	}

	t.Run("token errors quote the endpoint's answer", func(t *testing.T) {
		ts.set(func(ts *tokenServer) { ts.refuse = http.StatusBadRequest })
		clock.Add(time.Hour)
		err := s.Write(t.Context(), sink.Batch{Records: records(1)})
		if !strings.Contains(fmt.Sprint(err), "invalid_client") || strings.Contains(fmt.Sprint(err), "s&cr=t") {
			t.Errorf("write: got %v, want the error body quoted and no secret", err)
		}
		ts.set(func(ts *tokenServer) { ts.refuse = 0 })
	})

	t.Run("verify fetches a token", func(t *testing.T) {
		clock.Add(time.Hour)
		issued, _ := ts.counts()
		if err := s.Verify(t.Context()); err != nil {
			t.Errorf("verify: got %v, want nil", err)
		}
		if got, _ := ts.counts(); got != issued+1 {
			t.Errorf("tokens issued: got %d, want %d", got, issued+1)
		}
	})
}

func TestOAuth2TokenAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answer    string
		wantClass sink.Class
		wantErr   bool
	}{
		{name: "string expires_in", answer: `{"access_token":"a","token_type":"bearer","expires_in":"3600"}`},
		{name: "no expires_in", answer: `{"access_token":"a"}`},
		{name: "mac token", answer: `{"access_token":"a","token_type":"mac"}`, wantErr: true, wantClass: sink.ClassConfig},
		{name: "no access token", answer: `{"token_type":"bearer"}`, wantErr: true, wantClass: sink.ClassConfig},
		{name: "html", answer: `<html>login</html>`, wantErr: true, wantClass: sink.ClassConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /token", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, tc.answer) })
			mux.HandleFunc("POST /hook", func(http.ResponseWriter, *http.Request) {})
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			s := newTestSink(t, Config{URL: srv.URL + "/hook", Auth: Auth{Type: AuthOAuth2, TokenURL: srv.URL + "/token", ClientID: "c", ClientSecret: "s"}}, sink.Deps{})
			err := s.Write(t.Context(), sink.Batch{Records: records(1)})
			if (err != nil) != tc.wantErr {
				t.Fatalf("write: got %v, want error %v", err, tc.wantErr)
			}
			if class, _ := sink.ClassOf(err); err != nil && class != tc.wantClass {
				t.Errorf("class: got %v, want %v (%v)", class, tc.wantClass, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestNoTokenForARefusedURL: when the policy refuses the url, no token is
// fetched for a request that could not be sent.
func TestNoTokenForARefusedURL(t *testing.T) {
	var tokens atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"t","token_type":"bearer","expires_in":3600}`)
		}
	}))
	defer srv.Close()
	var block atomic.Bool
	deps := sink.Deps{Egress: sink.EgressFuncs{URL: func(u *url.URL) error {
		if block.Load() && u.Path == "/hook" {
			return errors.New("refused")
		}
		return nil
	}}}
	s := newTestSink(t, Config{URL: srv.URL + "/hook", Auth: Auth{Type: AuthOAuth2, TokenURL: srv.URL + "/token", ClientID: "c", ClientSecret: "s"}}, deps)
	block.Store(true)
	if err := s.Write(t.Context(), sink.Batch{Records: records(1)}); !errors.Is(err, sink.ErrForbiddenTarget) {
		t.Fatalf("write: got %v, want ErrForbiddenTarget", err)
	}
	if err := s.Verify(t.Context()); !errors.Is(err, sink.ErrForbiddenTarget) {
		t.Fatalf("verify: got %v, want ErrForbiddenTarget", err)
	}
	if n := tokens.Load(); n != 0 {
		t.Fatalf("token requests: got %d, want 0", n)
	}
}
