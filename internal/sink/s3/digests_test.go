package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
	"github.com/auditstream/auditstream/internal/wait"
)

// testKeyring is an integrity keyring with one fresh key of id id.
func testKeyring(t *testing.T, id string) *integrity.Keyring {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := integrity.NewKeyring([]integrity.KeySpec{{ID: id, PrivateKey: secret.String(base64.StdEncoding.EncodeToString(priv.Seed()))}}, id)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// records returns n records from journal position from on, spread over
// two hours (two partitions).
func records(from, n int) []event.Record {
	recs := make([]event.Record, n)
	for i := range recs {
		recs[i] = sinktest.Record(from+i, 100)
		if i >= n/2 {
			recs[i].Published = recs[i].Published.Add(time.Hour)
		}
	}
	return recs
}

func digestSink(t *testing.T, srv *s3test.Server, prefix string, kr *integrity.Keyring) *Sink {
	return newSink(t, srv, testConfig(srv, func(c *Config) { c.Prefix = prefix }), sink.Deps{Stream: "0ls1", Signer: kr})
}

func write(t *testing.T, s *Sink, recs []event.Record) {
	t.Helper()
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
}

func verifyPrefix(t *testing.T, srv *s3test.Server, prefix string, kr *integrity.Keyring) exportdigest.Report {
	t.Helper()
	r, err := exportdigest.Verify(t.Context(), BucketStore{Client: srv.Client(), Bucket: bucket},
		exportdigest.VerifyOptions{Prefix: prefix, Keys: kr.Lookup(), Data: IsData})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// archived writes two batches (four objects) with a digest after each:
// three digests with the genesis one.
func archived(t *testing.T, srv *s3test.Server, prefix string, kr *integrity.Keyring) {
	t.Helper()
	s := digestSink(t, srv, prefix, kr)
	if err := s.Verify(t.Context()); err != nil {
		t.Fatal(err)
	}
	write(t, s, records(1, 10))
	if err := s.digests.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	write(t, s, records(11, 6))
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func digestKeys(t *testing.T, srv *s3test.Server, prefix string) []string {
	return srv.Keys(t.Context(), bucket, prefix+exportdigest.Dir)
}

func TestDigestsOfAnArchive(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	kr := testKeyring(t, "k1")
	ctx := t.Context()
	client := srv.Client()

	// found says whether r failed with kind about key.
	found := func(r exportdigest.Report, kind exportdigest.Kind, key string) bool {
		for _, f := range r.Failures {
			if f.Kind == kind && f.Key == key {
				return true
			}
		}
		return false
	}
	dataKeys := func(prefix string) []string {
		var out []string
		for _, k := range srv.Keys(ctx, bucket, prefix) {
			if IsData(k) {
				out = append(out, k)
			}
		}
		return out
	}

	t.Run("clean", func(t *testing.T) {
		archived(t, srv, "clean/", kr)
		ds := digestKeys(t, srv, "clean/")
		if len(ds) != 3 || !strings.HasPrefix(ds[0], "clean/_digest/") || !strings.HasSuffix(ds[0], ".json") || !strings.Contains(ds[0], "/0ls1_") {
			t.Fatalf("got digests %v, want 3 under clean/_digest/ named 0ls1_<time>.json", ds)
		}
		r := verifyPrefix(t, srv, "clean/", kr)
		if !r.OK() || len(r.Warnings)+len(r.Infos) > 0 {
			t.Fatalf("got %v %v %v, want a clean report", r.Failures, r.Warnings, r.Infos)
		}
		if r.Objects != 4 || r.Events != 16 {
			t.Errorf("got %s, want 4 objects and 16 events", r.Summary())
		}
		if !strings.HasPrefix(r.Summary(), "verified 4 objects, 16 events from 2024-08-13T15:58:20Z to 2024-08-13T16:58:20Z") {
			t.Errorf("got %q, want the events' published span", r.Summary())
		}
	})
	t.Run("modified object", func(t *testing.T) {
		archived(t, srv, "mod/", kr)
		key := dataKeys("mod/")[1]
		body, _ := srv.Get(ctx, bucket, key)
		body[len(body)/2] ^= 1
		if _, err := client.PutObject(ctx, &s3api.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
		if r := verifyPrefix(t, srv, "mod/", kr); !found(r, exportdigest.ModifiedObject, key) {
			t.Errorf("got %v, want %s named modified", r.Failures, key)
		}
	})
	t.Run("lines reordered", func(t *testing.T) {
		// Every event kept, two lines swapped: the object is named
		// modified all the same.
		archived(t, srv, "swap/", kr)
		key := dataKeys("swap/")[1]
		body, _ := srv.Get(ctx, bucket, key)
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(plain), "\n")
		if len(lines) < 3 || lines[0] == lines[1] {
			t.Fatalf("got %d lines in %s, want at least two distinct", len(lines)-1, key)
		}
		lines[0], lines[1] = lines[1], lines[0]
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = io.WriteString(zw, strings.Join(lines, ""))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := client.PutObject(ctx, &s3api.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes())}); err != nil {
			t.Fatal(err)
		}
		r := verifyPrefix(t, srv, "swap/", kr)
		if !found(r, exportdigest.ModifiedObject, key) || len(r.Failures) != 1 {
			t.Errorf("got %v, want only %s named modified", r.Failures, key)
		}
	})
	t.Run("deleted object", func(t *testing.T) {
		archived(t, srv, "del/", kr)
		key := dataKeys("del/")[0]
		if _, err := client.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
		if r := verifyPrefix(t, srv, "del/", kr); !found(r, exportdigest.MissingObject, key) {
			t.Errorf("got %v, want %s named missing", r.Failures, key)
		}
	})
	t.Run("deleted digest", func(t *testing.T) {
		archived(t, srv, "deldigest/", kr)
		ds := digestKeys(t, srv, "deldigest/")
		if _, err := client.DeleteObject(ctx, &s3api.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(ds[1])}); err != nil {
			t.Fatal(err)
		}
		r := verifyPrefix(t, srv, "deldigest/", kr)
		if !found(r, exportdigest.BrokenChain, ds[2]) || !strings.Contains(r.Failures[0].Detail, ds[1]) {
			t.Errorf("got %v, want the link from %s to the missing %s", r.Failures, ds[2], ds[1])
		}
		if len(r.Warnings) != 2 {
			t.Errorf("got warnings %v, want the two objects of the deleted digest in no digest", r.Warnings)
		}
	})
	t.Run("forged digest", func(t *testing.T) {
		archived(t, srv, "forged/", kr)
		key := digestKeys(t, srv, "forged/")[1]
		body, _ := srv.Get(ctx, bucket, key)
		env, err := integrity.ParseEnvelope(body)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := integrity.SignJSON(testKeyring(t, "k1"), env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.PutObject(ctx, &s3api.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(forged)}); err != nil {
			t.Fatal(err)
		}
		r := verifyPrefix(t, srv, "forged/", kr)
		if !found(r, exportdigest.BadDigest, key) {
			t.Errorf("got %v, want %s refused", r.Failures, key)
		}
	})
}

