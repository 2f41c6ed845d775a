package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
	"github.com/auditstream/auditstream/internal/wait"
)

const oktaToken = "e2e-okta-api-token-0123456789"

type sourceObj struct {
	ID       string         `json:"id"`
	Status   string         `json:"status"`
	Org      string         `json:"org"`
	Settings map[string]any `json:"settings"`
	Links    map[string]struct {
		Href   string `json:"href"`
		Method string `json:"method"`
	} `json:"_links"`
}

type sourceStatus struct {
	State    string `json:"state"`
	Events   uint64 `json:"events"`
	CaughtUp bool   `json:"caughtUp"`
	Backfill *struct {
		State  string `json:"state"`
		Events uint64 `json:"events"`
	} `json:"backfill"`
}

func (s *server) sourceStatus(id string) sourceStatus {
	s.t.Helper()
	var st sourceStatus
	s.mustJSON("GET", "/api/v1/sources/"+id+"/status", nil, 200, &st)
	return st
}

// TestSourceOktaPoller creates an Okta source through the API, pointed at
// a fake org on loopback: the polled events flow to a log stream that
// selects them by their envelope source, a restart resumes from the
// checkpoint without pulling them again, and a backfill runs.
func TestSourceOktaPoller(t *testing.T) {
	all, err := oktatest.LoadEvents("../testdata/okta/logevents.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	o := oktatest.New(oktatest.Config{APIToken: oktaToken})
	defer o.Close()
	o.Add(all[:30]...)

	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	rcv := newReceiver(t)
	s.createHTTPStream("okta events", rcv.url(),
		map[string]any{"source": []any{map[string]any{"prefix": "aws.partner/okta.com/"}}}, nil)
	var src sourceObj
	s.mustJSON("POST", "/api/v1/sources", map[string]any{"type": "okta", "name": "acme okta", "org": "acme",
		"settings": map[string]any{"baseUrl": o.URL, "auth": map[string]any{"type": "SSWS", "token": oktaToken},
			"pollInterval": "200ms", "since": "1h"}}, 200, &src)
	if src.ID == "" || src.Status != "ACTIVE" || src.Org != "acme" {
		t.Fatalf("created source: got %+v, want an id, ACTIVE, org acme", src)
	}
	if auth, _ := src.Settings["auth"].(map[string]any); auth["token"] != nil {
		t.Fatalf("settings: got the token back, want it write-only")
	}
	wait.Eventually(t, "30 events at the stream", func() bool { return rcv.count() == 30 }, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	wait.Eventually(t, "status with 30 events", func() bool {
		st := s.sourceStatus(src.ID)
		return st.Events == 30 && st.State == "active" && st.CaughtUp
	}, wait.Every(50*time.Millisecond))

	// A restart resumes from the checkpoint: only the new events come.
	s.stop()
	o.Add(all[30:]...)
	requests := o.Stats().Served
	s = startServer(t, dataDir)
	wait.Eventually(t, "all events at the stream", func() bool { return rcv.count() == len(all) }, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	if served := o.Stats().Served - requests; served != len(all)-30 {
		t.Fatalf("events served after the restart: got %d, want %d (resume from the checkpoint)", served, len(all)-30)
	}

	// A backfill re-reads a window; the journal drops the copies.
	var bf map[string]any
	s.mustJSON("POST", "/api/v1/sources/"+src.ID+"/backfill",
		map[string]any{"since": "2019-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, 202, &bf)
	wait.Eventually(t, "backfill done", func() bool {
		st := s.sourceStatus(src.ID)
		return st.Backfill != nil && st.Backfill.State == "DONE"
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	if st := s.sourceStatus(src.ID); st.Backfill.Events != 0 {
		t.Fatalf("backfill new events: got %d, want 0 (all were already in the journal)", st.Backfill.Events)
	}
	for _, raw := range all {
		var h struct {
			UUID string `json:"uuid"`
		}
		_ = json.Unmarshal(raw, &h)
		if n := rcv.times(h.UUID); n != 1 {
			t.Fatalf("event %s: delivered %d times, want 1", h.UUID, n)
		}
	}

	s.mustJSON("POST", "/api/v1/sources/"+src.ID+"/lifecycle/deactivate", nil, 200, &src)
	if src.Status != "INACTIVE" {
		t.Fatalf("deactivate: got %s, want INACTIVE", src.Status)
	}
	s.mustJSON("DELETE", "/api/v1/sources/"+src.ID, nil, 204, nil)
}

// TestSourceEventBridgeReceiver posts the real Okta partner envelope to
// each receiver's own URL (/api/v1/eventbridge/{sourceId}, from its
// _links) as an API destination would, with an API key and with an OAuth
// token from that receiver's token endpoint, and sees it delivered by a
// log stream with an Okta EventBridge rule's pattern.
func TestSourceEventBridgeReceiver(t *testing.T) {
	env, err := os.ReadFile("../testdata/okta/eventbridge-envelope.json")
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "")
	rcv := newReceiver(t)
	s.createHTTPStream("okta partner events", rcv.url(), map[string]any{
		"source": []any{map[string]any{"prefix": "aws.partner/okta.com/"}}, "detail-type": []any{"SystemLog"},
		"detail": map[string]any{"eventType": []any{"user.session.access_admin_app"}}}, nil)
	// Filters see the account the envelope arrived with, not the default.
	byAccount := newReceiver(t)
	s.createHTTPStream("from the partner account", byAccount.url(), map[string]any{"account": []any{"999999999999"}}, nil)
	defaultAccount := newReceiver(t)
	s.createHTTPStream("from the default account", defaultAccount.url(), map[string]any{"account": []any{"000000000000"},
		"detail": map[string]any{"eventType": []any{"user.session.access_admin_app"}}}, nil)
	const key = "e2e-eventbridge-key-0123456789"
	var keyed, oauth sourceObj
	s.mustJSON("POST", "/api/v1/sources", map[string]any{"type": "eventbridge", "name": "api destination", "org": "acme",
		"settings": map[string]any{"auth": map[string]any{"type": "API_KEY", "header": "X-Api-Key", "value": key}}}, 200, &keyed)
	const secret = "e2e-eventbridge-secret-0123456789"
	s.mustJSON("POST", "/api/v1/sources", map[string]any{"type": "eventbridge", "name": "oauth destination", "org": "acme",
		"settings": map[string]any{"auth": map[string]any{"type": "OAUTH_CLIENT_CREDENTIALS", "clientId": "eb", "clientSecret": secret}}}, 200, &oauth)
	if got, want := keyed.Links["receiver"].Href, s.url("/api/v1/eventbridge/"+keyed.ID); got != want {
		t.Fatalf("_links.receiver: got %q, want %q", got, want)
	}
	if got, want := oauth.Links["token"].Href, s.url("/api/v1/eventbridge/"+oauth.ID+"/token"); got != want {
		t.Fatalf("_links.token: got %q, want %q", got, want)
	}

	post := func(body []byte, header, value string) int {
		return postTo(t, keyed.Links["receiver"].Href, body, header, value)
	}
	postOAuth := func(body []byte, header, value string) int {
		return postTo(t, oauth.Links["receiver"].Href, body, header, value)
	}
	if code := post(env, "X-Api-Key", "wrong-key-0123456789"); code != 401 {
		t.Fatalf("wrong key: got %d, want 401", code)
	}
	if code := postTo(t, s.url("/api/v1/eventbridge"), env, "X-Api-Key", key); code != 409 {
		t.Fatalf("shared URL with two receivers: got %d, want 409", code)
	}
	if code := post(env, "X-Api-Key", key); code != 202 {
		t.Fatalf("api key: got %d, want 202", code)
	}
	const uuid = "c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b"
	wait.Eventually(t, "the envelope's event at the stream", func() bool { return rcv.has(uuid) }, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
	wait.Eventually(t, "the event at the stream filtering on its account", func() bool { return byAccount.has(uuid) }, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
	if defaultAccount.has(uuid) {
		t.Fatalf("the stream filtering on the default account got the partner account's event")
	}

	// OAuth client credentials: auditstream is the authorization endpoint.
	req, _ := http.NewRequest("POST", oauth.Links["token"].Href,
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("eb", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token: got %d, want 200 and a token", resp.StatusCode)
	}
	second := bytes.Replace(env, []byte(uuid), []byte("d7fe305b-fef4-11ed-a5b1-bbb7c1de1a4b"), 1)
	if code := post(second, "Authorization", "Bearer "+tok.AccessToken); code != 401 {
		t.Fatalf("oauth token at the api key receiver: got %d, want 401", code)
	}
	if code := postOAuth(second, "Authorization", "Bearer "+tok.AccessToken); code != 202 {
		t.Fatalf("oauth: got %d, want 202", code)
	}
	wait.Eventually(t, "the second event at the stream", func() bool { return rcv.has("d7fe305b-fef4-11ed-a5b1-bbb7c1de1a4b") }, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
	if n := rcv.times(uuid); n != 1 {
		t.Fatalf("first event: delivered %d times, want 1", n)
	}
}

// postTo posts body to an EventBridge receiver URL as an API destination
// does, with header set to value, and returns the status.
func postTo(t *testing.T, u string, body []byte, header, value string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Amazon/EventBridge/ApiDestinations")
	if header != "" {
		req.Header.Set(header, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSourceFromConfigFile declares a receiver in the YAML config: it is
// read-only in the API, shows no secret, and accepts its credentials.
func TestSourceFromConfigFile(t *testing.T) {
	env, err := os.ReadFile("../testdata/okta/eventbridge-envelope.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := t.TempDir() + "/auditstream.yaml"
	yaml := `sources:
  - id: eb-basic
    name: API destination
    type: eventbridge
    org: acme
    settings:
      auth:
        type: BASIC
        username: eventbridge
        password: e2e-basic-password-0123456789
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg)
	var list []struct {
		ID       string         `json:"id"`
		ReadOnly bool           `json:"readOnly"`
		Settings map[string]any `json:"settings"`
	}
	s.mustJSON("GET", "/api/v1/sources", nil, 200, &list)
	if len(list) != 1 || list[0].ID != "eb-basic" || !list[0].ReadOnly {
		t.Fatalf("sources: got %+v, want the read-only eb-basic", list)
	}
	if b, _ := json.Marshal(list[0].Settings); bytes.Contains(b, []byte("password")) || bytes.Contains(b, []byte("secretSha256")) {
		t.Fatalf("settings: got %s, want no secret", b)
	}
	s.mustJSON("DELETE", "/api/v1/sources/eb-basic", nil, 403, nil)
	for _, tc := range []struct {
		path, password string
		want           int
	}{
		{"/api/v1/eventbridge/eb-basic", "wrong-password-0123456789", 401},
		{"/api/v1/eventbridge/eb-basic", "e2e-basic-password-0123456789", 202},
		// The single receiver keeps the shared URL of the first version.
		{"/api/v1/eventbridge", "wrong-password-0123456789", 401},
		{"/api/v1/eventbridge", "e2e-basic-password-0123456789", 202},
	} {
		req, _ := http.NewRequest("POST", s.url(tc.path), bytes.NewReader(env))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.SetBasicAuth("eventbridge", tc.password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("%s with password %q: got %d, want %d", tc.path, tc.password, resp.StatusCode, tc.want)
		}
	}
}
