package eventbridge

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/eventbridge/ebtest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func newTestSink(t *testing.T, srv *ebtest.Server, cfg Config) *Sink {
	t.Helper()
	cfg.Config = awsconf.Config{Region: testRegion, Endpoint: srv.URL(), Credentials: testCredentials()}
	s, err := New(cfg, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

func TestWriteSendsWhatOktaSends(t *testing.T) {
	srv := ebtest.NewServer(t, ebtest.Options{AccessKeyID: testKeyID, Region: testRegion})
	s := newTestSink(t, srv, Config{EventBusName: "audit"})
	recs := sinktest.Records(7, 20, 300)
	recs[0].Published = time.Date(2024, 8, 13, 15, 58, 20, 353e6, time.UTC)
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	got := srv.Entries()
	if len(got) != len(recs) {
		t.Fatalf("entries: got %d, want %d", len(got), len(recs))
	}
	for i, e := range got {
		if e.Detail != string(recs[i].Data) {
			t.Errorf("entry %d detail: got %s, want %s", i, e.Detail, recs[i].Data)
		}
		if e.DetailType != "SystemLog" || e.Source != "auditstream.example" || e.EventBusName != "audit" {
			t.Errorf("entry %d: got detail-type %q source %q bus %q, want SystemLog auditstream.example audit",
				i, e.DetailType, e.Source, e.EventBusName)
		}
		if want := float64(recs[i].Published.Truncate(time.Second).Unix()); e.Time != want {
			t.Errorf("entry %d time: got %v, want %v", i, e.Time, want)
		}
		if want := s.EncodedSize(recs[i]); e.Size() != want {
			t.Errorf("entry %d size: got %d as EventBridge counts, want EncodedSize %d", i, e.Size(), want)
		}
	}
}

func TestWriteReportsFailedEntries(t *testing.T) {
	for _, tc := range []struct {
		code string
		want sink.Class
	}{
		{"InternalFailure", sink.ClassRetryable},
		{"ThrottlingException", sink.ClassThrottled},
		{"MalformedDetail", sink.ClassPermanent},
		{"InvalidArgument", sink.ClassPermanent},
		{"RedactionFailure", sink.ClassPermanent},
		{"AccessDeniedException", sink.ClassConfig},
		{"NotAuthorizedForSourceException", sink.ClassConfig},
		{"InvalidAccountIdException", sink.ClassConfig},
	} {
		t.Run(tc.code, func(t *testing.T) {
			recs := sinktest.Records(10, 20, 100)
			fail := map[string]bool{recs[2].UUID: true, recs[7].UUID: true}
			srv := ebtest.NewServer(t, ebtest.Options{
				AccessKeyID: testKeyID,
				Fail: func(e ebtest.Entry) string {
					if id, _ := sinktest.RecordID([]byte(e.Detail)); fail[id] {
						return tc.code
					}
					return ""
				},
			})
			s := newTestSink(t, srv, Config{})
			err := s.Write(t.Context(), sink.Batch{Records: recs})
			var pe *sink.PartialError
			if !errors.As(err, &pe) {
				t.Fatalf("write: got %v, want a *sink.PartialError", err)
			}
			if len(pe.Failed) != 2 {
				t.Fatalf("failed records: got %d, want 2", len(pe.Failed))
			}
			for _, i := range []int{2, 7} {
				if c, _ := sink.ClassOf(pe.Failed[i]); c != tc.want {
					t.Errorf("record %d class: got %v, want %v (%v)", i, c, tc.want, pe.Failed[i])
				}
				if !strings.Contains(pe.Failed[i].Error(), tc.code) {
					t.Errorf("record %d error: got %q, want the code %s in it", i, pe.Failed[i], tc.code)
				}
			}
			if got := len(srv.Entries()); got != 8 {
				t.Errorf("accepted entries: got %d, want 8", got)
			}
		})
	}
}

func TestWriteClassifiesCallErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   ebtest.CallError
		want  sink.Class
		delay time.Duration
	}{
		{"throttling", ebtest.CallError{Status: 400, Code: "ThrottlingException", RetryAfter: "7"}, sink.ClassThrottled, 7 * time.Second},
		{"access denied", ebtest.CallError{Status: 400, Code: "AccessDeniedException"}, sink.ClassConfig, 0},
		{"unknown key", ebtest.CallError{Status: 400, Code: "UnrecognizedClientException"}, sink.ClassConfig, 0},
		{"missing bus", ebtest.CallError{Status: 400, Code: "ResourceNotFoundException"}, sink.ClassConfig, 0},
		{"validation", ebtest.CallError{Status: 400, Code: "ValidationException"}, sink.ClassPermanent, 0},
		{"internal", ebtest.CallError{Status: 500, Code: "InternalException"}, sink.ClassRetryable, 0},
		{"unavailable", ebtest.CallError{Status: 503, Code: "ServiceUnavailable"}, sink.ClassRetryable, 0},
		{"redirect", ebtest.CallError{Status: 301, Code: "Moved"}, sink.ClassConfig, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ebtest.NewServer(t, ebtest.Options{AccessKeyID: testKeyID})
			s := newTestSink(t, srv, Config{})
			srv.SetError(&tc.err)
			err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(3, 20, 100)})
			if err == nil {
				t.Fatal("write: got nil, want an error")
			}
			class, delay := sink.ClassOf(err)
			if class != tc.want || delay != tc.delay {
				t.Errorf("class: got %v %v, want %v %v (%v)", class, delay, tc.want, tc.delay, err)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	srv := ebtest.NewServer(t, ebtest.Options{AccessKeyID: testKeyID})
	for _, tc := range []struct {
		maxBytes int
		want     sink.Limits
	}{
		{0, sink.Limits{MaxEvents: 10, MaxBytes: 262144, MaxEventBytes: 262144}},
		{1 << 20, sink.Limits{MaxEvents: 10, MaxBytes: 1 << 20, MaxEventBytes: 1 << 20}},
	} {
		s := newTestSink(t, srv, Config{MaxBytes: tc.maxBytes})
		if got := s.Limits(); got != tc.want {
			t.Errorf("limits with maxBytes %d: got %+v, want %+v", tc.maxBytes, got, tc.want)
		}
	}
	// A batch over the limit (the runner never builds one) is refused
	// before it is sent.
	s := newTestSink(t, srv, Config{MaxBytes: 4096})
	err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(3, 3000, 3001)})
	if c, _ := sink.ClassOf(err); c != sink.ClassPermanent {
		t.Errorf("oversized batch: got %v, want permanent", err)
	}
	if got := srv.Requests(); got != 0 {
		t.Errorf("requests for an oversized batch: got %d, want 0", got)
	}
}

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *ebtest.CallError
		want error
	}{
		{"ok", nil, nil},
		{"describe not allowed", &ebtest.CallError{Status: 400, Code: "AccessDeniedException"}, nil},
		{"missing bus", &ebtest.CallError{Status: 400, Code: "ResourceNotFoundException"}, errors.New("config")},
		{"bad key", &ebtest.CallError{Status: 400, Code: "UnrecognizedClientException"}, errors.New("config")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ebtest.NewServer(t, ebtest.Options{AccessKeyID: testKeyID})
			s := newTestSink(t, srv, Config{})
			srv.SetError(tc.err)
			err := s.Verify(t.Context())
			if tc.want == nil && err != nil {
				t.Fatalf("verify: got %v, want nil", err)
			}
			if tc.want != nil {
				if c, _ := sink.ClassOf(err); c != sink.ClassConfig {
					t.Fatalf("verify: got %v, want a config error", err)
				}
			}
			if got := len(srv.Entries()); got != 0 {
				t.Errorf("entries sent by verify: got %d, want 0", got)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	base := awsconf.Config{Region: "us-east-1"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error, none for valid
	}{
		{"defaults", Config{Config: base}, nil},
		{"bus arn", Config{EventBusName: "arn:aws:events:us-east-1:123456789012:event-bus/audit", Config: base}, nil},
		{"no region", Config{}, []string{"region: required"}},
		{"aws source", Config{Source: "aws.partner/okta.com/x", Config: base}, []string{`must not start with "aws."`}},
		{"placeholder", Config{Source: "a.{stream}", Config: base}, []string{"only placeholder is {org}"}},
		{"long detail type", Config{DetailType: strings.Repeat("d", 129), Config: base}, []string{"detailType"}},
		{"max bytes", Config{MaxBytes: 2 << 20, Config: base}, []string{"maxBytes"}},
		{"half keys", Config{Config: awsconf.Config{Region: "us-east-1", Credentials: awsconf.Credentials{AccessKeyID: "AKID"}}},
			[]string{"credentials.secretAccessKey: required"}},
		{"bad role", Config{Config: awsconf.Config{Region: "us-east-1", Credentials: awsconf.Credentials{RoleARN: "role"}}},
			[]string{"credentials.roleArn"}},
		{"endpoint", Config{Config: awsconf.Config{Region: "us-east-1", Endpoint: "ftp://x"}}, []string{"endpoint: scheme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.WantProblems(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestOktaConfig(t *testing.T) {
	ok := OktaConfig{AccountID: "123456789012", EventSourceName: "okta-prod", Region: "us-east-2"}
	for _, tc := range []struct {
		name string
		edit func(*OktaConfig)
		want []string
	}{
		{"valid", func(*OktaConfig) {}, nil},
		{"eu-south-1", func(c *OktaConfig) { c.Region = "eu-south-1" }, nil},
		{"account", func(c *OktaConfig) { c.AccountID = "12345" }, []string{"accountId: Account number must be 12 digits."}},
		{"source name", func(c *OktaConfig) { c.EventSourceName = strings.Repeat("a", 76) },
			[]string{`eventSourceName: Event source name can use numbers, letters, the symbols ".", "-" or "_". It must use fewer than 76 characters.`}},
		{"source chars", func(c *OktaConfig) { c.EventSourceName = "a b" }, []string{"eventSourceName: Event source name"}},
		{"region", func(c *OktaConfig) { c.Region = "mars-1" }, []string{"region: must be one of"}},
		{"all at once", func(c *OktaConfig) { *c = OktaConfig{} }, []string{"accountId:", "eventSourceName:", "region:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			sinktest.WantProblems(t, c.Validate(), tc.want)
		})
	}
	g := ok.Generic()
	if want := "arn:aws:events:us-east-2:123456789012:event-bus/default"; g.EventBusName != want {
		t.Errorf("bus: got %q, want %q", g.EventBusName, want)
	}
	if want := "auditstream.{org}.okta-prod"; g.Source != want {
		t.Errorf("source: got %q, want %q", g.Source, want)
	}
}

func TestOktaSinkSource(t *testing.T) {
	srv := ebtest.NewServer(t, ebtest.Options{AccessKeyID: testKeyID, Region: "us-east-2"})
	s, err := NewOkta(OktaConfig{AccountID: "123456789012", EventSourceName: "prod", Region: "us-east-2",
		Endpoint: srv.URL(), Credentials: testCredentials()}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	if err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(1, 20, 30)}); err != nil {
		t.Fatal(err)
	}
	e := srv.Entries()[0]
	if e.Source != "auditstream.example.prod" || e.EventBusName != "arn:aws:events:us-east-2:123456789012:event-bus/default" {
		t.Errorf("entry: got source %q bus %q, want auditstream.example.prod and the default bus ARN", e.Source, e.EventBusName)
	}
}

func TestForbiddenEndpoint(t *testing.T) {
	_, err := New(Config{Config: awsconf.Config{Region: "us-east-1", Endpoint: "http://127.0.0.1:8080"}}, sink.Deps{
		Egress: sink.EgressFuncs{URL: func(*url.URL) error { return errors.New("own API") }},
	})
	if !errors.Is(err, sink.ErrForbiddenTarget) {
		t.Errorf("new: got %v, want sink.ErrForbiddenTarget", err)
	}
}
