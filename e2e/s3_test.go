package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
	"github.com/auditstream/auditstream/internal/wait"
)

const s3Bucket = "e2e-archive"

func s3Settings(srv *s3test.Server, bucket, prefix string) map[string]any {
	return map[string]any{
		"bucket": bucket, "region": s3test.Region, "endpoint": srv.Endpoint, "forcePathStyle": true,
		"prefix": prefix, "credentials": map[string]any{"accessKeyId": s3test.AccessKey, "secretAccessKey": s3test.SecretKey},
		"batch": map[string]any{"maxAge": "1s"},
	}
}

// archived decodes every archive object under prefix and returns the
// event ids in key order, and the keys.
func archived(t *testing.T, srv *s3test.Server, prefix string) (ids, keys []string) {
	t.Helper()
	for _, key := range srv.Keys(t.Context(), s3Bucket, prefix) {
		if strings.Contains(key, archive.VerifyPrefix) {
			continue
		}
		keys = append(keys, key)
		body, _ := srv.Get(t.Context(), s3Bucket, key)
		evs, err := archive.Decode(key, body)
		if err != nil {
			t.Fatalf("decode %s: %v", key, err)
		}
		for _, ev := range evs {
			id := string(ev.Data)
			if i := strings.Index(id, `"uuid":"`); i >= 0 {
				id = id[i+8:]
				id = id[:strings.IndexByte(id, '"')]
			}
			ids = append(ids, id)
		}
	}
	return ids, keys
}

func TestS3ArchiveStreamAndImport(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(s3Bucket)
	dataDir := t.TempDir()
	s := startServer(t, dataDir)

	var out streamObj
	s.mustJSON("POST", "/api/v1/logStreams", map[string]any{
		"type": "s3", "name": "archive", "settings": s3Settings(srv, s3Bucket, "e2e/"),
	}, 200, &out)
	verify := srv.Keys(t.Context(), s3Bucket, "e2e/"+archive.VerifyPrefix)
	if len(verify) != 1 {
		t.Fatalf("verification objects: got %q, want one", verify)
	}
	code, body, _ := s.do("GET", "/api/v1/logStreams/"+out.ID, adminToken, "", nil)
	if code != 200 || strings.Contains(string(body), s3test.SecretKey) {
		t.Errorf("stream view: got %d %s, want 200 without the secret key", code, body)
	}

	before := time.Now().UTC()
	lines, ids := events("s3e2e", 3000, constType("user.session.start"))
	for i := 0; i < len(lines); i += 1000 {
		if code, body := s.ingest(lines[i : i+1000]); code != 202 {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
	}
	var got, keys []string
	wait.Eventually(t, "3000 archived events", func() bool {
		got, keys = archived(t, srv, "e2e/year=")
		return len(got) >= len(ids)
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("archived ids: got %d, want the %d sent, each once", len(got), len(ids))
	}
	for _, k := range keys {
		hour := before.Format("year=2006/month=01/day=02/hour=15/")
		next := before.Add(time.Hour).Format("year=2006/month=01/day=02/hour=15/")
		if !strings.HasPrefix(k, "e2e/"+hour) && !strings.HasPrefix(k, "e2e/"+next) {
			t.Errorf("key %s: want it under e2e/%s", k, hour)
		}
		if !strings.HasSuffix(k, ".jsonl.gz") {
			t.Errorf("key %s: want .jsonl.gz", k)
		}
	}

	// Rehydration: wipe the journal, import the archive, query it back.
	s.stop()
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "import", "s3://"+s3Bucket+"/e2e/", "--data-dir", dataDir,
		"--since", before.Add(-time.Minute).Format(time.RFC3339), "--until", time.Now().Add(time.Minute).UTC().Format(time.RFC3339),
		"--region", s3test.Region, "--endpoint", srv.Endpoint, "--force-path-style")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, outb)
	}
	if !strings.Contains(string(outb), fmt.Sprintf("%d stored", len(ids))) {
		t.Errorf("import output: got %q, want %d stored", outb, len(ids))
	}
	s2 := startServer(t, dataDir)
	for _, id := range []string{ids[0], ids[1500], ids[len(ids)-1]} {
		code, body, _ := s2.do("GET", "/api/v1/logs?limit=10&filter="+queryEscape(`uuid eq "`+id+`"`)+"&since="+before.Add(-time.Hour).Format(time.RFC3339), adminToken, "", nil)
		if code != 200 || !strings.Contains(string(body), id) {
			t.Errorf("query %s after import: got %d %.300s, want the event", id, code, body)
		}
	}
}

