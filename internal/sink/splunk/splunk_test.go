package splunk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
	"github.com/auditstream/auditstream/internal/sink/splunk/hectest"
)

const testToken = "0b7a9c3e-3f1d-4c55-9a8e-1f2d3c4b5a69"

func TestConformance(t *testing.T) {
	const maxEvents, maxBytes = 9, 8192
	for _, gzip := range []bool{true, false} {
		t.Run(fmt.Sprintf("gzip=%v", gzip), func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{
				New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
					fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{
						Decode: hectest.Decode,
						Check: func(r *http.Request, _ []byte) error {
							if got := r.Header.Get("Authorization"); got != "Splunk "+testToken {
								return fmt.Errorf("authorization: got %q, want Splunk <token>", got)
							}
							return nil
						},
						Route: func(r *http.Request) bool { return r.URL.Path == hectest.PathEvent },
						Probe: http.StatusOK, // health
						Responses: map[sinktest.Behaviour]sinktest.Response{
							sinktest.Accept:        {Status: 200, Body: []byte(`{"text":"Success","code":0}`)},
							sinktest.FailRetryable: {Status: 500, Body: hectest.Body(8, "Internal server error")},
							sinktest.FailPermanent: {Status: 400, Body: hectest.Body(6, "Invalid data format")},
							sinktest.Throttle:      {Status: 503, Body: hectest.Body(9, "Server is busy")},
						},
					})
					s, err := New(Config{URL: fake.URL(), Token: testToken, Gzip: &gzip, MaxEvents: maxEvents, MaxBytes: maxBytes}, sink.Deps{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close(t.Context()) })
					return s, fake
				},
				MaxRequestEvents: maxEvents,
				MaxRequestBytes:  maxBytes,
				Unsupported: map[sinktest.Scenario]string{
					sinktest.ScenarioPaused: "HEC has no answer that stops a stream; token and index problems are configuration errors (TestClassify)",
				},
			})
		})
	}
}

func newTestSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	s, err := New(cfg, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

func TestWriteSendsOktaEnvelopes(t *testing.T) {
	srv := hectest.NewServer(t, hectest.Options{Token: testToken})
	s := newTestSink(t, Config{URL: srv.URL(), Index: "okta"})
	recs := sinktest.Records(5, 20, 300)
	recs[0].Published = time.Date(2024, 8, 13, 15, 58, 20, 353e6, time.UTC)
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	got := srv.Events()
	if len(got) != len(recs) {
		t.Fatalf("events: got %d, want %d", len(got), len(recs))
	}
	for i, e := range got {
		if string(e.Event) != string(recs[i].Data) {
			t.Errorf("event %d: got %s, want %s", i, e.Event, recs[i].Data)
		}
		if e.Sourcetype != "OktaIM2:log" || e.Source != "okta:im2" || e.Index != "okta" || e.Host != "example" {
			t.Errorf("event %d envelope: got %+v, want sourcetype OktaIM2:log, source okta:im2, index okta, host example", i, e)
		}
		if want := float64(recs[i].Published.UnixMilli()) / 1000; e.Time != want {
			t.Errorf("event %d time: got %v, want %v", i, e.Time, want)
		}
	}
	if total, gz := srv.Requests(); total != 1 || gz != 1 {
		t.Errorf("requests: got %d (%d gzipped), want 1 gzipped", total, gz)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status, code int
		want         sink.Class
	}{
		{403, 1, sink.ClassConfig}, // token disabled
		{401, 2, sink.ClassConfig}, // token required
		{401, 3, sink.ClassConfig}, // invalid authorization
		{403, 4, sink.ClassConfig}, // invalid token
		{400, 5, sink.ClassPermanent},
		{400, 6, sink.ClassPermanent},
		{400, 7, sink.ClassConfig}, // incorrect index
		{500, 8, sink.ClassRetryable},
		{503, 9, sink.ClassThrottled},
		{400, 10, sink.ClassConfig},
		{400, 11, sink.ClassConfig},
		{400, 12, sink.ClassPermanent},
		{400, 13, sink.ClassPermanent},
		{400, 14, sink.ClassConfig},
		{400, 15, sink.ClassPermanent},
		{400, 16, sink.ClassConfig},
		{503, 18, sink.ClassThrottled},
		{503, 19, sink.ClassThrottled},
		{503, 20, sink.ClassThrottled},
	} {
		t.Run(fmt.Sprintf("code %d", tc.code), func(t *testing.T) {
			srv := hectest.NewServer(t, hectest.Options{Token: testToken})
			s := newTestSink(t, Config{URL: srv.URL()})
			srv.SetAnswer(&hectest.Answer{Status: tc.status, Code: tc.code, Text: "scripted", RetryAfter: "4"})
			err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(2, 20, 60)})
			class, _ := sink.ClassOf(err)
			if class != tc.want {
				t.Errorf("class: got %v, want %v (%v)", class, tc.want, err)
			}
			var he *HECError
			if !errors.As(err, &he) || he.Code != tc.code {
				t.Errorf("error: got %v, want a *HECError with code %d", err, tc.code)
			}
		})
	}
}