func TestDigestsKeyRotation(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	old, cur := testKeyring(t, "old"), testKeyring(t, "new")
	s := digestSink(t, srv, "rot/", old)
	write(t, s, records(1, 4))
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s = digestSink(t, srv, "rot/", cur)
	write(t, s, records(5, 4))
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	both, err := integrity.VerifyOnly(append(old.PublicKeys(), cur.PublicKeys()...))
	if err != nil {
		t.Fatal(err)
	}
	if r := verifyPrefix(t, srv, "rot/", both); !r.OK() || r.Objects != 4 {
		t.Errorf("with both keys: got %s %v, want 4 objects verified", r.Summary(), r.Failures)
	}
	if r := verifyPrefix(t, srv, "rot/", cur); r.OK() {
		t.Errorf("with the new key only: got %s, want the old key's digests refused", r.Summary())
	}
}

// TestDigestsAfterACrash: objects written by a sink that dies before its
// digest are listed in the digest of the next sink.
func TestDigestsAfterACrash(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	kr := testKeyring(t, "k1")
	crashed := digestSink(t, srv, "crash/", kr)
	write(t, crashed, records(1, 6))
	if err := crashed.digests.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	write(t, crashed, records(7, 6)) // no digest: the process dies here
	crashed.digests = nil            // its Close (at the test's end) must write nothing

	next := digestSink(t, srv, "crash/", kr)
	write(t, next, records(13, 2))
	if err := next.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := verifyPrefix(t, srv, "crash/", kr)
	if !r.OK() || len(r.Warnings)+len(r.Infos) > 0 || r.Objects != 6 || r.Events != 14 {
		t.Errorf("got %s %v %v %v, want 6 objects and 14 events verified, nothing in no digest", r.Summary(), r.Failures, r.Warnings, r.Infos)
	}
}

