package lambda

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
)

const envelopePath = "../../testdata/okta/eventbridge-envelope.json"

func envelopeBytes(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(envelopePath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOktaEnvelopeToS3(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket("okta-archive")
	for _, tc := range []struct {
		format, compression, wantKey string
	}{
		{"", "", "okta/year=2023/month=05/day=30/hour=14/event-c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b.jsonl.gz"},
		{"csv", "none", "okta/year=2023/month=05/day=30/hour=14/event-c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b.csv"},
		{"parquet", "zstd", "okta/year=2023/month=05/day=30/hour=14/event-c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b.parquet"},
	} {
		t.Run(tc.format+"-"+tc.compression, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
			t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
			cfg, err := ConfigFromEnv(mapEnv(map[string]string{
				EnvBucket: "okta-archive", EnvPrefix: "okta", "AWS_REGION": s3test.Region, EnvEndpoint: srv.Endpoint,
				EnvForcePathStyle: "true", EnvFormat: tc.format, EnvCompression: tc.compression,
			}))
			if err != nil {
				t.Fatal(err)
			}
			h, err := New(cfg, Deps{HTTPClient: srv.HTTPClient})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // EventBridge may deliver twice: same object, still 200
				resp, err := h.Invoke(t.Context(), envelopeBytes(t))
				if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, tc.wantKey) {
					t.Fatalf("invoke: got %+v, %v, want 200 naming %s", resp, err, tc.wantKey)
				}
			}
			body, _ := srv.Get(t.Context(), "okta-archive", tc.wantKey)
			evs, err := archive.Decode(tc.wantKey, body)
			if err != nil || len(evs) != 1 {
				t.Fatalf("decode: got %d events, %v, want 1", len(evs), err)
			}
			got := string(evs[0].Data)
			if tc.format == "csv" {
				// The audit-export columns of the Okta event.
				for _, want := range []string{"c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b", "00uttidj04jqI21bA1d6", "user@evership.biz", "user.session.access_admin_app"} {
					if !strings.Contains(got, want) {
						t.Errorf("csv event: got %s, want it to hold %s", got, want)
					}
				}
				return
			}
			var want, have map[string]any
			var env struct{ Detail json.RawMessage }
			_ = json.Unmarshal(envelopeBytes(t), &env)
			_ = json.Unmarshal(env.Detail, &want)
			if err := json.Unmarshal(evs[0].Data, &have); err != nil {
				t.Fatal(err)
			}
			wb, _ := json.Marshal(want)
			hb, _ := json.Marshal(have)
			if string(wb) != string(hb) {
				t.Errorf("archived event: got %s, want the envelope's detail %s", hb, wb)
			}
			if tc.format == "parquet" && evs[0].Org != "evership" {
				t.Errorf("org: got %q, want evership (from the partner source)", evs[0].Org)
			}
		})
	}
}

// TestDetailWithoutUUIDIsIdempotent: a retried EventBridge event whose
// detail has no uuid writes one object, keyed by the envelope id.
func TestDetailWithoutUUIDIsIdempotent(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket("archive")
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	cfg, err := ConfigFromEnv(mapEnv(map[string]string{EnvBucket: "archive", "AWS_REGION": s3test.Region,
		EnvEndpoint: srv.Endpoint, EnvForcePathStyle: "true"}))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfg, Deps{HTTPClient: srv.HTTPClient})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"version":"0","id":"eb-id-1","detail-type":"AppEvent","source":"app","account":"123456789012",
		"time":"2026-01-02T03:04:05Z","region":"us-east-1","resources":[],
		"detail":{"eventType":"app.thing","published":"2026-01-02T03:04:05.000Z"}}`)
	var keys []string
	for range 2 {
		resp, err := h.Invoke(t.Context(), payload)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("invoke: got %+v, %v, want 200", resp, err)
		}
		keys = append(keys, resp.Body)
	}
	if keys[0] != keys[1] || !strings.Contains(keys[0], "event-eb-id-1") {
		t.Fatalf("got %q and %q, want the same key named after the envelope id", keys[0], keys[1])
	}
}

func TestForward(t *testing.T) {
	var got []byte
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		auth = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"accepted":1,"duplicates":0}`))
	}))
	defer srv.Close()
	cfg, err := ConfigFromEnv(mapEnv(map[string]string{EnvForwardURL: srv.URL + "/api/v1/events", EnvForwardToken: "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.Invoke(t.Context(), envelopeBytes(t))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("invoke: got %+v, %v, want 200", resp, err)
	}
	if auth != "SSWS tok" || !strings.Contains(string(got), `"uuid":"c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b"`) {
		t.Errorf("forwarded: got auth %q body %.100s, want SSWS tok and the event", auth, got)
	}
}

func TestBadInput(t *testing.T) {
	h, err := New(Config{ForwardURL: "http://127.0.0.1:1"}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{`[]`, `{"detail-type":"SystemLog"}`, `{"detail":{"uuid":"x"}}`,
		// I-JSON: a duplicate member, invalid UTF-8, a lone surrogate, a uuid with CR LF.
		`{"id":"e1","detail":{"eventType":"a","eventType":"b"}}`, "{\"id\":\"e1\",\"detail\":{\"eventType\":\"a\xff\"}}",
		`{"id":"e1","detail":{"eventType":"a","x":"\udc00"}}`, `{"detail":{"eventType":"a","uuid":"u\r\nX: y"}}`,
		`{"source":"a","source":"b","detail":{"eventType":"a"}}`} {
		resp, err := h.Invoke(t.Context(), json.RawMessage(payload))
		if err != nil || resp.StatusCode != 400 {
			t.Errorf("invoke %s: got %+v, %v, want 400 and no error (not retried)", payload, resp, err)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "AUDITSTREAM_S3_BUCKET (or AUDITSTREAM_FORWARD_URL): required"},
		{map[string]string{EnvBucket: "b-1", EnvForwardURL: "https://x"}, "not both"},
		{map[string]string{EnvForwardURL: "https://x"}, "AUDITSTREAM_FORWARD_TOKEN: required"},
		{map[string]string{EnvBucket: "b-1"}, "region: required"},
		{map[string]string{EnvBucket: "b-1", "AWS_REGION": "eu-west-1", EnvFormat: "xml"}, `format "xml"`},
	} {
		if _, err := ConfigFromEnv(mapEnv(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config from %v: got %v, want %q", tc.env, err, tc.want)
		}
	}
}

// TestForwardRefused: an event the server refuses (400, 422) is answered
// with the server's status and no error, so Lambda does not retry it.
func TestForwardRefused(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnprocessableEntity} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"errorCode":"E0000001","errorSummary":"Api validation failed: events","errorCauses":[]}`))
		}))
		h, err := New(Config{ForwardURL: srv.URL + "/api/v1/events/", ForwardToken: "tok"}, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h.Invoke(t.Context(), envelopeBytes(t))
		srv.Close()
		if err != nil || resp.StatusCode != status || !strings.Contains(resp.Body, "Api validation failed") {
			t.Errorf("%d: got %+v, %v, want %d naming the server's summary and no error", status, resp, err, status)
		}
	}
}

func TestIngestBase(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"https://as.example.com/api/v1/events", "https://as.example.com", true},
		{"https://as.example.com/api/v1/events/", "https://as.example.com", true},
		{"https://as.example.com/prefix/api/v1/events", "https://as.example.com/prefix", true},
		{"https://as.example.com", "https://as.example.com", true},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080", true},
		{"https://as.example.com/other", "", false},
		{"ftp://as.example.com", "", false},
		{"as.example.com", "", false},
	} {
		if got, ok := ingestBase(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
