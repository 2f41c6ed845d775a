package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/sink/s3"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestS3ArchiveVerify: serve archives to versitygw with digests, `verify
// s3` verifies the prefix, a flipped byte in one object is then named.
func TestS3ArchiveVerify(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(s3Bucket)
	dataDir := t.TempDir()
	s := startServer(t, dataDir)

	settings := s3Settings(srv, s3Bucket, "proof/")
	settings["digests"] = map[string]any{"interval": "1s"}
	var out streamObj
	s.mustJSON("POST", "/api/v1/logStreams", map[string]any{"type": "s3", "name": "proof", "settings": settings}, 200, &out)
	lines, ids := events("digeste2e", 500, constType("user.session.start"))
	if code, body := s.ingest(lines); code != 202 {
		t.Fatalf("ingest: got %d %s, want 202", code, body)
	}
	wait.Eventually(t, "500 archived events", func() bool {
		got, _ := archived(t, srv, "proof/year=")
		return len(got) >= len(ids)
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))

	verifyWith := func(keys string) (int, string) {
		cmd := exec.Command(binary, "verify", "s3", "--bucket", s3Bucket, "--prefix", "proof/", "--keys", keys,
			"--endpoint", srv.Endpoint, "--region", s3test.Region)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey,
			"AUDITSTREAM_TOKEN="+adminToken)
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(b)
	}
	// While serve runs: the keys from its API, the digests its timer wrote.
	keysURL := s.url("/api/v1/integrity/keys")
	wait.Eventually(t, "verify s3 with the server's keys to verify all 500 events", func() bool {
		code, outp := verifyWith(keysURL)
		return code == 0 && verifiedEvents(outp) >= len(ids)
	}, wait.Within(30*time.Second), wait.Every(500*time.Millisecond))
	_, keysBody, _ := s.do("GET", "/api/v1/integrity/keys", adminToken, "", nil)
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, keysBody, 0o600); err != nil {
		t.Fatal(err)
	}
	s.stop() // the last digest is written at the stream's close
	verify := func() (int, string) { return verifyWith(keys) }
	code, outp := verify()
	if code != 0 || verifiedEvents(outp) < len(ids) || strings.Contains(outp, "WARN") || strings.Contains(outp, "INFO") {
		t.Fatalf("verify: got exit %d\n%s\nwant 0 and 500 events verified", code, outp)
	}

	var victim string
	for _, k := range srv.Keys(t.Context(), s3Bucket, "proof/") {
		if s3.IsData(k) {
			victim = k
		}
	}
	body, _ := srv.Get(t.Context(), s3Bucket, victim)
	body[len(body)/2] ^= 0x20
	if _, err := srv.Client().PutObject(t.Context(), &s3api.PutObjectInput{Bucket: aws.String(s3Bucket), Key: aws.String(victim), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	code, outp = verify()
	if code != 1 || !strings.Contains(outp, "FAIL  modified object: "+victim) {
		t.Fatalf("verify after tampering: got exit %d\n%s\nwant 1 naming %s", code, outp, victim)
	}
}

// verifiedEvents reads M out of verify's "verified N objects, M events"
// (the stream may also archive the journal's own digest events).
func verifiedEvents(out string) int {
	m := regexp.MustCompile(`verified \d+ objects, (\d+) events`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
