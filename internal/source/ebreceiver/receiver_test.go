package ebreceiver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/ebreceiver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var discard = slog.New(slog.DiscardHandler)

const (
	envelopeFile = "../../../testdata/okta/eventbridge-envelope.json"
	apiKey       = "key-0123456789abcdef"
	password     = "pass-0123456789abcdef"
	clientSecret = "secret-0123456789abcdef"
)

type harness struct {
	t   *testing.T
	j   *journal.Journal
	srv *httptest.Server
	// skew moves the receiver's clock (nanoseconds).
	skew atomic.Int64
}

func receiverDef(t *testing.T, id, org, settings string) source.Definition {
	t.Helper()
	s, err := ebreceiver.Prepare(json.RawMessage(settings), nil)
	if err != nil {
		t.Fatalf("prepare %s: %v", id, err)
	}
	return source.Definition{Header: kvstore.Header{ID: id, Type: ebreceiver.Type, Name: id, Status: source.StatusActive, Org: org, Settings: s}}
}

// newHarness serves four receivers: apikey (org acme), basic (globex),
// oauth (initech) and paused (acme, inactive).
func newHarness(t *testing.T, limits httpapi.Limits) *harness {
	t.Helper()
	fixed := []source.Definition{
		receiverDef(t, "apikey", "acme", `{"auth":{"type":"API_KEY","header":"X-Auditstream-Key","value":"`+apiKey+`"}}`),
		receiverDef(t, "basic", "globex", `{"auth":{"type":"BASIC","username":"eventbridge","password":"`+password+`"}}`),
		receiverDef(t, "oauth", "initech", `{"auth":{"type":"OAUTH_CLIENT_CREDENTIALS","clientId":"eb-client","clientSecret":"`+clientSecret+`"},"tokenTtl":"5m"}`),
		receiverDef(t, "paused", "acme", `{"auth":{"type":"API_KEY","header":"X-Paused-Key","value":"`+inactiveKey+`"}}`),
	}
	fixed[3].Status = source.StatusInactive
	return newHarnessWith(t, limits, fixed...)
}

// newHarnessWith serves the receivers fixed.
func newHarnessWith(t *testing.T, limits httpapi.Limits, fixed ...source.Definition) *harness {
	t.Helper()
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, "auditstream_sources")
	state := journaltest.KV(t, j, source.BucketState)
	key, err := ebreceiver.LoadKey(t.Context(), state, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ebreceiver.LoadKey(t.Context(), state, nil)
	if err != nil || !bytes.Equal(key, again) {
		t.Fatalf("LoadKey twice: got a different key (%v), want the same", err)
	}
	store, err := source.NewStore(t.Context(), kv, fixed, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	h := &harness{t: t, j: j}
	sup := source.NewSupervisor(source.SupervisorConfig{Store: store, Log: discard})
	rc := ebreceiver.New(ebreceiver.Config{Store: store, Journal: j, Status: sup.StatusOf, Limits: limits, Key: key,
		Log: discard, Now: func() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }})
	mux := http.NewServeMux()
	for _, rt := range rc.Routes() {
		if !rt.OwnAuth {
			t.Fatalf("route %s: got OwnAuth false, want true", rt.Pattern)
		}
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := rt.Handle(w, r, zeroToken); err != nil {
				httpapi.WriteError(w, discard, err)
			}
		})
	}
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func envelope(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(envelopeFile)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends body as an API destination does to receiver id's URL ("" for
// the shared URL), with auth applied.
func (h *harness) post(id string, body []byte, auth func(*http.Request)) (int, http.Header, string) {
	h.t.Helper()
	path := "/api/v1/eventbridge"
	if id != "" {
		path += "/" + id
	}
	req, err := http.NewRequest("POST", h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "Amazon/EventBridge/ApiDestinations")
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Range", "bytes=0-1048575")
	req.Header.Set("Accept-Encoding", "gzip,deflate")
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// token gets an access token from the oauth receiver's token endpoint.
func (h *harness) token(id, secret string, basic bool) (int, string) {
	h.t.Helper()
	return h.tokenAt("/api/v1/eventbridge/oauth/token", id, secret, basic)
}

// tokenAt gets an access token from the token endpoint at path.
func (h *harness) tokenAt(path, id, secret string, basic bool) (int, string) {
	h.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if !basic {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(id, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode == 200 && (out.TokenType != "Bearer" || out.ExpiresIn != 300) {
		h.t.Fatalf("token answer: got type %q expires_in %d, want Bearer 300", out.TokenType, out.ExpiresIn)
	}
	return resp.StatusCode, out.AccessToken
}

func (h *harness) messages() []event.Record {
	h.t.Helper()
	return journaltest.Records(h.t, h.j)
}
