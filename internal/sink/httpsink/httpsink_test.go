package httpsink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/fakeclock"
	"github.com/auditstream/auditstream/internal/sink"
)

func TestBodyModes(t *testing.T) {
	recs := records(3)
	d := func(i int) string { return string(recs[i].Data) }
	for _, tc := range []struct {
		body        Body
		wantType    string
		wantBodies  []string
		wantMethods string
	}{
		{BodyBatch, "application/json", []string{"[" + d(0) + "," + d(1) + "," + d(2) + "]"}, "PUT"},
		{BodyNDJSON, "application/x-ndjson", []string{string(joinLines(d(0), d(1), d(2)))}, "PUT"},
		{BodyEvent, "application/json", []string{d(0), d(1), d(2)}, "PUT"},
	} {
		t.Run(string(tc.body), func(t *testing.T) {
			rc := newReceiver(t, nil)
			s := newTestSink(t, Config{
				URL:     rc.srv.URL + "/in?token=abc",
				Method:  tc.wantMethods,
				Body:    tc.body,
				Headers: map[string]string{"X-Tenant": "acme"},
			}, sink.Deps{})
			if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
				t.Fatalf("write: got %v, want nil", err)
			}
			got := rc.requests()
			if len(got) != len(tc.wantBodies) {
				t.Fatalf("requests: got %d, want %d", len(got), len(tc.wantBodies))
			}
			for i, c := range got {
				if string(c.body) != tc.wantBodies[i] {
					t.Errorf("body %d: got %s, want %s", i, c.body, tc.wantBodies[i])
				}
				for h, want := range map[string]string{
					"Content-Type": tc.wantType,
					"User-Agent":   "auditstream",
					"X-Tenant":     "acme",
				} {
					if v := c.header.Get(h); v != want {
						t.Errorf("%s: got %q, want %q", h, v, want)
					}
				}
				if c.method != tc.wantMethods {
					t.Errorf("method: got %s, want %s", c.method, tc.wantMethods)
				}
				if c.header.Get("Webhook-Signature") != "" {
					t.Error("webhook-signature sent without a signing secret")
				}
			}
		})
	}
}

func TestSigning(t *testing.T) {
	recs := records(4)
	for _, tc := range []struct {
		body    Body
		batches []sink.Batch
		// wantIDs are the webhook-ids expected, "" for "a batch_ id",
		// with equal non-empty markers meaning equal ids.
		wantIDs []string
	}{
		{BodyBatch, []sink.Batch{{Records: recs[:2]}, {Records: recs[:2]}, {Records: recs[2:]}}, []string{"A", "A", "B"}},
		{BodyNDJSON, []sink.Batch{{Records: recs[:2]}, {Records: recs[2:]}}, []string{"A", "B"}},
		{BodyEvent, []sink.Batch{{Records: recs[:2]}}, []string{recs[0].UUID, recs[1].UUID}},
	} {
		t.Run(string(tc.body), func(t *testing.T) {
			clock := fakeclock.New(time.Unix(1723564700, 0))
			rc := newReceiver(t, nil)
			s := newTestSink(t, Config{URL: rc.srv.URL, Body: tc.body, Signing: Signing{Secret: testSecret}}, sink.Deps{Now: clock.Now})
			for _, b := range tc.batches {
				if err := s.Write(t.Context(), b); err != nil {
					t.Fatalf("write: got %v, want nil", err)
				}
				clock.Add(time.Second)
			}
			got := rc.requests()
			if len(got) != len(tc.wantIDs) {
				t.Fatalf("requests: got %d, want %d", len(got), len(tc.wantIDs))
			}
			seen := map[string]string{}
			for i, c := range got {
				id, ts := c.header.Get("webhook-id"), c.header.Get("webhook-timestamp")
				if want := fmt.Sprint(1723564700 + i); tc.body != BodyEvent && ts != want {
					t.Errorf("request %d webhook-timestamp: got %s, want %s", i, ts, want)
				}
				mac := hmac.New(sha256.New, testKey)
				mac.Write([]byte(id + "." + ts + "." + string(c.body)))
				want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
				if sig := c.header.Get("webhook-signature"); sig != want {
					t.Errorf("request %d webhook-signature: got %s, want %s", i, sig, want)
				}
				if strings.Contains(id, ".") || id == "" {
					t.Errorf("request %d webhook-id: got %q, want a non-empty id without '.'", i, id)
				}
				marker := tc.wantIDs[i]
				if tc.body == BodyEvent {
					if id != marker {
						t.Errorf("request %d webhook-id: got %s, want %s", i, id, marker)
					}
					continue
				}
				if prev, ok := seen[marker]; ok && prev != id {
					t.Errorf("request %d webhook-id: got %s, want %s (same batch retried)", i, id, prev)
				}
				for m, other := range seen {
					if m != marker && other == id {
						t.Errorf("request %d webhook-id: got %s, the id of another batch", i, id)
					}
				}
				seen[marker] = id
			}
		})
	}
}

