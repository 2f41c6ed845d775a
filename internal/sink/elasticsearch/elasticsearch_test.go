package elasticsearch

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/elasticsearch/estest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func TestConformance(t *testing.T) {
	const maxEvents, maxBytes = 8, 8192
	sinktest.Run(t, sinktest.Harness{
		New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
			fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{
				Decode: estest.Decode,
				Check: func(r *http.Request, _ []byte) error {
					if u, p, ok := r.BasicAuth(); !ok || u != "elastic" || p != "changeme" {
						return fmt.Errorf("basic auth: got %q %v, want elastic", u, ok)
					}
					if r.URL.Path != "/audit/_bulk" {
						return fmt.Errorf("path: got %s, want /audit/_bulk", r.URL.Path)
					}
					return nil
				},
				Probe: http.StatusOK,
				Responses: map[sinktest.Behaviour]sinktest.Response{
					sinktest.Accept: {Status: 200, Body: []byte(`{"took":1,"errors":false,"items":[]}`)},
				},
			})
			s, err := New(Config{URLs: []string{fake.URL()}, Index: "audit", MaxEvents: maxEvents, MaxBytes: maxBytes,
				Auth: Auth{Type: AuthBasic, Username: "elastic", Password: "changeme"}}, sink.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close(t.Context()) })
			return s, fake
		},
		DataEqual:        estest.EventEqual,
		MaxRequestEvents: maxEvents,
		MaxRequestBytes:  maxBytes,
		Unsupported: map[sinktest.Scenario]string{
			sinktest.ScenarioPaused: "a cluster has no answer that stops a stream; 401/403 are configuration errors (TestClassify)",
		},
	})
}

func newTestSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

func TestWriteCreatesWithUUIDAndTimestamp(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("id:secret"))
	srv := estest.NewServer(t, estest.Options{Authorization: "ApiKey " + key})
	s := newTestSink(t, Config{URLs: []string{srv.URL()}, Auth: Auth{Type: AuthAPIKey, APIKey: sinkSecret(key)}})
	recs := sinktest.Records(4, 20, 100)
	recs[0].Published = time.Date(2024, 8, 13, 15, 58, 20, 353e6, time.UTC)
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	docs := srv.Docs()
	if len(docs) != len(recs) {
		t.Fatalf("documents: got %d, want %d", len(docs), len(recs))
	}
	for i, d := range docs {
		if d.ID != recs[i].UUID || d.Index != DefaultIndex || !estest.EventEqual(recs[i].Data, d.Source) {
			t.Errorf("document %d: got %s/%s %s, want %s/%s with the event", i, d.Index, d.ID, d.Source, DefaultIndex, recs[i].UUID)
		}
	}
	if !strings.HasPrefix(string(docs[0].Source), `{"@timestamp":"2024-08-13T15:58:20.353Z",`) {
		t.Errorf("source: got %s, want @timestamp from published", docs[0].Source)
	}
	// A replay of the same events stores nothing new and succeeds.
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("replay: got %v, want nil (409 counts as delivered)", err)
	}
	if got := len(srv.Docs()); got != len(recs) {
		t.Errorf("documents after replay: got %d, want %d", got, len(recs))
	}
}