func TestS3StreamMissingBucketRefused(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	s := startServer(t, "")
	code, body, _ := s.do("POST", "/api/v1/logStreams", adminToken, "application/json",
		fmt.Appendf(nil, `{"type":"s3","name":"nope","settings":{"bucket":"no-such-bucket","region":%q,"endpoint":%q,"forcePathStyle":true,"credentials":{"accessKeyId":%q,"secretAccessKey":%q}}}`,
			s3test.Region, srv.Endpoint, s3test.AccessKey, s3test.SecretKey))
	if code != 400 || !strings.Contains(string(body), `no such bucket: bucket \"no-such-bucket\" does not exist`) {
		t.Fatalf("create with a missing bucket: got %d %s, want 400 saying no such bucket", code, body)
	}
	var list []streamObj
	s.mustJSON("GET", "/api/v1/logStreams", nil, 200, &list)
	if len(list) != 0 {
		t.Errorf("streams after a refused create: got %d, want 0", len(list))
	}
}

func queryEscape(s string) string {
	r := strings.NewReplacer(" ", "%20", `"`, "%22")
	return r.Replace(s)
}

// TestS3ArchiveThroughput is the end-to-end benchmark of BENCHMARKS.md:
// events in through the ingest API, out as NDJSON gzip objects in
// versitygw. It runs only when AUDITSTREAM_S3_BENCH_EVENTS is set.
func TestS3ArchiveThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AUDITSTREAM_S3_BENCH_EVENTS"))
	if n <= 0 {
		t.Skip("set AUDITSTREAM_S3_BENCH_EVENTS to run the S3 throughput benchmark")
	}
	n = n / 4000 * 4000
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(s3Bucket)
	s := startServer(t, "")
	settings := s3Settings(srv, s3Bucket, "bench/")
	settings["batch"] = map[string]any{"maxAge": "2s"}
	var out streamObj
	s.mustJSON("POST", "/api/v1/logStreams", map[string]any{"type": "s3", "name": "bench", "settings": settings}, 200, &out)

	// Okta-sized events (~1.4 KB): the e2e events padded with a
	// realistic debugContext.
	lines, _ := events("bench", n, constType("user.session.start"))
	pad := `,"debugContext":{"debugData":{"requestId":"ab609228fe84ce59cdcbfa690bcce016","requestUri":"/idp/idx/authenticators/poll","url":"/idp/idx/authenticators/poll","dtHash":"e463841eed07369aeb7ace43a41fcef75ccefa573ced0420039c16b0e3d7cc99"}},"displayMessage":"User login to Okta","legacyEventType":"core.user_auth.login_success","transaction":{"type":"WEB","id":"ab609228fe84ce59cdcbfa690bgce016"},"securityContext":{"asNumber":394089,"asOrg":"ASN 0000","isp":"google","domain":null,"isProxy":false},"client":{"userAgent":{"rawUserAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0.0.0 Safari/537.36","os":"Mac OS X","browser":"CHROME"},"zone":null,"device":"Computer","ipAddress":"10.0.0.1","geographicalContext":{"city":"New York","state":"New York","country":"United States","postalCode":"10013","geolocation":{"lat":40.3157,"lon":-74.01}}}}`
	size := 0
	for i, l := range lines {
		lines[i] = append(l[:len(l)-1], pad...)
		size += len(lines[i])
	}
	began := time.Now()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w * 1000; i < n; i += 4000 {
				code, body := s.ingest(lines[i : i+1000])
				if code != 202 {
					t.Errorf("ingest: got %d %s, want 202", code, body)
					return
				}
			}
		})
	}
	wg.Wait()
	ingested := time.Since(began)
	wait.Eventually(t, "all events archived", func() bool { return s.status(out.ID).Delivered >= uint64(n) }, wait.Within(10*time.Minute), wait.Every(50*time.Millisecond))
	archivedAt := time.Since(began)
	ids, keys := archived(t, srv, "bench/year=")
	ids = slices.DeleteFunc(ids, func(id string) bool { return !strings.HasPrefix(id, "bench-") })
	if len(ids) != n {
		t.Errorf("archived events: got %d, want %d", len(ids), n)
	}
	t.Logf("%d events of %d bytes on average: ingest %.0f events/s (%v); archived %.0f events/s end to end (%v, includes the last batch's maxAge of 2s); %d objects",
		n, size/n, float64(n)/ingested.Seconds(), ingested.Round(time.Millisecond), float64(n)/archivedAt.Seconds(), archivedAt.Round(time.Millisecond), len(keys))

	// The archive's own capacity, without ingest competing for the CPU:
	// a second stream replays the same events from the journal.
	settings["prefix"] = "bench2/"
	var replay streamObj
	s.mustJSON("POST", "/api/v1/logStreams", map[string]any{"type": "s3", "name": "bench-replay", "settings": settings}, 200, &replay)
	replayed := time.Now()
	s.mustJSON("POST", "/api/v1/logStreams/"+replay.ID+"/replay", map[string]any{"since": began.Add(-time.Second).UTC().Format(time.RFC3339Nano)}, 202, nil)
	wait.Eventually(t, "all events replayed", func() bool { return s.status(replay.ID).Delivered >= uint64(n) }, wait.Within(10*time.Minute), wait.Every(50*time.Millisecond))
	took := time.Since(replayed)
	ids2, keys2 := archived(t, srv, "bench2/year=")
	ids2 = slices.DeleteFunc(ids2, func(id string) bool { return !strings.HasPrefix(id, "bench-") }) // not the stream's own audit events
	if len(ids2) != n {
		t.Errorf("replayed archive events: got %d, want %d", len(ids2), n)
	}
	t.Logf("journal to S3 (replay): %.0f events/s (%v); %d objects", float64(n)/took.Seconds(), took.Round(time.Millisecond), len(keys2))
}