// TestDigestsOnTheirOwn: a digest follows within the interval with no
// further Write.
func TestDigestsOnTheirOwn(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	kr := testKeyring(t, "k1")
	s := newSink(t, srv, testConfig(srv, func(c *Config) {
		c.Prefix = "timer/"
		c.Digests.Interval = "1s"
	}), sink.Deps{Stream: "0ls1", Signer: kr})
	write(t, s, records(1, 4))
	wait.Eventually(t, "a digest listing the objects", func() bool { return verifyPrefix(t, srv, "timer/", kr).Objects == 2 }, wait.Within(10*time.Second))
	if r := verifyPrefix(t, srv, "timer/", kr); !r.OK() {
		t.Errorf("got %v, want a clean report", r.Failures)
	}
}

func TestDigestsOff(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	s := newSink(t, srv, testConfig(srv, func(c *Config) { c.Prefix = "off/"; c.Digests.Off = true }), sink.Deps{Stream: "0ls1", Signer: testKeyring(t, "k1")})
	write(t, s, records(1, 4))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := digestKeys(t, srv, "off/"); len(got) != 0 {
		t.Errorf("got digests %v, want none", got)
	}
}

// refuseDigests answers 403 AccessDenied to every PUT of a digest and
// hands everything else to next: a bucket policy that lets the stream
// write its data but not its digests.
type refuseDigests struct{ next http.RoundTripper }

func (r refuseDigests) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/"+exportdigest.Dir) {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
		return &http.Response{StatusCode: http.StatusForbidden, Status: "403 Forbidden", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: req}, nil
	}
	return r.next.RoundTrip(req)
}

// TestDigestFailureReported: a bucket that refuses the digest PUT lets the
// data through; each failed digest is handed to the stream's reporter
// (sink.DigestReporter) and Close fails with it.
func TestDigestFailureReported(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(bucket)
	kr := testKeyring(t, "k1")
	hc := &http.Client{Transport: refuseDigests{next: srv.HTTPClient.Transport}}
	s := newSink(t, srv, testConfig(srv, func(c *Config) { c.Prefix = "refused/" }), sink.Deps{Stream: "0ls1", Signer: kr, HTTPClient: hc})
	var _ sink.DigestReporter = s
	var got []error
	s.ReportDigests(func(err error) { got = append(got, err) })
	write(t, s, records(1, 10))
	if err := s.Close(t.Context()); err == nil || !strings.Contains(err.Error(), "last digest") {
		t.Errorf("close: got %v, want the last digest's error", err)
	}
	if len(got) != 1 || got[0] == nil || !strings.Contains(got[0].Error(), "AccessDenied") {
		t.Fatalf("reported %v, want one AccessDenied", got)
	}
	if n := len(digestKeys(t, srv, "refused/")); n != 0 {
		t.Errorf("got %d digests, want none written", n)
	}
	data := 0
	for _, k := range srv.Keys(t.Context(), bucket, "refused/") {
		if IsData(k) {
			data++
		}
	}
	if data == 0 {
		t.Error("got no data objects, want the events written despite the digests")
	}
}