func TestWrongTokenHoldsStream(t *testing.T) {
	srv := hectest.NewServer(t, hectest.Options{Token: testToken})
	s := newTestSink(t, Config{URL: srv.URL(), Token: "wrong"})
	for name, err := range map[string]error{
		"write":  s.Write(t.Context(), sink.Batch{Records: sinktest.Records(1, 20, 60)}),
		"verify": s.Verify(t.Context()),
	} {
		if c, _ := sink.ClassOf(err); c != sink.ClassConfig {
			t.Errorf("%s with a wrong token: got %v, want a config error", name, err)
		}
	}
	if err := newTestSink(t, Config{URL: srv.URL()}).Verify(t.Context()); err != nil {
		t.Errorf("verify: got %v, want nil", err)
	}
}

func TestInvalidEventNumber(t *testing.T) {
	srv := hectest.NewServer(t, hectest.Options{Token: testToken})
	s := newTestSink(t, Config{URL: srv.URL()})
	recs := sinktest.Records(6, 20, 60)
	srv.FailEvent(func(e hectest.Envelope) bool {
		id, _ := sinktest.RecordID(e.Event)
		return id == recs[3].UUID
	})
	err := s.Write(t.Context(), sink.Batch{Records: recs})
	var pe *sink.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("write: got %v, want a *sink.PartialError", err)
	}
	want := map[int]sink.Class{3: sink.ClassPermanent, 4: sink.ClassRetryable, 5: sink.ClassRetryable}
	if len(pe.Failed) != len(want) {
		t.Errorf("failed: got %d records, want %d", len(pe.Failed), len(want))
	}
	for i, wc := range want {
		if c, _ := sink.ClassOf(pe.Failed[i]); c != wc {
			t.Errorf("record %d: got %v, want %v", i, c, wc)
		}
	}
	if got := len(srv.Events()); got != 3 {
		t.Errorf("accepted events: got %d, want 3", got)
	}
}

func TestIndexerAcknowledgement(t *testing.T) {
	fast := Config{Ack: true, AckPollInterval: sink.Duration(10 * time.Millisecond), AckTimeout: sink.Duration(2 * time.Second)}
	for _, tc := range []struct {
		name      string
		server    hectest.Options
		cfg       Config
		cancel    bool
		want      error
		wantClass sink.Class
		minPolls  int
	}{
		{"acked after polls", hectest.Options{UseAck: true, AckAfterPolls: 3}, fast, false, nil, 0, 4},
		{"ack timeout", hectest.Options{UseAck: true, AckAfterPolls: 1 << 30},
			Config{Ack: true, AckPollInterval: sink.Duration(10 * time.Millisecond), AckTimeout: sink.Duration(100 * time.Millisecond)},
			false, errors.New("not acknowledged"), sink.ClassRetryable, 2},
		{"cancelled while waiting", hectest.Options{UseAck: true, AckAfterPolls: 1 << 30}, fast, true, context.Canceled, 0, 0},
		{"token without acks", hectest.Options{UseAck: false}, fast, false, errors.New("no ackId"), sink.ClassConfig, 0},
		// With the default 10 s interval, an indexer that acks at once is
		// found by the first, early poll: ack mode costs no full interval.
		{"prompt ack with the default interval", hectest.Options{UseAck: true, AckAfterPolls: 0},
			Config{Ack: true, AckPollInterval: sink.Duration(10 * time.Second), AckTimeout: sink.Duration(time.Minute)},
			false, nil, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.server.Token = testToken
			srv := hectest.NewServer(t, tc.server)
			tc.cfg.URL = srv.URL()
			s := newTestSink(t, tc.cfg)
			ctx := t.Context()
			if tc.cancel {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			began := time.Now()
			err := s.Write(ctx, sink.Batch{Records: sinktest.Records(3, 20, 60)})
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("write: got %v, want nil", err)
			case tc.cancel && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("write: got %v, want ctx's error", err)
			case tc.want != nil && !tc.cancel:
				if c, _ := sink.ClassOf(err); err == nil || c != tc.wantClass {
					t.Fatalf("write: got %v, want a %v error", err, tc.wantClass)
				}
			}
			if time.Since(began) > 2*time.Second {
				t.Errorf("write took %v, want well within the ack timeout", time.Since(began))
			}
			if got := srv.Polls(); got < tc.minPolls {
				t.Errorf("ack polls: got %d, want at least %d", got, tc.minPolls)
			}
		})
	}
}