func TestStatusClasses(t *testing.T) {
	now := time.Date(2024, 8, 13, 15, 0, 0, 0, time.UTC)
	long := strings.Repeat("y", 10_000)
	for _, tc := range []struct {
		name      string
		status    int
		header    http.Header
		body      string
		wantNil   bool
		wantClass sink.Class
		wantDelay time.Duration
		wantText  string
	}{
		{name: "200", status: 200, wantNil: true},
		{name: "204", status: 204, wantNil: true},
		{name: "202", status: 202, wantNil: true},
		{name: "400 with snippet", status: 400, body: `{"error":"bad event"}`, wantClass: sink.ClassPermanent, wantText: `400 Bad Request: {"error":"bad event"}`},
		{name: "413", status: 413, wantClass: sink.ClassPermanent},
		{name: "422", status: 422, wantClass: sink.ClassPermanent},
		{name: "401", status: 401, wantClass: sink.ClassConfig},
		{name: "403", status: 403, wantClass: sink.ClassConfig},
		{name: "404", status: 404, wantClass: sink.ClassConfig},
		{name: "410 gone", status: 410, wantClass: sink.ClassPaused, wantText: "410 Gone"},
		{name: "302", status: 302, header: http.Header{"Location": {"https://elsewhere.example/x?secret=1"}}, wantClass: sink.ClassConfig, wantText: "to https://elsewhere.example/x?…"},
		{name: "408", status: 408, wantClass: sink.ClassRetryable},
		{name: "425", status: 425, wantClass: sink.ClassRetryable},
		{name: "500", status: 500, wantClass: sink.ClassRetryable},
		{name: "502 retry-after", status: 502, header: http.Header{"Retry-After": {"4"}}, wantClass: sink.ClassRetryable, wantDelay: 4 * time.Second},
		{name: "429 seconds", status: 429, header: http.Header{"Retry-After": {"2"}}, wantClass: sink.ClassThrottled, wantDelay: 2 * time.Second},
		{name: "429 http-date", status: 429, header: http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, wantClass: sink.ClassThrottled, wantDelay: 90 * time.Second},
		{name: "429 past date", status: 429, header: http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, wantClass: sink.ClassThrottled},
		// The sink passes what the receiver asked for; the runner caps it (maxThrottle).
		{name: "429 a day", status: 429, header: http.Header{"Retry-After": {"86400"}}, wantClass: sink.ClassThrottled, wantDelay: 24 * time.Hour},
		{name: "503 no retry-after", status: 503, wantClass: sink.ClassThrottled},
		{name: "long body snippet", status: 400, body: long, wantClass: sink.ClassPermanent, wantText: strings.Repeat("y", 512) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, status(tc.status, tc.header, tc.body))
			s := newTestSink(t, Config{URL: rc.srv.URL + "/hook?key=s3cret"}, sink.Deps{Now: func() time.Time { return now }})
			err := s.Write(t.Context(), sink.Batch{Records: records(2)})
			if tc.wantNil {
				if err != nil {
					t.Fatalf("write: got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("write: got nil, want an error")
			}
			class, delay := sink.ClassOf(err)
			if class != tc.wantClass || delay != tc.wantDelay {
				t.Errorf("class: got %v %v, want %v %v (%v)", class, delay, tc.wantClass, tc.wantDelay, err)
			}
			var se *sink.StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status {
				t.Errorf("status error: got %v, want a *sink.StatusError with %d", err, tc.status)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error text: got %q, want it to contain %q", err, tc.wantText)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error text: got %q, want no query string", err)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("error text length: got %d, want at most 1024", len(err.Error()))
			}
		})
	}
}

