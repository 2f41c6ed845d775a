package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/integrity/integritytest"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/filesink"
	"github.com/auditstream/auditstream/internal/sink/s3"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func verifyKeyring(t *testing.T) (*integrity.Keyring, string) {
	t.Helper()
	kr := integritytest.Keyring(t)
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := integrity.WriteKeysFile(file, kr.PublicKeys()); err != nil {
		t.Fatal(err)
	}
	return kr, file
}

func twoPartitions(n int) []event.Record {
	recs := sinktest.Records(n, 50, 200)
	for i := n / 2; i < n; i++ {
		recs[i].Published = recs[i].Published.Add(time.Hour)
	}
	return recs
}

func runVerifyCmd(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), append([]string{"verify"}, args...), strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String() + errOut.String()
}

func TestVerifyS3Command(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket("archive")
	kr, keysFile := verifyKeyring(t)
	s, err := s3.New(s3.Config{
		Config: awsconf.Config{Region: s3test.Region, Endpoint: srv.Endpoint,
			Credentials: awsconf.Credentials{AccessKeyID: s3test.AccessKey, SecretAccessKey: secret.String(s3test.SecretKey)}},
		Bucket: "archive", Prefix: "audit/", ForcePathStyle: true,
	}, sink.Deps{HTTPClient: srv.HTTPClient, Stream: "0ls1", Signer: kr})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sink.Batch{Records: twoPartitions(8)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": s3test.AccessKey, "AWS_SECRET_ACCESS_KEY": s3test.SecretKey, "AUDITSTREAM_TOKEN": "tok"}
	args := []string{"s3", "--bucket", "archive", "--prefix", "audit", "--endpoint", srv.Endpoint, "--region", s3test.Region}

	code, out := runVerifyCmd(t, env, append(args, "--keys", keysFile)...)
	if code != 0 || !strings.Contains(out, "verified 2 objects, 8 events from 2024-08-13T15:58:20Z to 2024-08-13T16:58:20Z") {
		t.Fatalf("clean: got exit %d and\n%s\nwant 0 and the summary", code, out)
	}

	// The keys from the server's URL, with the token.
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "SSWS tok" || r.URL.Path != "/api/v1/integrity/keys" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": kr.PublicKeys()})
	}))
	defer keys.Close()
	if code, out := runVerifyCmd(t, env, append(args, "--keys", keys.URL+"/api/v1/integrity/keys")...); code != 0 {
		t.Fatalf("keys URL: got exit %d and\n%s\nwant 0", code, out)
	}

	// Delete an object: named missing, exit 1.
	var victim string
	for _, k := range srv.Keys(t.Context(), "archive", "audit/") {
		if s3.IsData(k) {
			victim = k
			break
		}
	}
	if _, err := srv.Client().DeleteObject(t.Context(), &s3api.DeleteObjectInput{Bucket: aws.String("archive"), Key: aws.String(victim)}); err != nil {
		t.Fatal(err)
	}
	code, out = runVerifyCmd(t, env, append(args, "--keys", keysFile)...)
	if code != 1 || !strings.Contains(out, "FAIL  missing object: "+victim) {
		t.Fatalf("deleted: got exit %d and\n%s\nwant 1 and %s named missing", code, out, victim)
	}
}

func TestVerifyDirCommand(t *testing.T) {
	kr, keysFile := verifyKeyring(t)
	dir := t.TempDir()
	s, err := filesink.New(filesink.Config{Dir: dir, MaxBytes: 1024}, sink.Deps{Stream: "0ls2", Signer: kr})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sink.Batch{Records: sinktest.Records(12, 100, 300)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, out := runVerifyCmd(t, nil, "dir", dir, "--keys", keysFile)
	if code != 0 || !strings.Contains(out, "12 events") {
		t.Fatalf("clean: got exit %d and\n%s\nwant 0 and 12 events verified", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	b, _ := os.ReadFile(files[0])
	b[10] ^= 1
	if err := os.WriteFile(files[0], b, 0o640); err != nil {
		t.Fatal(err)
	}
	code, out = runVerifyCmd(t, nil, "dir", dir, "--keys", keysFile)
	if code != 1 || !strings.Contains(out, "FAIL  modified object: "+filepath.Base(files[0])) {
		t.Fatalf("modified: got exit %d and\n%s\nwant 1 and %s named modified", code, out, filepath.Base(files[0]))
	}

	// --json: the same report for tools.
	code, out = runVerifyCmd(t, nil, "dir", dir, "--keys", keysFile, "--json")
	var rep struct {
		OK       bool `json:"ok"`
		Failures []struct {
			Kind, Key string
		} `json:"failures"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || len(rep.Failures) != 1 || rep.Failures[0].Kind != "modified object" || rep.Failures[0].Key != filepath.Base(files[0]) {
		t.Fatalf("--json: got exit %d, %+v (%v) from\n%s\nwant 1 and the modified file", code, rep, err, out)
	}

	// A forged keys file (another key of the same id) refuses every digest.
	_, otherKeys := verifyKeyring(t)
	code, out = runVerifyCmd(t, nil, "dir", dir, "--keys", otherKeys)
	if code != 1 || !strings.Contains(out, "bad digest") {
		t.Fatalf("other key: got exit %d and\n%s\nwant 1 and bad digests", code, out)
	}
}

func TestVerifyUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "verify s3"},
		{[]string{"--help"}, 0, "verify dir"},
		{[]string{"s3", "--help"}, 0, "usage: auditstream verify s3"},
		{[]string{"tape"}, 2, "verify s3"},
		{[]string{"s3", "--bucket", "b"}, 2, "--keys is required"},
		{[]string{"s3", "--keys", "k.json"}, 2, "want --bucket"},
		{[]string{"dir", "--keys", "k.json"}, 2, "want one directory"},
		{[]string{"dir", "/tmp", "--keys", "/nonexistent/keys.json"}, 2, "--keys"},
	}
	for _, tt := range tests {
		code, out := runVerifyCmd(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("%v: got exit %d and %q, want %d and %q", tt.args, code, out, tt.code, tt.want)
		}
	}
}
