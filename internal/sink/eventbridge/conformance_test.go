package eventbridge

import (
	"net/http"
	"testing"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/awsconf/awstest"
	"github.com/auditstream/auditstream/internal/sink/eventbridge/ebtest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
)

func testCredentials() awsconf.Credentials {
	return awsconf.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
}

func TestConformance(t *testing.T) {
	const maxBytes = 8192
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
			fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{
				Decode: ebtest.Decode(maxBytes),
				Check:  ebtest.CheckRequest(testKeyID, testRegion),
				Route:  ebtest.IsPutEvents,
				Probe:  http.StatusOK, // DescribeEventBus
				Responses: map[sinktest.Behaviour]sinktest.Response{
					sinktest.Accept: {
						Status: http.StatusOK,
						Header: http.Header{"Content-Type": {awstest.ContentType}},
						Body:   []byte(`{"FailedEntryCount":0,"Entries":[]}`),
					},
					sinktest.FailRetryable: awstest.ErrorResponse(http.StatusInternalServerError, "InternalException"),
					sinktest.FailPermanent: awstest.ErrorResponse(http.StatusBadRequest, "ValidationException"),
					sinktest.Throttle:      awstest.ErrorResponse(http.StatusBadRequest, "ThrottlingException"),
				},
			})
			s, err := New(Config{
				MaxBytes: maxBytes,
				Config:   awsconf.Config{Region: testRegion, Endpoint: fake.URL(), Credentials: testCredentials()},
			}, sink.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close(t.Context()) })
			return s, fake
		},
		MaxRequestEvents: maxEntries,
		Unsupported: map[sinktest.Scenario]string{
			sinktest.ScenarioPaused: "EventBridge has no answer that stops a stream; permission errors are configuration errors (TestWriteClassifiesCallErrors)",
		},
	})
}