// TestS3KillDuringArchiveNoDuplicates kills the server while it archives
// and restarts it: every event ends up archived exactly once.
func TestS3KillDuringArchiveNoDuplicates(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	srv.CreateBucket(s3Bucket)
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	settings := s3Settings(srv, s3Bucket, "kill/")
	settings["batch"] = map[string]any{"maxAge": "1s", "maxEvents": 500}
	s.mustJSON("POST", "/api/v1/logStreams", map[string]any{"type": "s3", "name": "kill", "settings": settings}, 200, nil)
	lines, ids := events("kill", 6000, constType("user.session.start"))
	for i := 0; i < len(lines); i += 1000 {
		if code, body := s.ingest(lines[i : i+1000]); code != 202 {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
	}
	wait.Eventually(t, "some objects", func() bool { _, keys := archived(t, srv, "kill/year="); return len(keys) >= 2 }, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	s.kill()
	startServer(t, dataDir)
	var got []string
	wait.Eventually(t, "all events archived after the restart", func() bool {
		got, _ = archived(t, srv, "kill/year=")
		got = slices.DeleteFunc(got, func(id string) bool { return !strings.HasPrefix(id, "kill-") })
		return len(got) >= len(ids)
	}, wait.Within(60*time.Second), wait.Every(50*time.Millisecond))
	time.Sleep(1500 * time.Millisecond) // a late duplicate would show up by now
	got, _ = archived(t, srv, "kill/year=")
	got = slices.DeleteFunc(got, func(id string) bool { return !strings.HasPrefix(id, "kill-") })
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		_, keys := archived(t, srv, "kill/year=")
		t.Errorf("archived after a kill: got %d events (%d distinct), want %d each once; objects %q", len(got), len(slices.Compact(slices.Clone(got))), len(ids), keys)
	}
}
