package cloudwatch

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/awsconf/awstest"
	"github.com/auditstream/auditstream/internal/sink/cloudwatch/cwtest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "eu-west-1"
	testGroup  = "/audit/okta"
)

// testNow is just after sinktest's records were published.
var testNow = time.Date(2024, 8, 13, 16, 0, 0, 0, time.UTC)

func awsConfig(endpoint string) awsconf.Config {
	return awsconf.Config{Region: testRegion, Endpoint: endpoint,
		Credentials: awsconf.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}}
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
			fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{
				Decode: cwtest.Decode,
				Check:  cwtest.CheckRequest(testKeyID, testRegion),
				Route:  cwtest.IsPutLogEvents,
				Probe:  http.StatusOK, // DescribeLogGroups
				Responses: map[sinktest.Behaviour]sinktest.Response{
					sinktest.Accept: {
						Status: http.StatusOK,
						Header: http.Header{"Content-Type": {awstest.ContentType}},
						Body:   []byte(`{"nextSequenceToken":"1"}`),
					},
					sinktest.FailRetryable: awstest.ErrorResponse(http.StatusInternalServerError, "ServiceUnavailableException"),
					sinktest.FailPermanent: awstest.ErrorResponse(http.StatusBadRequest, "InvalidParameterException"),
					sinktest.Throttle:      awstest.ErrorResponse(http.StatusBadRequest, "ThrottlingException"),
				},
			})
			s, err := New(Config{LogGroupName: testGroup, Config: awsConfig(fake.URL())},
				sink.Deps{Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close(t.Context()) })
			return s, fake
		},
		MaxRequestEvents: cwtest.MaxEvents,
		Unsupported: map[sinktest.Scenario]string{
			sinktest.ScenarioPaused: "CloudWatch Logs has no answer that stops a stream; permission errors are configuration errors (TestWriteClassifiesCallErrors)",
		},
	})
}

func newTestSink(t *testing.T, srv *cwtest.Server, cfg Config, now time.Time) *Sink {
	t.Helper()
	cfg.Config = awsConfig(srv.URL())
	if cfg.LogGroupName == "" {
		cfg.LogGroupName = testGroup
	}
	s, err := New(cfg, sink.Deps{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

func fakeAt(t *testing.T, now time.Time) *cwtest.Server {
	return cwtest.NewServer(t, cwtest.Options{AccessKeyID: testKeyID, Region: testRegion, Now: func() time.Time { return now }})
}

func TestWriteCreatesGroupAndStream(t *testing.T) {
	for _, tc := range []struct {
		name        string
		groupExists bool
		wantGroups  int
	}{
		{"missing group", false, 1},
		{"existing group", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeAt(t, testNow)
			if tc.groupExists {
				srv.CreateGroup(testGroup)
			}
			s := newTestSink(t, srv, Config{}, testNow)
			recs := sinktest.Records(20, 20, 400)
			for _, b := range []sink.Batch{{Records: recs[:10]}, {Records: recs[10:]}} {
				if err := s.Write(t.Context(), b); err != nil {
					t.Fatalf("write: got %v, want nil", err)
				}
			}
			got := srv.Events(testGroup, "example")
			if len(got) != len(recs) {
				t.Fatalf("events in %s/example: got %d, want %d", testGroup, len(got), len(recs))
			}
			for i, e := range got {
				if e.Message != string(recs[i].Data) || e.Timestamp != recs[i].Published.UnixMilli() {
					t.Errorf("event %d: got %d %s, want %d %s", i, e.Timestamp, e.Message, recs[i].Published.UnixMilli(), recs[i].Data)
				}
			}
			if n := srv.Calls(cwtest.TargetCreateLogGroup); n != tc.wantGroups {
				t.Errorf("CreateLogGroup calls: got %d, want %d", n, tc.wantGroups)
			}
			if n := srv.Calls(cwtest.TargetCreateLogStream); n < 1 || n > 2 {
				t.Errorf("CreateLogStream calls: got %d, want 1 or 2", n)
			}
			if n := srv.Calls(cwtest.TargetPutLogEvents); n != 3 {
				t.Errorf("PutLogEvents calls: got %d, want 3 (one refused before the stream existed)", n)
			}
		})
	}
}

func TestWriteWithoutAutoCreate(t *testing.T) {
	srv := fakeAt(t, testNow)
	off := false
	s := newTestSink(t, srv, Config{AutoCreate: &off}, testNow)
	err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(2, 20, 30)})
	if c, _ := sink.ClassOf(err); c != sink.ClassConfig {
		t.Fatalf("write to a missing stream: got %v, want a config error", err)
	}
	if n := srv.Calls(cwtest.TargetCreateLogGroup) + srv.Calls(cwtest.TargetCreateLogStream); n != 0 {
		t.Errorf("create calls: got %d, want 0", n)
	}
	if err := s.Verify(t.Context()); err == nil {
		t.Error("verify of a missing group without autoCreate: got nil, want an error")
	}
}

