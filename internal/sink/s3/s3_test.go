package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

const bucket = "audit-archive"

// testConfig points a sink at srv.
func testConfig(srv *s3test.Server, mod func(*Config)) Config {
	cfg := Config{
		Config: awsconf.Config{
			Region:   s3test.Region,
			Endpoint: srv.Endpoint,
			Credentials: awsconf.Credentials{
				AccessKeyID: s3test.AccessKey, SecretAccessKey: secret.String(s3test.SecretKey),
			},
		},
		Bucket: bucket, Prefix: "audit/", ForcePathStyle: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

func newSink(t *testing.T, srv *s3test.Server, cfg Config, deps sink.Deps, opts ...Option) *Sink {
	t.Helper()
	if deps.HTTPClient == nil {
		deps.HTTPClient = srv.HTTPClient
	}
	s, err := New(cfg, deps, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// twoHours returns n records whose second half is published an hour after
// the first half.
func twoHours(n int) []event.Record {
	recs := sinktest.Records(n, 20, 400)
	for i := n / 2; i < n; i++ {
		recs[i].Published = recs[i].Published.Add(time.Hour)
	}
	return recs
}

// readAll decodes every archive object under prefix, in key order.
func readAll(t *testing.T, srv *s3test.Server, prefix string) (keys []string, events []archive.Decoded) {
	t.Helper()
	for _, key := range srv.Keys(t.Context(), bucket, prefix) {
		if strings.Contains(key, archive.VerifyPrefix) {
			continue
		}
		keys = append(keys, key)
		body, _ := srv.Get(t.Context(), bucket, key)
		evs, err := archive.Decode(key, body)
		if err != nil {
			t.Fatalf("decode %s: %v", key, err)
		}
		events = append(events, evs...)
	}
	return keys, events
}

func eventID(t *testing.T, data []byte) string {
	t.Helper()
	id, err := sinktest.RecordID(data)
	if err != nil {
		t.Fatalf("event %s: %v", data, err)
	}
	return id
}

func TestFormatsRoundTrip(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	for _, tc := range []struct {
		format      archive.Format
		compression archive.Compression
		columns     []string
		ext         string
		lossy       bool // CSV without the event column: ids only
	}{
		{archive.NDJSON, "", nil, ".jsonl.gz", false},
		{archive.NDJSON, archive.Zstd, nil, ".jsonl.zst", false},
		{archive.NDJSON, archive.None, nil, ".jsonl", false},
		{archive.CSV, archive.Gzip, nil, ".csv.gz", true},
		{archive.CSV, archive.None, []string{"EVENT_ID", "EVENT_TIME", "actor.alternateId", "event"}, ".csv", false},
		{archive.Parquet, "", nil, ".parquet", false},
		{archive.Parquet, archive.Zstd, nil, ".parquet", false},
		{archive.Parquet, archive.None, nil, ".parquet", false},
	} {
		name := string(tc.format) + "-" + string(tc.compression) + "-" + strings.Join(tc.columns, ",")
		t.Run(name, func(t *testing.T) {
			prefix := "formats/" + strings.ReplaceAll(name, ",", "_") + "/"
			s := newSink(t, srv, testConfig(srv, func(c *Config) {
				c.Prefix, c.Format, c.Compression, c.Columns = prefix, tc.format, tc.compression, tc.columns
			}), sink.Deps{})
			recs := twoHours(40)
			for _, b := range [][]event.Record{recs[:25], recs[25:]} {
				if err := s.Write(t.Context(), sink.Batch{Records: b}); err != nil {
					t.Fatalf("write: got %v, want nil", err)
				}
			}
			keys, events := readAll(t, srv, prefix)
			wantKeys := []string{
				// batch 1: 20 events in hour 15, 5 in hour 16; batch 2: 15 in hour 16.
				prefix + "year=2024/month=08/day=13/hour=15/" + archive.ObjectName(recs[:20], tc.ext),
				prefix + "year=2024/month=08/day=13/hour=16/" + archive.ObjectName(recs[20:25], tc.ext),
				prefix + "year=2024/month=08/day=13/hour=16/" + archive.ObjectName(recs[25:], tc.ext),
			}
			if !slices.Equal(keys, wantKeys) {
				t.Fatalf("keys: got %q, want %q", keys, wantKeys)
			}
			if len(events) != len(recs) {
				t.Fatalf("events: got %d, want %d", len(events), len(recs))
			}
			for i, ev := range events {
				if tc.lossy {
					if got := eventID(t, ev.Data); got != recs[i].UUID {
						t.Errorf("event %d id: got %s, want %s", i, got, recs[i].UUID)
					}
					continue
				}
				if !bytes.Equal(ev.Data, recs[i].Data) {
					t.Errorf("event %d: got %s, want %s", i, ev.Data, recs[i].Data)
				}
			}
		})
	}
}

func TestRetryAndCrashWriteNoDuplicates(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	// acked is how many events of the lost batch were acknowledged before
	// the crash: the next runner starts after them.
	for _, acked := range []int{0, 3} {
		t.Run(fmt.Sprintf("acked-%d", acked), func(t *testing.T) {
			prefix := fmt.Sprintf("crash-%d/", acked)
			cfg := testConfig(srv, func(c *Config) { c.Prefix = prefix })
			recs := sinktest.Records(30, 20, 300)

			first := newSink(t, srv, cfg, sink.Deps{})
			if err := first.Write(t.Context(), sink.Batch{Records: recs[:10]}); err != nil {
				t.Fatal(err)
			}
			// The runner retries the same batch (say the answer was lost):
			// same key, 412, success.
			if err := first.Write(t.Context(), sink.Batch{Records: recs[:10]}); err != nil {
				t.Fatalf("retry of a written batch: got %v, want nil", err)
			}
			// A crash before the ack: the next process's runner rebuilds a
			// larger batch from the ack floor, starting with the same events.
			second := newSink(t, srv, cfg, sink.Deps{})
			if err := second.Write(t.Context(), sink.Batch{Records: recs[acked:20]}); err != nil {
				t.Fatal(err)
			}
			if err := second.Write(t.Context(), sink.Batch{Records: recs[20:]}); err != nil {
				t.Fatal(err)
			}
			keys, events := readAll(t, srv, prefix)
			if len(keys) != 3 {
				t.Errorf("objects: got %d %q, want 3", len(keys), keys)
			}
			var got []string
			for _, ev := range events {
				got = append(got, eventID(t, ev.Data))
			}
			var want []string
			for _, r := range recs {
				want = append(want, r.UUID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("archived ids: got %d, want %d exactly once each, in order", len(got), len(want))
			}
		})
	}
}

func TestMaxBytesCutsObjects(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	const maxBytes = 4096
	for _, c := range []archive.Compression{archive.Gzip, archive.None} {
		t.Run(string(c), func(t *testing.T) {
			prefix := "cut-" + string(c) + "/"
			s := newSink(t, srv, testConfig(srv, func(cfg *Config) {
				cfg.Prefix, cfg.Compression, cfg.Batch.MaxBytes = prefix, c, maxBytes
			}), sink.Deps{})
			// Far more than maxBytes in one batch, as after an estimate that
			// was too low.
			recs := sinktest.Records(200, 50, 900)
			if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
				t.Fatal(err)
			}
			keys, events := readAll(t, srv, prefix)
			if len(keys) < 2 {
				t.Errorf("objects: got %d, want several", len(keys))
			}
			for _, k := range keys {
				body, _ := srv.Get(t.Context(), bucket, k)
				if len(body) > maxBytes {
					t.Errorf("%s: got %d bytes, want at most %d", k, len(body), maxBytes)
				}
			}
			if len(events) != len(recs) {
				t.Errorf("events: got %d, want %d", len(events), len(recs))
			}
			// Writing the batch again writes the same keys: nothing new.
			if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
				t.Fatal(err)
			}
			if again, _ := readAll(t, srv, prefix); !slices.Equal(again, keys) {
				t.Errorf("keys after a retry: got %d, want the same %d", len(again), len(keys))
			}
		})
	}
}

func TestEstimateLearnsRatio(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	s := newSink(t, srv, testConfig(srv, nil), sink.Deps{})
	recs := sinktest.Records(500, 200, 1200)
	before := s.EncodedSize(recs[0])
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	after := s.EncodedSize(recs[0])
	raw := archive.RawSize(recs[0])
	if after >= before || after > raw/3 {
		t.Errorf("estimate for a %d-byte event: got %d after a batch (was %d), want it to follow gzip's ratio", raw, after, before)
	}
}

func TestMultipartUpload(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	s := newSink(t, srv, testConfig(srv, func(c *Config) { c.Prefix, c.Compression = "mp/", archive.None }),
		sink.Deps{}, Multipart(5<<20, 5<<20))
	// ~6.5 MB of NDJSON: two parts.
	recs := sinktest.Records(100, 60000, 70000)
	for range 2 { // the second time finds the object and succeeds
		if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
			t.Fatalf("write: got %v, want nil", err)
		}
	}
	keys, events := readAll(t, srv, "mp/")
	if len(keys) != 1 || len(events) != len(recs) {
		t.Fatalf("objects and events: got %d and %d, want 1 and %d", len(keys), len(events), len(recs))
	}
	for i := range recs {
		if !bytes.Equal(events[i].Data, recs[i].Data) {
			t.Fatalf("event %d differs", i)
		}
	}
	// A completed upload is create-only too: complete over an existing key
	// (skipping the HEAD, as a write-only policy would) is answered 412.
	err := s.multipartNoHead(t.Context(), keys[0], bytes.Repeat([]byte("x"), 6<<20))
	if err != nil {
		t.Fatalf("multipart over an existing object: got %v, want nil (412 is success)", err)
	}
	body, _ := srv.Get(t.Context(), bucket, keys[0])
	if bytes.HasPrefix(body, []byte("xxx")) {
		t.Error("existing object was overwritten by a multipart upload")
	}
}

func TestVerify(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	s := newSink(t, srv, testConfig(srv, nil), sink.Deps{Now: func() time.Time { return now }})
	if err := s.Verify(t.Context()); err != nil {
		t.Fatalf("verify: got %v, want nil", err)
	}
	want := "audit/auditstream-verify-test-20250304T050607.000Z"
	if keys := srv.Keys(t.Context(), bucket, "audit/"); !slices.Equal(keys, []string{want}) {
		t.Errorf("keys after verify: got %q, want %q", keys, want)
	}
	for _, tc := range []struct {
		name  string
		mod   func(*Config)
		want  string
		class sink.Class
	}{
		{"no such bucket", func(c *Config) { c.Bucket = "missing-bucket" }, `no such bucket: bucket "missing-bucket" does not exist`, sink.ClassConfig},
		{"unknown key", func(c *Config) { c.Credentials.AccessKeyID = "nobody" }, "access denied: the access key id is not known", sink.ClassConfig},
		{"wrong secret", func(c *Config) { c.Credentials.SecretAccessKey = "wrong" }, "access denied: the secret access key does not match", sink.ClassConfig},
		{"unreachable", func(c *Config) { c.Endpoint = "http://127.0.0.1:1" }, "cannot reach S3 at http://127.0.0.1:1", sink.ClassRetryable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t, srv, testConfig(srv, tc.mod), sink.Deps{})
			err := s.Verify(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verify: got %v, want an error saying %q", err, tc.want)
			}
			werr := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(2, 20, 50)})
			if c, _ := sink.ClassOf(werr); c != tc.class || !strings.Contains(werr.Error(), tc.want) {
				t.Errorf("write: got %v (%v), want class %v saying %q", werr, c, tc.class, tc.want)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	// Over HTTPS the SDK's default would be a streaming checksum trailer;
	// the sink must work there too (DESTINATIONS.md §1.4).
	srv := s3test.Start(t, s3test.Options{TLS: true})
	srv.CreateBucket(bucket)
	s := newSink(t, srv, testConfig(srv, nil), sink.Deps{})
	if err := s.Verify(t.Context()); err != nil {
		t.Fatalf("verify over TLS: got %v, want nil", err)
	}
	recs := sinktest.Records(10, 20, 300)
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write over TLS: got %v, want nil", err)
	}
	if _, events := readAll(t, srv, "audit/year="); len(events) != len(recs) {
		t.Errorf("events over TLS: got %d, want %d", len(events), len(recs))
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{Config: awsconf.Config{Region: "us-east-1"}, Bucket: "my-bucket"}
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"everything wrong", func(c *Config) {
			c.Bucket, c.Region, c.Format, c.Compression = "Bad_Bucket", "", "xml", "lz4"
			c.KeyTemplate, c.Batch = "{year}/", Batch{MaxAge: sink.Duration(time.Millisecond), MaxBytes: 10, MaxEvents: -1}
		}, []string{"bucket", "region: required", `format "xml"`, `compression "lz4"`, "unknown placeholder {year}",
			"batch.maxAge", "batch.maxBytes", "batch.maxEvents"}},
		{"columns without csv", func(c *Config) { c.Columns = []string{"EVENT_ID"} }, []string{"columns: only used with format csv"}},
		{"bad column", func(c *Config) { c.Format, c.Columns = archive.CSV, []string{"NOPE"} }, []string{`"NOPE" is neither`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mod(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("validate: got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validate: got nil, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("validate: got %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestSettingsJSON(t *testing.T) {
	raw := `{"bucket":"b-1","region":"eu-west-1","prefix":"p","endpoint":"http://127.0.0.1:9000","forcePathStyle":true,
		"credentials":{"accessKeyId":"AK","secretAccessKey":"sk"},"format":"csv","compression":"zstd",
		"columns":["EVENT_ID","event"],"batch":{"maxAge":"1m","maxBytes":1048576,"maxEvents":10},"keyTemplate":"{org}/{yyyy}/"}`
	var c Config
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Region != "eu-west-1" || c.Credentials.SecretAccessKey.Reveal() != "sk" || c.Batch.MaxAge.D() != time.Minute {
		t.Errorf("decoded: got %+v", c)
	}
	out, _ := json.Marshal(c)
	if strings.Contains(string(out), `"sk"`) {
		t.Errorf("marshalled settings show the secret: %s", out)
	}
}

// md5Check is a transport that records whether every object write carried
// a correct Content-MD5 (what an Object Lock bucket requires).
type md5Check struct {
	next   http.RoundTripper
	mu     sync.Mutex
	writes int
	bad    []string
}

func (c *md5Check) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && r.Body != nil && r.ContentLength > 0 {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(b))
		sum := md5.Sum(b)
		c.mu.Lock()
		c.writes++
		if got, want := r.Header.Get("Content-MD5"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
			c.bad = append(c.bad, fmt.Sprintf("%s: Content-MD5 %q, want %q", r.URL.Path, got, want))
		}
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

func TestWritesCarryContentMD5(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	check := &md5Check{next: srv.HTTPClient.Transport}
	if check.next == nil {
		check.next = http.DefaultTransport
	}
	client := *srv.HTTPClient
	client.Transport = check
	s := newSink(t, srv, testConfig(srv, func(c *Config) { c.Prefix, c.Compression = "md5/", archive.None }),
		sink.Deps{HTTPClient: &client}, Multipart(5<<20, 5<<20))
	for _, recs := range [][]event.Record{sinktest.Records(10, 100, 200), sinktest.Records(100, 60000, 70000)} {
		if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
			t.Fatalf("write: got %v, want nil", err)
		}
	}
	check.mu.Lock()
	defer check.mu.Unlock()
	if check.writes < 3 || len(check.bad) > 0 { // a put, then two parts
		t.Fatalf("got %d writes, bad %v; want a put and parts, each with its Content-MD5", check.writes, check.bad)
	}
}