func TestOktaConfig(t *testing.T) {
	ok := OktaConfig{Edition: EditionAWS, Host: "acme-prod.splunkcloud.com", Token: testToken}
	for _, tc := range []struct {
		name string
		edit func(*OktaConfig)
		want []string
	}{
		{"valid", func(*OktaConfig) {}, nil},
		{"gov", func(c *OktaConfig) { c.Edition, c.Host = EditionAWSGovCloud, "acme-prod.splunkcloudgc.com" }, nil},
		{"scheme", func(c *OktaConfig) { c.Host = "https://acme.splunkcloud.com" }, []string{"host: Host should be a domain without http or https."}},
		{"not splunk cloud", func(c *OktaConfig) { c.Host = "splunk.example.com" }, []string{"host: Host should be a domain"}},
		{"short", func(c *OktaConfig) { c.Host = "a.splunkcloud.com" }, nil},
		{"edition", func(c *OktaConfig) { c.Edition = "azure" }, []string{"edition: must be one of aws, aws_govcloud, gcp"}},
		{"token", func(c *OktaConfig) { c.Token = "not-a-guid" }, []string{"token:"}},
		{"all", func(c *OktaConfig) { *c = OktaConfig{} }, []string{"edition:", "host:", "token:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			sinktest.WantProblems(t, c.Validate(), tc.want)
		})
	}
	for _, tc := range []struct {
		cfg  OktaConfig
		want string
	}{
		{ok, "https://http-inputs-acme-prod.splunkcloud.com"},
		{OktaConfig{Edition: EditionGCP, Host: "acme-prod.splunkcloud.com"}, "https://http-inputs.acme-prod.splunkcloud.com"},
		{OktaConfig{Edition: EditionAWSGovCloud, Host: "acme-prod.splunkcloudgc.com"}, "https://http-inputs-acme-prod.splunkcloudgc.com"},
	} {
		if got := tc.cfg.Generic(); got.URL != tc.want || got.Sourcetype != "" {
			t.Errorf("generic of %s/%s: got %s, want %s", tc.cfg.Edition, tc.cfg.Host, got.URL, tc.want)
		}
	}
	if s, err := NewOkta(ok, sink.Deps{}); err != nil || s.cfg.Sourcetype != DefaultSourcetype || s.cfg.Token != secret.String(testToken) {
		t.Errorf("new okta: got %v, want a sink with Okta's sourcetype and the token", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"valid", Config{URL: "https://splunk:8088", Token: "t"}, nil},
		{"missing", Config{}, []string{"url: required", "token: required"}},
		{"scheme", Config{URL: "ftp://x", Token: "t"}, []string{"url: scheme"}},
		{"query", Config{URL: "https://x/?token=t", Token: "t"}, []string{"no query"}},
		{"plain http elsewhere", Config{URL: "http://splunk:8088", Token: "t"}, []string{"plain http to splunk:8088"}},
		{"plain http allowed", Config{URL: "http://splunk:8088", Token: "t", InsecureHTTP: true}, nil},
		{"plain http here", Config{URL: "http://127.0.0.1:8088", Token: "t"}, nil},
		{"ack", Config{URL: "https://x", Token: "t", AckPollInterval: sink.Duration(time.Minute), AckTimeout: sink.Duration(time.Second)}, []string{"ackPollInterval"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.WantProblems(t, tc.cfg.Validate(), tc.want)
		})
	}
}