func TestEventModePartial(t *testing.T) {
	// Events 0, 1 and 3 go through, 2 is refused for good, 4 meets a
	// server error, after which 5 must not be sent.
	answers := []int{200, 200, 400, 200, 500}
	rc := newReceiver(t, func(w http.ResponseWriter, _ captured, n int) {
		w.WriteHeader(answers[n])
	})
	s := newTestSink(t, Config{URL: rc.srv.URL, Body: BodyEvent}, sink.Deps{})
	recs := records(6)
	err := s.Write(t.Context(), sink.Batch{Records: recs})
	var pe *sink.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("write: got %v, want a *sink.PartialError", err)
	}
	want := map[int]sink.Class{2: sink.ClassPermanent, 4: sink.ClassRetryable, 5: sink.ClassRetryable}
	if len(pe.Failed) != len(want) {
		t.Errorf("failed records: got %v, want %v", pe.Failed, want)
	}
	for i, class := range want {
		if got, _ := sink.ClassOf(pe.Failed[i]); got != class {
			t.Errorf("record %d: got %v (%v), want %v", i, got, pe.Failed[i], class)
		}
	}
	if got := len(rc.requests()); got != 5 {
		t.Errorf("requests: got %d, want 5", got)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(http.ResponseWriter, captured, int) { <-release })
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	s := newTestSink(t, Config{URL: rc.srv.URL, Timeout: sink.Duration(100 * time.Millisecond)}, sink.Deps{})
	began := time.Now()
	err := s.Write(t.Context(), sink.Batch{Records: records(1)})
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("write took %v, want about 100ms", took)
	}
	if class, _ := sink.ClassOf(err); err == nil || class != sink.ClassRetryable {
		t.Errorf("write: got %v (%v), want a retryable error", err, class)
	}
	if !strings.Contains(fmt.Sprint(err), "no answer within 100ms") {
		t.Errorf("error text: got %q, want it to mention the timeout", err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	other := newReceiver(t, nil)
	rc := newReceiver(t, status(http.StatusTemporaryRedirect, http.Header{"Location": {other.srv.URL}}, ""))
	s := newTestSink(t, Config{URL: rc.srv.URL}, sink.Deps{HTTPClient: &http.Client{}})
	err := s.Write(t.Context(), sink.Batch{Records: records(1)})
	if class, _ := sink.ClassOf(err); class != sink.ClassConfig {
		t.Errorf("write: got %v (%v), want config", err, class)
	}
	if got := len(other.requests()); got != 0 {
		t.Errorf("requests to the redirect target: got %d, want 0", got)
	}
}

func TestForbiddenTarget(t *testing.T) {
	rc := newReceiver(t, nil)
	admin, _ := url.Parse(rc.srv.URL)
	var block atomic.Bool
	forbidden := func(u *url.URL) error {
		if block.Load() && u.Host == admin.Host {
			return errors.New("the service's own admin API")
		}
		return nil
	}

	t.Run("new", func(t *testing.T) {
		block.Store(true)
		for _, cfg := range []Config{
			{URL: rc.srv.URL + "/api/v1/logStreams"},
			{URL: "https://hooks.example/x", Auth: Auth{Type: AuthOAuth2, TokenURL: rc.srv.URL + "/token", ClientID: "c", ClientSecret: "s"}},
		} {
			_, err := New(cfg, sink.Deps{Egress: sink.EgressFuncs{URL: forbidden}})
			if !errors.Is(err, sink.ErrForbiddenTarget) {
				t.Errorf("new %s: got %v, want sink.ErrForbiddenTarget", cfg.URL, err)
			}
		}
	})
	t.Run("write", func(t *testing.T) {
		block.Store(false)
		s := newTestSink(t, Config{URL: rc.srv.URL}, sink.Deps{Egress: sink.EgressFuncs{URL: forbidden}})
		block.Store(true) // e.g. the policy changed, or a name now resolves elsewhere
		err := s.Write(t.Context(), sink.Batch{Records: records(1)})
		if class, _ := sink.ClassOf(err); !errors.Is(err, sink.ErrForbiddenTarget) || class != sink.ClassConfig {
			t.Errorf("write: got %v (%v), want a paused sink.ErrForbiddenTarget", err, class)
		}
		if err := s.Verify(t.Context()); !errors.Is(err, sink.ErrForbiddenTarget) {
			t.Errorf("verify: got %v, want sink.ErrForbiddenTarget", err)
		}
		if got := len(rc.requests()); got != 0 {
			t.Errorf("requests: got %d, want 0", got)
		}
	})
}

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		status  int
		wantErr bool
	}{
		{200, false}, {204, false}, {400, false}, {404, false}, {405, false}, {429, false}, {501, false},
		{302, true}, {401, true}, {403, true}, {410, true}, {500, true}, {503, true},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			rc := newReceiver(t, status(tc.status, nil, ""))
			s := newTestSink(t, Config{URL: rc.srv.URL, Auth: Auth{Type: AuthAPIKey, HeaderName: "Authorization", APIKey: "Bearer t0k"}}, sink.Deps{})
			err := s.Verify(t.Context())
			if (err != nil) != tc.wantErr {
				t.Errorf("verify: got %v, want error %v", err, tc.wantErr)
			}
			reqs := rc.requests()
			if len(reqs) != 1 || reqs[0].method != http.MethodHead || len(reqs[0].body) != 0 {
				t.Fatalf("requests: got %+v, want one HEAD without a body", reqs)
			}
			if got := reqs[0].header.Get("Authorization"); got != "Bearer t0k" {
				t.Errorf("authorization: got %q, want %q", got, "Bearer t0k")
			}
		})
	}
}

func TestWriteAfterClose(t *testing.T) {
	rc := newReceiver(t, nil)
	s := newTestSink(t, Config{URL: rc.srv.URL}, sink.Deps{})
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sink.Batch{Records: records(1)}); err == nil {
		t.Error("write after close: got nil, want an error")
	}
}
