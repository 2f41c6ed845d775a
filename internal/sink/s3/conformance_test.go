package s3

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// s3Error is an S3 XML error answer.
func s3Error(status int, code string, header http.Header) sinktest.Response {
	if header == nil {
		header = http.Header{}
	}
	header.Set("Content-Type", "application/xml")
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>fake %s</Message><RequestId>1</RequestId></Error>`, code, code)
	// Pad with XML whitespace so a sink that does not drain loses its
	// connection.
	body += strings.Repeat(" ", sinktest.FailureBodySize)
	return sinktest.Response{Status: status, Header: header, Body: []byte(body)}
}

func fakeConfig(url string) Config {
	return Config{
		Config: awsconf.Config{Region: "us-east-1", Endpoint: url,
			Credentials: awsconf.Credentials{AccessKeyID: "AKTEST", SecretAccessKey: secret.String("secret")}},
		Bucket: bucket, ForcePathStyle: true,
	}
}

func TestConformance(t *testing.T) {
	const maxEvents, maxBytes = 7, 4096
	for _, c := range []archive.Compression{archive.Gzip, archive.None} {
		t.Run(string(c), func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{
				New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
					fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{
						Decode: func(r *http.Request, body []byte) ([]sinktest.Received, error) {
							key := strings.TrimPrefix(r.URL.Path, "/"+bucket+"/")
							evs, err := archive.Decode(key, body)
							if err != nil {
								return nil, err
							}
							out := make([]sinktest.Received, len(evs))
							for i, ev := range evs {
								id, err := sinktest.RecordID(ev.Data)
								if err != nil {
									return nil, err
								}
								out[i] = sinktest.Received{ID: id, Data: ev.Data}
							}
							return out, nil
						},
						Check: func(r *http.Request, _ []byte) error {
							if got := r.Header.Get("If-None-Match"); got != "*" {
								return fmt.Errorf("If-None-Match: got %q, want *", got)
							}
							return nil
						},
						Route: func(r *http.Request) bool {
							return r.Method == http.MethodPut && !strings.Contains(r.URL.Path, archive.VerifyPrefix)
						},
						Probe: http.StatusOK,
						Responses: map[sinktest.Behaviour]sinktest.Response{
							sinktest.Accept:        {Status: http.StatusOK, Header: http.Header{"Etag": {`"x"`}}},
							sinktest.FailRetryable: s3Error(http.StatusInternalServerError, "InternalError", nil),
							sinktest.FailPermanent: s3Error(http.StatusBadRequest, "EntityTooLarge", nil),
							sinktest.Throttle:      s3Error(http.StatusServiceUnavailable, "SlowDown", nil),
						},
					})
					cfg := fakeConfig(fake.URL())
					cfg.Compression = c
					cfg.Batch = Batch{MaxEvents: maxEvents, MaxBytes: maxBytes}
					s, err := New(cfg, sink.Deps{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close(t.Context()) })
					s.listOK = false // the fake does not list; recovery is tested against versitygw
					return s, fake
				},
				MaxRequestEvents: maxEvents,
				MaxRequestBytes:  maxBytes,
				Unsupported: map[sinktest.Scenario]string{
					sinktest.ScenarioPaused: "S3 has no answer that pauses a stream: configuration problems hold it (see TestClassify)",
				},
			})
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		header http.Header
		want   sink.Class
		ok     bool // nil error: written or already there
		words  string
		delay  time.Duration
	}{
		{status: 412, code: "PreconditionFailed", ok: true},
		{status: 304, ok: true},
		{status: 409, code: "ConditionalRequestConflict", want: sink.ClassRetryable},
		{status: 503, code: "SlowDown", header: http.Header{"Retry-After": {"7"}}, want: sink.ClassThrottled, delay: 7 * time.Second},
		{status: 500, code: "InternalError", want: sink.ClassRetryable},
		{status: 400, code: "RequestTimeout", want: sink.ClassRetryable},
		{status: 400, code: "ExpiredToken", want: sink.ClassRetryable, words: "session token has expired"},
		{status: 404, code: "NoSuchBucket", want: sink.ClassConfig, words: `no such bucket: bucket "audit-archive" does not exist`},
		{status: 403, code: "AccessDenied", want: sink.ClassConfig, words: "access denied: the credentials may not write"},
		{status: 403, code: "InvalidAccessKeyId", want: sink.ClassConfig, words: "access key id is not known"},
		{status: 301, code: "PermanentRedirect", header: http.Header{"X-Amz-Bucket-Region": {"eu-central-1"}}, want: sink.ClassConfig,
			words: `wrong region: bucket "audit-archive" is in region eu-central-1, not us-east-1`},
		{status: 400, code: "AuthorizationHeaderMalformed", header: http.Header{"X-Amz-Bucket-Region": {"eu-west-2"}}, want: sink.ClassConfig, words: "wrong region"},
		{status: 501, code: "NotImplemented", want: sink.ClassConfig, words: "conditionalWrites"},
		{status: 400, code: "XAmzContentSHA256Mismatch", want: sink.ClassConfig, words: "checksum"},
		{status: 400, code: "EntityTooLarge", want: sink.ClassPermanent},
	} {
		t.Run(fmt.Sprintf("%d-%s", tc.status, tc.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.code == "" {
					w.WriteHeader(tc.status)
					return
				}
				resp := s3Error(tc.status, tc.code, tc.header)
				for k, v := range resp.Header {
					w.Header()[k] = v
				}
				w.WriteHeader(resp.Status)
				_, _ = w.Write(resp.Body)
			}))
			defer srv.Close()
			s, err := New(fakeConfig(srv.URL), sink.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			s.listOK = false
			err = s.Write(t.Context(), sink.Batch{Records: sinktest.Records(2, 20, 50)})
			if tc.ok {
				if err != nil {
					t.Fatalf("write: got %v, want nil", err)
				}
				return
			}
			class, delay := sink.ClassOf(err)
			if class != tc.want || delay != tc.delay {
				t.Errorf("class: got %v %v (%v), want %v %v", class, delay, err, tc.want, tc.delay)
			}
			if tc.words != "" && !strings.Contains(err.Error(), tc.words) {
				t.Errorf("error: got %q, want it to say %q", err, tc.words)
			}
		})
	}
}