func TestWriteReportsItemErrors(t *testing.T) {
	for _, tc := range []struct {
		failure estest.Failure
		want    sink.Class
	}{
		{estest.Failure{Status: 429, Type: "es_rejected_execution_exception"}, sink.ClassThrottled},
		{estest.Failure{Status: 400, Type: "mapper_parsing_exception"}, sink.ClassPermanent},
		{estest.Failure{Status: 400, Type: "strict_dynamic_mapping_exception"}, sink.ClassPermanent},
		{estest.Failure{Status: 403, Type: "cluster_block_exception"}, sink.ClassConfig},
		{estest.Failure{Status: 404, Type: "index_not_found_exception"}, sink.ClassConfig},
		{estest.Failure{Status: 503, Type: "unavailable_shards_exception"}, sink.ClassRetryable},
	} {
		t.Run(tc.failure.Type, func(t *testing.T) {
			recs := sinktest.Records(5, 20, 100)
			srv := estest.NewServer(t, estest.Options{Fail: func(d estest.Doc) *estest.Failure {
				if d.ID == recs[1].UUID || d.ID == recs[4].UUID {
					return &tc.failure
				}
				return nil
			}})
			s := newTestSink(t, Config{URLs: []string{srv.URL()}})
			err := s.Write(t.Context(), sink.Batch{Records: recs})
			var pe *sink.PartialError
			if !errors.As(err, &pe) || len(pe.Failed) != 2 {
				t.Fatalf("write: got %v, want a *sink.PartialError with 2 records", err)
			}
			for _, i := range []int{1, 4} {
				if c, _ := sink.ClassOf(pe.Failed[i]); c != tc.want {
					t.Errorf("record %d: got %v (%v), want %v", i, c, pe.Failed[i], tc.want)
				}
			}
			if got := len(srv.Docs()); got != 3 {
				t.Errorf("stored: got %d, want 3", got)
			}
		})
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
		{413, sink.ClassPermanent},
		{429, sink.ClassThrottled},
		{500, sink.ClassRetryable},
		{503, sink.ClassThrottled}, // the default table (sink.StatusClass), as for every HTTP destination
		{410, sink.ClassPaused},
		{301, sink.ClassConfig},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := estest.NewServer(t, estest.Options{})
			s := newTestSink(t, Config{URLs: []string{srv.URL()}})
			srv.SetStatus(tc.status)
			err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(2, 20, 60)})
			if c, _ := sink.ClassOf(err); c != tc.want {
				t.Errorf("class: got %v, want %v (%v)", c, tc.want, err)
			}
		})
	}
}

func TestFailoverAndVerify(t *testing.T) {
	srv := estest.NewServer(t, estest.Options{Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))})
	down := "http://127.0.0.1:1" // nothing listens on port 1
	s := newTestSink(t, Config{URLs: []string{down, srv.URL()}, Auth: Auth{Type: AuthBasic, Username: "u", Password: "p"}})
	if err := s.Verify(t.Context()); err != nil {
		t.Fatalf("verify: got %v, want nil", err)
	}
	if err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(2, 20, 60)}); err != nil {
		t.Fatalf("write with the first node down: got %v, want nil", err)
	}
	bad := newTestSink(t, Config{URLs: []string{srv.URL()}, Auth: Auth{Type: AuthBasic, Username: "u", Password: "wrong"}})
	if c, _ := sink.ClassOf(bad.Verify(t.Context())); c != sink.ClassConfig {
		t.Errorf("verify with a wrong password: got %v, want a config error", c)
	}
	if got := srv.Requests(); got != 1 {
		t.Errorf("bulk requests: got %d, want 1 (verify sends none)", got)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"valid", Config{URLs: []string{"https://es:9200"}}, nil},
		{"plain http elsewhere", Config{URLs: []string{"http://es:9200"}}, []string{"plain http to es:9200"}},
		{"plain http allowed", Config{URLs: []string{"http://es:9200"}, InsecureHTTP: true}, nil},
		{"no urls", Config{}, []string{"urls: required"}},
		{"index case", Config{URLs: []string{"https://es"}, Index: "Audit"}, []string{"lowercase"}},
		{"index start", Config{URLs: []string{"https://es"}, Index: "_audit"}, []string{"must not start"}},
		{"basic", Config{URLs: []string{"https://es"}, Auth: Auth{Type: AuthBasic}}, []string{"auth.username", "auth.password"}},
		{"api key", Config{URLs: []string{"https://es"}, Auth: Auth{Type: AuthAPIKey}}, []string{"auth.apiKey"}},
		{"creds without type", Config{URLs: []string{"https://es"}, Auth: Auth{Password: "x"}}, []string{"auth.type is none"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.WantProblems(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func sinkSecret(s string) secret.String { return secret.String(s) }
