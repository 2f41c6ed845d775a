package integrity_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/client"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

type apiHarness struct {
	*fixture
	srv                      *httptest.Server
	acme, other, all, noRead string
}

func newAPIHarness(t *testing.T) *apiHarness {
	t.Helper()
	return newAPIHarnessOn(t, journaltest.Open(t))
}

// newAPIHarnessOn serves the integrity API of journal j.
func newAPIHarnessOn(t *testing.T, j *journal.Journal) *apiHarness {
	t.Helper()
	f := newFixture(t, j, keyring(t, newKeys(t, "k1"), ""))
	discard := slog.New(slog.DiscardHandler)
	tokens, err := auth.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketTokens), discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tokens.Close)
	mk := func(org string, scopes ...auth.Scope) string {
		secret, _, err := tokens.Create(t.Context(), auth.Token{Name: "t-" + org, Org: org, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	h := &apiHarness{fixture: f, acme: mk("acme", auth.ScopeReadLogs), other: mk("other", auth.ScopeReadLogs),
		all: mk(auth.AllOrgs, auth.ScopeAdmin), noRead: mk("acme", auth.ScopeWriteEvents)}
	a := &integrity.API{Journal: j, Keys: f.kr}
	h.srv = httptest.NewServer(api.New(api.Deps{Journal: j, Tokens: tokens, Log: discard, Registry: prometheus.NewRegistry(), Routes: a.Routes()}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *apiHarness) get(t *testing.T, token, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", h.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "SSWS "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v in %s", path, err, b)
		}
	}
	if resp.StatusCode >= 400 && !strings.Contains(string(b), `"errorCode"`) {
		t.Errorf("%s: got %d with %s, want Okta's error body", path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// TestAPIScopesAndOrgs: every integrity endpoint needs logs.read; an org
// token sees its org only (another org's proof is not found, naming
// another org is forbidden); an all-orgs token names the org.
func TestAPIScopesAndOrgs(t *testing.T) {
	h := newAPIHarness(t)
	appendAll(t, h.j, evs(t, "acme", "a", 30))
	appendAll(t, h.j, evs(t, "other", "o", 5))
	h.pass(t)
	tests := []struct {
		name, token, path string
		want              int
	}{
		{"no token", "", "/api/v1/integrity/keys", 401},
		{"no logs.read", h.noRead, "/api/v1/integrity/keys", 403},
		{"keys", h.other, "/api/v1/integrity/keys", 200},
		{"own proof", h.acme, "/api/v1/integrity/proof?uuid=a-7", 200},
		{"another org's proof", h.other, "/api/v1/integrity/proof?uuid=a-7", 404},
		{"another org named", h.other, "/api/v1/integrity/proof?uuid=a-7&org=acme", 403},
		{"another org's digests", h.other, "/api/v1/integrity/digests?org=acme", 403},
		{"another org's batches", h.other, "/api/v1/integrity/batches?org=acme", 403},
		{"all-orgs token names no org", h.all, "/api/v1/integrity/digests", 400},
		{"all-orgs token names a bad org", h.all, "/api/v1/integrity/digests?org=a.b", 400},
		{"all-orgs token", h.all, "/api/v1/integrity/proof?uuid=a-7&org=acme", 200},
		{"no uuid", h.acme, "/api/v1/integrity/proof", 400},
		{"bad limit", h.acme, "/api/v1/integrity/batches?limit=0", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.get(t, tt.token, tt.path, nil); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	var ds struct {
		Digests []integrity.DigestEntry `json:"digests"`
	}
	if h.get(t, h.other, "/api/v1/integrity/digests", &ds); len(ds.Digests) != 1 || !strings.Contains(ds.Digests[0].Envelope, `"org":"other"`) {
		t.Errorf("other's digests: got %+v, want its one digest", ds.Digests)
	}
	var bs struct {
		Batches []integrity.BatchEntry `json:"batches"`
		NextSeq uint64                 `json:"nextSeq"`
	}
	// Pages: limit=1 gives one message and where the next starts.
	h.get(t, h.acme, "/api/v1/integrity/batches?limit=1", &bs)
	if len(bs.Batches) != 1 || bs.NextSeq <= bs.Batches[0].Seq {
		t.Errorf("a page of 1: got %d messages, next %d", len(bs.Batches), bs.NextSeq)
	}
	first := bs.Batches[0].Seq
	h.get(t, h.acme, fmt.Sprintf("/api/v1/integrity/batches?limit=1&fromSeq=%d", bs.NextSeq), &bs)
	if len(bs.Batches) != 1 || bs.Batches[0].Seq <= first {
		t.Errorf("the next page: got %+v after %d", bs.Batches, first)
	}
	h.get(t, h.other, "/api/v1/integrity/batches", &bs)
	for _, b := range bs.Batches {
		if b.Subject != "audit.other" {
			t.Errorf("other's batches: got a message on %s", b.Subject)
		}
	}
}

// TestProof: the proof of an event checks against the digest that covers
// it; a changed event, path or foreign org does not.
func TestProof(t *testing.T) {
	h := newAPIHarness(t)
	appendAll(t, h.j, evs(t, "acme", "a", 130))
	h.pass(t)
	appendAll(t, h.j, evs(t, "acme", "b", 10))
	if got := h.get(t, h.acme, "/api/v1/integrity/proof?uuid=b-3", nil); got != 404 {
		t.Errorf("an event no digest covers yet: got %d, want 404", got)
	}
	h.pass(t)
	for _, uuid := range []string{"a-0", "a-99", "a-129", "b-3"} {
		var p integrity.Proof
		if code := h.get(t, h.acme, "/api/v1/integrity/proof?uuid="+uuid, &p); code != 200 {
			t.Fatalf("%s: got %d", uuid, code)
		}
		d, err := integrity.CheckProof(p, "acme", h.kr.Lookup())
		if err != nil || d.Org != "acme" {
			t.Fatalf("%s: got %v, want the proof to check", uuid, err)
		}
		bad := p
		bad.Event = strings.Replace(p.Event, "event", "EVENT", 1)
		if _, err := integrity.CheckProof(bad, "acme", h.kr.Lookup()); err == nil {
			t.Errorf("%s: a changed event checks", uuid)
		}
		bad = p
		bad.LeafIndex = (p.LeafIndex + 1) % p.TreeSize
		if _, err := integrity.CheckProof(bad, "acme", h.kr.Lookup()); err == nil {
			t.Errorf("%s: another leaf index checks", uuid)
		}
		if _, err := integrity.CheckProof(p, "other", h.kr.Lookup()); err == nil {
			t.Errorf("%s: checks for another org", uuid)
		}
	}
}

// TestVerifyThroughAPI: a tenant verifies its org's trail with its token
// (through GET /api/v1/integrity/batches), and sees tampering.
func TestVerifyThroughAPI(t *testing.T) {
	h := newAPIHarness(t)
	populate(t, h.fixture)
	appendAll(t, h.j, evs(t, "other", "o", 5))
	c := client.New(h.srv.URL, h.acme, nil)
	keys, err := integrity.FetchKeys(t.Context(), c.GetJSON)
	if err != nil {
		t.Fatal(err)
	}
	vo, err := integrity.VerifyOnly(keys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := integrity.VerifyAPI(t.Context(), c.GetJSON, "", vo.Lookup(), nil)
	if err != nil || !r.OK() || r.Org != "acme" || r.Events != 372 {
		t.Fatalf("got %s, %v, want acme's 372 events verified", r, err)
	}
	bs := batches(t, h.j, "acme")
	if err := stream(t, h.j).DeleteMsg(t.Context(), bs[1].Seq); err != nil {
		t.Fatal(err)
	}
	r, err = integrity.VerifyAPI(t.Context(), c.GetJSON, "", vo.Lookup(), nil)
	if err != nil || r.OK() {
		t.Fatalf("after deleting a batch: got %s, %v, want problems", r, err)
	}
}

// newClient is an API client of url with token.
func newClient(url, token string) *client.Client { return client.New(url, token, nil) }
