package datadog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/datadog/ddtest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

const testKey = "0123456789abcdef0123456789abcdef"

func TestConformance(t *testing.T) {
	const maxBytes = 8192
	for _, gzip := range []bool{true, false} {
		t.Run(fmt.Sprintf("gzip=%v", gzip), func(t *testing.T) {
			h := sinktest.Harness{
				New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
					fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{
						Decode: ddtest.Decode,
						Check: func(r *http.Request, _ []byte) error {
							if got := r.Header.Get("DD-API-KEY"); got != testKey {
								return fmt.Errorf("DD-API-KEY: got %q, want the key", got)
							}
							if r.URL.Path != ddtest.PathLogs {
								return fmt.Errorf("path: got %s, want %s", r.URL.Path, ddtest.PathLogs)
							}
							return nil
						},
						Probe: http.StatusOK, // validate
						Responses: map[sinktest.Behaviour]sinktest.Response{
							sinktest.Accept: {Status: http.StatusAccepted, Body: []byte(`{}`)},
						},
					})
					s, err := New(Config{URL: fake.URL(), APIKey: testKey, Gzip: &gzip, MaxBytes: maxBytes}, sink.Deps{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close(t.Context()) })
					return s, fake
				},
				DataEqual:        ddtest.EventEqual,
				MaxRequestEvents: ddtest.MaxItems,
				Unsupported: map[sinktest.Scenario]string{
					sinktest.ScenarioPaused: "the intake has no answer that stops a stream; 401/403 are configuration errors (TestClassify)",
				},
			}
			if !gzip {
				h.MaxRequestBytes = maxBytes
			}
			sinktest.Run(t, h)
		})
	}
}

func TestWriteAddsReservedMembers(t *testing.T) {
	srv := ddtest.NewServer(t, testKey)
	s, err := New(Config{URL: srv.URL(), APIKey: testKey, Tags: []string{"env:prod", "team:sec"}}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	recs := sinktest.Records(3, 20, 100)
	recs[1].Data = []byte(`{"uuid":"` + recs[1].UUID + `","displayMessage":"User login to Okta","eventType":"user.session.start"}`)
	recs[1].Published = time.Date(2024, 8, 13, 15, 58, 20, 353e6, time.UTC)
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	items := srv.Items()
	if len(items) != 3 {
		t.Fatalf("items: got %d, want 3", len(items))
	}
	want := map[string]any{
		"ddsource": "okta", "service": "auditstream", "hostname": "example",
		"ddtags": "org:example,env:prod,team:sec", "timestamp": "2024-08-13T15:58:20.353Z",
		"message": "User login to Okta", "uuid": recs[1].UUID, "eventType": "user.session.start",
	}
	for k, v := range want {
		if items[1][k] != v {
			t.Errorf("item member %s: got %v, want %v", k, items[1][k], v)
		}
	}
	if items[0]["message"] != "user.session.start" {
		t.Errorf("message without displayMessage: got %v, want the eventType", items[0]["message"])
	}
	for i, r := range recs {
		b, _ := json.Marshal(items[i])
		if !ddtest.EventEqual(r.Data, b) {
			t.Errorf("item %d: got %s, want the event %s plus reserved members", i, b, r.Data)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   sink.Class
	}{
		{400, sink.ClassPermanent},
		{401, sink.ClassConfig},
		{403, sink.ClassConfig},
		{408, sink.ClassRetryable},
		{413, sink.ClassPermanent},
		{429, sink.ClassThrottled},
		{500, sink.ClassRetryable},
		{503, sink.ClassThrottled}, // the default table (sink.StatusClass), as for every HTTP destination
		{410, sink.ClassPaused},
		{302, sink.ClassConfig},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := ddtest.NewServer(t, testKey)
			s, err := New(Config{URL: srv.URL(), APIKey: testKey}, sink.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			srv.SetStatus(tc.status)
			err = s.Write(t.Context(), sink.Batch{Records: sinktest.Records(2, 20, 60)})
			if c, _ := sink.ClassOf(err); c != tc.want {
				t.Errorf("class: got %v, want %v (%v)", c, tc.want, err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	srv := ddtest.NewServer(t, testKey)
	for _, tc := range []struct {
		key  string
		want sink.Class
		ok   bool
	}{
		{testKey, 0, true},
		{"wrong", sink.ClassConfig, false},
	} {
		s, err := New(Config{URL: srv.URL(), APIKey: sinkKey(tc.key)}, sink.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Verify(t.Context())
		if c, _ := sink.ClassOf(err); (err == nil) != tc.ok || (!tc.ok && c != tc.want) {
			t.Errorf("verify with key %q: got %v, want ok=%v", tc.key, err, tc.ok)
		}
		_ = s.Close(t.Context())
	}
	if srv.Requests() != 0 {
		t.Errorf("log requests by verify: got %d, want 0", srv.Requests())
	}
}

func TestSites(t *testing.T) {
	for _, tc := range []struct {
		site, logs, api string
	}{
		{"", "https://http-intake.logs.datadoghq.com/api/v2/logs", "https://api.datadoghq.com/api/v1/validate"},
		{"datadoghq.eu", "https://http-intake.logs.datadoghq.eu/api/v2/logs", "https://api.datadoghq.eu/api/v1/validate"},
		{"us2.ddog-gov.com", "https://http-intake.logs.us2.ddog-gov.com/api/v2/logs", "https://api.us2.ddog-gov.com/api/v1/validate"},
	} {
		s, err := New(Config{Site: tc.site, APIKey: testKey}, sink.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		if s.logsURL.String() != tc.logs || s.checkURL.String() != tc.api {
			t.Errorf("site %q: got %s and %s, want %s and %s", tc.site, s.logsURL, s.checkURL, tc.logs, tc.api)
		}
	}
	err := Config{Site: "datadoghq.org", APIKey: testKey}.Validate()
	if err == nil || !strings.Contains(err.Error(), "site") {
		t.Errorf("unknown site: got %v, want a site error", err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "apiKey: required") {
		t.Errorf("no key: got %v, want apiKey: required", err)
	}
	if err := (Config{URL: "http://intake.internal", APIKey: testKey}).Validate(); err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("plain http elsewhere: got %v, want a plain http error", err)
	}
	if err := (Config{URL: "http://intake.internal", APIKey: testKey, InsecureHTTP: true}).Validate(); err != nil {
		t.Errorf("plain http allowed: got %v, want nil", err)
	}
	// url is a base URL that /api/v2/logs is added to: a fragment would
	// swallow that path, so it is refused like a query.
	for _, u := range []string{"https://proxy.example.com/#x", "https://proxy.example.com/?k=v"} {
		if err := (Config{URL: u, APIKey: testKey}).Validate(); err == nil || !strings.Contains(err.Error(), "url: no query or fragment") {
			t.Errorf("url %s: got %v, want a no query or fragment error", u, err)
		}
	}
}

func sinkKey(s string) secret.String { return secret.String(s) }