func TestWriteSortsAndCutsAt24Hours(t *testing.T) {
	srv := fakeAt(t, testNow)
	s := newTestSink(t, srv, Config{}, testNow)
	// Journal order is not time order, and the events span 30 hours.
	offsets := []time.Duration{-2 * time.Hour, -30 * time.Hour, -time.Hour, -29 * time.Hour, -3 * time.Hour, -5 * time.Hour}
	recs := sinktest.Records(len(offsets), 20, 60)
	for i, off := range offsets {
		recs[i].Published = testNow.Add(off)
	}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	if n := srv.Calls(cwtest.TargetPutLogEvents); n != 3 {
		t.Errorf("PutLogEvents calls: got %d, want 3 (one refused, then two within 24 hours)", n)
	}
	var got []int64
	for _, e := range srv.Events(testGroup, "example") {
		got = append(got, e.Timestamp)
	}
	if !slices.IsSorted(got) || len(got) != len(recs) {
		t.Errorf("stored timestamps: got %v, want %d in order", got, len(recs))
	}
}

func TestWriteDeadLettersEventsOutOfRange(t *testing.T) {
	srv := fakeAt(t, testNow)
	srv.CreateGroup(testGroup)
	s := newTestSink(t, srv, Config{}, testNow)
	recs := sinktest.Records(3, 20, 60)
	recs[0].Published = testNow.Add(-15 * 24 * time.Hour)
	recs[2].Published = testNow.Add(3 * time.Hour)
	err := s.Write(t.Context(), sink.Batch{Records: recs})
	var pe *sink.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("write: got %v, want a *sink.PartialError", err)
	}
	for i, want := range map[int]string{0: "more than 14 days old", 2: "more than 2 hours ahead"} {
		c, _ := sink.ClassOf(pe.Failed[i])
		if c != sink.ClassPermanent || !strings.Contains(pe.Failed[i].Error(), want) {
			t.Errorf("record %d: got %v (%v), want permanent %q", i, pe.Failed[i], c, want)
		}
	}
	if _, ok := pe.Failed[1]; ok {
		t.Errorf("record 1: got %v, want delivered", pe.Failed[1])
	}
	if got := srv.Events(testGroup, "example"); len(got) != 1 || got[0].Message != string(recs[1].Data) {
		t.Errorf("stored: got %v, want only record 1", got)
	}
}

func TestWriteReportsRejectedEvents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fakeNow time.Time
		offsets []time.Duration
		want    map[int]string // rejected record -> reason
	}{
		// The service's clock (or the group's retention) differs from
		// the sink's: CloudWatch rejects what the sink let through.
		{"too old", testNow.Add(14*24*time.Hour + time.Hour), []time.Duration{-90 * time.Minute, -80 * time.Minute, time.Hour},
			map[int]string{0: "too old", 1: "too old"}},
		{"too new", testNow.Add(-3 * time.Hour), []time.Duration{-2 * time.Hour, -30 * time.Minute, 0},
			map[int]string{1: "too new", 2: "too new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeAt(t, tc.fakeNow)
			srv.CreateGroup(testGroup)
			s := newTestSink(t, srv, Config{}, testNow)
			recs := sinktest.Records(len(tc.offsets), 20, 60)
			for i, off := range tc.offsets {
				recs[i].Published = testNow.Add(off)
			}
			err := s.Write(t.Context(), sink.Batch{Records: recs})
			var pe *sink.PartialError
			if !errors.As(err, &pe) {
				t.Fatalf("write: got %v, want a *sink.PartialError", err)
			}
			if len(pe.Failed) != len(tc.want) {
				t.Errorf("failed records: got %d %v, want %d", len(pe.Failed), pe.Failed, len(tc.want))
			}
			for i, reason := range tc.want {
				c, _ := sink.ClassOf(pe.Failed[i])
				if c != sink.ClassPermanent || !strings.Contains(pe.Failed[i].Error(), reason) {
					t.Errorf("record %d: got %v (%v), want permanent %q", i, pe.Failed[i], c, reason)
				}
			}
		})
	}
}

func TestWriteClassifiesCallErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   cwtest.CallError
		want  sink.Class
		delay time.Duration
	}{
		{"throttling", cwtest.CallError{Status: 400, Code: "ThrottlingException", RetryAfter: "3"}, sink.ClassThrottled, 3 * time.Second},
		{"unavailable", cwtest.CallError{Status: 500, Code: "ServiceUnavailableException"}, sink.ClassRetryable, 0},
		{"invalid parameter", cwtest.CallError{Status: 400, Code: "InvalidParameterException"}, sink.ClassPermanent, 0},
		{"unrecognized client", cwtest.CallError{Status: 400, Code: "UnrecognizedClientException"}, sink.ClassConfig, 0},
		{"access denied", cwtest.CallError{Status: 400, Code: "AccessDeniedException"}, sink.ClassConfig, 0},
		{"sequence token", cwtest.CallError{Status: 400, Code: "InvalidSequenceTokenException"}, sink.ClassRetryable, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fakeAt(t, testNow)
			s := newTestSink(t, srv, Config{}, testNow)
			srv.SetError(&tc.err)
			err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(3, 20, 60)})
			class, delay := sink.ClassOf(err)
			if class != tc.want || delay != tc.delay {
				t.Errorf("class: got %v %v, want %v %v (%v)", class, delay, tc.want, tc.delay, err)
			}
		})
	}
	t.Run("already accepted", func(t *testing.T) {
		srv := fakeAt(t, testNow)
		s := newTestSink(t, srv, Config{}, testNow)
		srv.SetError(&cwtest.CallError{Status: 400, Code: "DataAlreadyAcceptedException"})
		if err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(3, 20, 60)}); err != nil {
			t.Errorf("write: got %v, want nil (a duplicate counts as delivered)", err)
		}
	})
}

func TestLogStreamTemplate(t *testing.T) {
	srv := fakeAt(t, testNow)
	s := newTestSink(t, srv, Config{LogStreamName: "okta-{org}-{date}"}, testNow)
	recs := sinktest.Records(4, 20, 60)
	recs[1].Org, recs[3].Org = "acme", "acme"
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	got := srv.Streams(testGroup)
	slices.Sort(got)
	if want := []string{"okta-acme-2024-08-13", "okta-example-2024-08-13"}; !slices.Equal(got, want) {
		t.Errorf("streams: got %v, want %v", got, want)
	}
}

func TestLimits(t *testing.T) {
	srv := fakeAt(t, testNow)
	s := newTestSink(t, srv, Config{}, testNow)
	if got, want := s.Limits(), (sink.Limits{MaxEvents: 10000, MaxBytes: 1048576, MaxEventBytes: 262144 + 26}); got != want {
		t.Errorf("limits: got %+v, want %+v", got, want)
	}
	r := sinktest.Record(1, 100)
	if got, want := s.EncodedSize(r), len(r.Data)+26; got != want {
		t.Errorf("encoded size: got %d, want %d", got, want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"valid", Config{LogGroupName: "/audit/okta", Config: awsconf.Config{Region: "us-east-1"}}, nil},
		{"template", Config{LogGroupName: "a", LogStreamName: "x-{org}-{date}", Config: awsconf.Config{Region: "us-east-1"}}, nil},
		{"no group", Config{Config: awsconf.Config{Region: "us-east-1"}}, []string{"logGroupName: required"}},
		{"aws group", Config{LogGroupName: "aws/x", Config: awsconf.Config{Region: "us-east-1"}}, []string{"must not start with aws/"}},
		{"bad chars", Config{LogGroupName: "a b", Config: awsconf.Config{Region: "us-east-1"}}, []string{"logGroupName"}},
		{"colon", Config{LogGroupName: "a", LogStreamName: "a:b", Config: awsconf.Config{Region: "us-east-1"}}, []string{"':' or '*'"}},
		{"placeholder", Config{LogGroupName: "a", LogStreamName: "{stream}", Config: awsconf.Config{Region: "us-east-1"}}, []string{"placeholders"}},
		{"event bytes", Config{LogGroupName: "a", MaxEventBytes: 2 << 20, Config: awsconf.Config{Region: "us-east-1"}}, []string{"maxEventBytes"}},
		{"everything", Config{}, []string{"logGroupName: required", "region: required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.WantProblems(t, tc.cfg.Validate(), tc.want)
		})
	}
}
