package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// jobServer serves the detections routes (as apiServer) with backtest jobs
// configured by cfg on node "a"; slow, when set, wraps each job's run (to
// make it last). The jobs are closed at the end of the test.
func jobServer(t *testing.T, j *journal.Journal, cfg BacktestJobsConfig, slow func(BacktestFunc) BacktestFunc) *httptest.Server {
	t.Helper()
	// Not t.Context(): it ends before the cleanups, and Close records the
	// jobs it stops.
	return jobNode(t, context.WithoutCancel(t.Context()), j, "a", cfg, slow)
}

// jobNode is jobServer for node on j, its job state written as long as
// ctx lives (ending ctx kills the node's job runner). Progress is written
// every 50 ms unless cfg says otherwise; a job is presumed dead after 30 s
// without an update unless cfg says otherwise.
func jobNode(t *testing.T, ctx context.Context, j *journal.Journal, node string, cfg BacktestJobsConfig, slow func(BacktestFunc) BacktestFunc) *httptest.Server {
	t.Helper()
	rules, err := OpenRules(t.Context(), RulesConfig{Routes: DefaultRoutes(), Packs: []*Pack{nativePack(t)}, KV: journaltest.KV(t, j, BucketRules)})
	if err != nil {
		t.Fatal(err)
	}
	a := &API{Rules: rules, Store: NewStore(journaltest.KV(t, j, BucketDetections)), Journal: j, DefaultOrg: "default",
		Log: slog.New(slog.DiscardHandler)}
	run := a.RunBacktest
	if slow != nil {
		run = slow(run)
	}
	if cfg.Interval == 0 {
		cfg.Interval = 50 * time.Millisecond
	}
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = 30 * time.Second
	}
	kv, err := j.KVWithTTL(t.Context(), BucketBacktests, DefaultBacktestKeep)
	if err != nil {
		t.Fatal(err)
	}
	a.Backtests = NewBacktestJobs(ctx, cfg, BacktestJobsDeps{Run: run, KV: kv, Node: node, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(a.Backtests.Close)
	return serveAPI(t, a, auth.ScopeReadDetections)
}

func decodeJob(t *testing.T, body string) BacktestJob {
	t.Helper()
	var job BacktestJob
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return job
}

// waitJob polls GET /backtests/{id} until the job is no longer running.
func waitJob(t *testing.T, srv *httptest.Server, org, id string) BacktestJob {
	t.Helper()
	var job BacktestJob
	wait.Eventually(t, "backtest "+id+" ended", func() bool {
		code, body := do(t, srv, org, "GET", "/api/v1/detections/backtests/"+id, "")
		if code != http.StatusOK {
			t.Fatalf("get job: got %d %s", code, body)
		}
		job = decodeJob(t, body)
		return job.Status != JobRunning
	}, wait.Within(15*time.Second))
	return job
}

// A backtest job through the HTTP handler: POST starts it (202 with the
// job), GET shows its progress and then its result; the journal is
// unchanged; another org sees neither the job nor its result.
func TestBacktestJobThroughAPI(t *testing.T) {
	j := journaltest.Open(t)
	appendAll(t, j, failures("acme", "00uJANE", 6, t0, "a"))
	appendAll(t, j, failures("other", "00uJANE", 6, t0, "b"))
	appendAll(t, j, failures("acme", "00uBOB", 2, t0.Add(time.Hour), "c"))
	before := len(journaltest.Records(t, j))
	srv := jobServer(t, j, BacktestJobsConfig{}, nil)

	code, body := do(t, srv, "acme", "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`)
	if code != http.StatusAccepted {
		t.Fatalf("start: got %d %s, want 202", code, body)
	}
	job := decodeJob(t, body)
	if job.ID == "" || job.Rule != bruteForceID {
		t.Fatalf("start: got %+v, want a job of the rule", job)
	}
	job = waitJob(t, srv, "acme", job.ID)
	if job.Status != JobSucceeded || job.Result == nil || job.Result.Count != 1 || len(job.Result.Detections) != 1 {
		t.Fatalf("got %+v, want SUCCEEDED with 1 detection", job)
	}
	if job.Progress.Scanned != 8 || job.Progress.Events != 8 || job.Progress.Matches != 1 || job.Progress.Position == 0 || job.Finished.IsZero() {
		t.Errorf("progress: got %+v, want 8 scanned, 8 in range, 1 match, a position", job.Progress)
	}
	// The range read: acme's first message to the partition's last.
	last, err := j.LastSeqOf(t.Context(), "acme")
	if p := job.Progress; err != nil || p.First == 0 || p.Last < p.Position || p.Position < p.First || p.Last != last {
		t.Errorf("range: got first %d, position %d, last %d, want first ≤ position ≤ last = %d (%v)", p.First, p.Position, p.Last, last, err)
	}
	if d := job.Result.Detections[0]; d.Org != "acme" {
		t.Errorf("detection of org %s, want acme", d.Org)
	}
	// Org scope: the other org neither gets, lists nor cancels the job.
	if code, body := do(t, srv, "other", "GET", "/api/v1/detections/backtests/"+job.ID, ""); code != http.StatusNotFound || !strings.Contains(body, `"errorCode":"E0000007"`) {
		t.Errorf("another org's job: got %d %s, want 404 E0000007", code, body)
	}
	if code, _ := do(t, srv, "other", "POST", "/api/v1/detections/backtests/"+job.ID+"/cancel", ""); code != http.StatusNotFound {
		t.Errorf("another org cancelling: got %d, want 404", code)
	}
	if code, body := do(t, srv, "other", "GET", "/api/v1/detections/backtests", ""); code != http.StatusOK || body != "[]\n" && body != "[]" {
		t.Errorf("another org's list: got %d %q, want 200 []", code, body)
	}
	code, body = do(t, srv, "acme", "GET", "/api/v1/detections/backtests", "")
	var list []BacktestJob
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK || len(list) != 1 || list[0].ID != job.ID || list[0].Result.Count != 1 {
		t.Errorf("list: got %d %s, want the one job", code, body)
	}
	// The synchronous endpoint runs the same way and answers the result.
	code, body = do(t, srv, "acme", "POST", "/api/v1/detections/backtest", `{"pack":"native","since":"`+t0.Add(30*time.Minute).Format(time.RFC3339)+`"}`)
	var res BacktestResult
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != http.StatusOK || res.Count != 0 || res.Events != 2 || res.Scanned != 8 {
		t.Errorf("sync backtest: got %d %s, want 200, 0 detections of 2 events in range, 8 scanned", code, body)
	}
	// Bad input: 400 with Okta's body, no job.
	if code, body := do(t, srv, "acme", "POST", "/api/v1/detections/backtests", `{"rule":"nope"}`); code != http.StatusBadRequest || !strings.Contains(body, "no rule") {
		t.Errorf("bad rule: got %d %s, want 400", code, body)
	}
	if after := len(journaltest.Records(t, j)); after != before {
		t.Errorf("journal: got %d events, want %d (a backtest raises nothing)", after, before)
	}
}

// blockAfterFirst makes a job's run stop after the first journal message
// it scanned, until its context ends (a long backtest).
func blockAfterFirst(run BacktestFunc) BacktestFunc {
	return func(ctx context.Context, req BacktestRequest) (BacktestResult, error) {
		report := req.Progress
		req.Progress = func(p BacktestProgress) {
			report(p)
			<-ctx.Done()
		}
		return run(ctx, req)
	}
}

// Limits: at most PerOrg running jobs per org (429 with Okta's body; other
// orgs unaffected); a job can be cancelled (partial result, "cancelled");
// a job is stopped at its timeout and at its event limit.
func TestBacktestJobLimits(t *testing.T) {
	j := journaltest.Open(t)
	for i := range 3 {
		appendAll(t, j, failures("acme", "00uJANE", 6, t0.Add(time.Duration(i)*time.Hour), fmt.Sprintf("a%d", i)))
	}
	appendAll(t, j, failures("other", "00uJANE", 6, t0, "b"))
	start := func(srv *httptest.Server, org string) (int, BacktestJob, string) {
		code, body := do(t, srv, org, "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`)
		var job BacktestJob
		if code == http.StatusAccepted {
			job = decodeJob(t, body)
		}
		return code, job, body
	}

	t.Run("concurrency and cancel", func(t *testing.T) {
		srv := jobServer(t, j, BacktestJobsConfig{PerOrg: 2, Timeout: time.Minute}, blockAfterFirst)
		_, first, _ := start(srv, "acme")
		if _, second, _ := start(srv, "acme"); second.ID == "" || first.ID == "" {
			t.Fatalf("two jobs: got %q %q, want both started", first.ID, second.ID)
		}
		code, _, body := start(srv, "acme")
		if code != http.StatusTooManyRequests || !strings.Contains(body, `"errorCode":"E0000047"`) || !strings.Contains(body, "at most 2 backtests") {
			t.Fatalf("third job: got %d %s, want 429 E0000047", code, body)
		}
		if code, _, _ := start(srv, "other"); code != http.StatusAccepted {
			t.Errorf("another org's job: got %d, want 202 (the limit is per org)", code)
		}
		// Progress of a running job: it scanned the first message.
		wait.Eventually(t, "progress of the running job", func() bool {
			_, body := do(t, srv, "acme", "GET", "/api/v1/detections/backtests/"+first.ID, "")
			p := decodeJob(t, body)
			return p.Status == JobRunning && p.Progress.Scanned == 6 && p.Progress.Position > 0
		}, wait.Within(10*time.Second))
		code, body = do(t, srv, "acme", "POST", "/api/v1/detections/backtests/"+first.ID+"/cancel", "")
		job := decodeJob(t, body)
		if code != http.StatusOK || job.Status != JobStopped || job.Result == nil || job.Result.Stopped != "cancelled" || job.Result.Scanned != 6 {
			t.Fatalf("cancel: got %d %s, want 200 STOPPED cancelled with 6 scanned", code, body)
		}
		if code, _, body := start(srv, "acme"); code != http.StatusAccepted {
			t.Errorf("after a cancel: got %d %s, want 202", code, body)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := jobServer(t, j, BacktestJobsConfig{Timeout: 300 * time.Millisecond}, blockAfterFirst)
		_, job, body := start(srv, "acme")
		if job.ID == "" {
			t.Fatalf("start: %s", body)
		}
		job = waitJob(t, srv, "acme", job.ID)
		if job.Status != JobStopped || job.Result == nil || job.Result.Stopped != "timeout" {
			t.Fatalf("got %+v, want STOPPED by the timeout", job)
		}
	})
	t.Run("event limit", func(t *testing.T) {
		srv := jobServer(t, j, BacktestJobsConfig{MaxEvents: 10}, nil)
		_, job, body := start(srv, "acme")
		if job.ID == "" {
			t.Fatalf("start: %s", body)
		}
		job = waitJob(t, srv, "acme", job.ID)
		if job.Status != JobStopped || job.Result == nil || job.Result.Stopped != "event limit" || job.Result.Scanned != 10 || job.Result.Count != 1 {
			t.Fatalf("got %+v, want STOPPED at the event limit after 10 events, 1 detection so far", job)
		}
		// The synchronous endpoint is bounded the same way.
		code, body := do(t, srv, "acme", "POST", "/api/v1/detections/backtest", `{"rule":"`+bruteForceID+`"}`)
		if code != http.StatusOK || !strings.Contains(body, `"stopped":"event limit"`) {
			t.Errorf("sync: got %d %s, want 200 stopped at the event limit", code, body)
		}
	})
}

// getJob answers GET /backtests/{id} on srv, failing the test unless 200.
func getJob(t *testing.T, srv *httptest.Server, org, id string) BacktestJob {
	t.Helper()
	code, body := do(t, srv, org, "GET", "/api/v1/detections/backtests/"+id, "")
	if code != http.StatusOK {
		t.Fatalf("get job %s: got %d %s, want 200", id, code, body)
	}
	return decodeJob(t, body)
}

// Two nodes on one journal: a job started on A is read, listed and
// cancelled from B (and stays hidden from another org on B); a job run on
// B is read with its result from A.
func TestBacktestJobAcrossNodes(t *testing.T) {
	j := journaltest.Open(t)
	for i := range 2 {
		appendAll(t, j, failures("acme", "00uJANE", 6, t0.Add(time.Duration(i)*time.Hour), fmt.Sprintf("a%d", i)))
	}
	nodeA := jobServer(t, j, BacktestJobsConfig{}, blockAfterFirst)
	nodeB := jobNode(t, context.WithoutCancel(t.Context()), j, "b", BacktestJobsConfig{}, nil)

	job := startBruteForce(t, nodeA)
	wait.Eventually(t, "B sees A's job's progress", func() bool {
		p := getJob(t, nodeB, "acme", job.ID)
		return p.Status == JobRunning && p.Node == "a" && p.Progress.Scanned == 6 && p.Progress.Position > 0
	}, wait.Within(10*time.Second))
	code, body := do(t, nodeB, "acme", "GET", "/api/v1/detections/backtests", "")
	var list []BacktestJob
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK || len(list) != 1 || list[0].ID != job.ID {
		t.Fatalf("list on B: got %d %s, want A's job", code, body)
	}
	if code, _ := do(t, nodeB, "other", "GET", "/api/v1/detections/backtests/"+job.ID, ""); code != http.StatusNotFound {
		t.Errorf("another org on B: got %d, want 404", code)
	}
	if code, _ := do(t, nodeB, "other", "POST", "/api/v1/detections/backtests/"+job.ID+"/cancel", ""); code != http.StatusNotFound {
		t.Errorf("another org cancelling on B: got %d, want 404", code)
	}
	if got := getJob(t, nodeA, "acme", job.ID); got.Status != JobRunning {
		t.Fatalf("after another org's cancel: got %s, want RUNNING", got.Status)
	}
	code, body = do(t, nodeB, "acme", "POST", "/api/v1/detections/backtests/"+job.ID+"/cancel", "")
	got := decodeJob(t, body)
	if code != http.StatusOK || got.Status != JobStopped || got.Result == nil || got.Result.Stopped != "cancelled" || got.Result.Scanned != 6 {
		t.Fatalf("cancel on B: got %d %s, want 200 STOPPED cancelled with 6 scanned", code, body)
	}
	if got := getJob(t, nodeA, "acme", job.ID); got.Status != JobStopped || got.Result == nil || got.Result.Stopped != "cancelled" {
		t.Errorf("A after B's cancel: got %+v, want STOPPED cancelled", got)
	}

	// A job run on B, read with its detections on A.
	done := waitJob(t, nodeA, "acme", startBruteForce(t, nodeB).ID)
	if done.Status != JobSucceeded || done.Node != "b" || done.Result == nil || done.Result.Count != 2 || len(done.Result.Detections) != 2 {
		t.Fatalf("B's job read on A: got %+v, want SUCCEEDED on b with 2 detections", done)
	}
}

// The per-org limit counts the jobs of every node.
func TestBacktestJobLimitsAcrossNodes(t *testing.T) {
	j := journaltest.Open(t)
	appendAll(t, j, failures("acme", "00uJANE", 6, t0, "a"))
	appendAll(t, j, failures("other", "00uJANE", 6, t0, "b"))
	cfg := BacktestJobsConfig{PerOrg: 2, Timeout: time.Minute}
	nodeA := jobServer(t, j, cfg, blockAfterFirst)
	nodeB := jobNode(t, context.WithoutCancel(t.Context()), j, "b", cfg, blockAfterFirst)
	start := func(srv *httptest.Server, org string) (int, string) {
		code, body := do(t, srv, org, "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`)
		return code, body
	}
	code, body := start(nodeA, "acme")
	if code != http.StatusAccepted {
		t.Fatalf("first on A: got %d %s", code, body)
	}
	first := decodeJob(t, body)
	if code, body := start(nodeB, "acme"); code != http.StatusAccepted {
		t.Fatalf("second on B: got %d %s", code, body)
	}
	for name, srv := range map[string]*httptest.Server{"A": nodeA, "B": nodeB} {
		if code, body := start(srv, "acme"); code != http.StatusTooManyRequests || !strings.Contains(body, "at most 2 backtests") {
			t.Errorf("third on %s: got %d %s, want 429 (2 run in the cluster)", name, code, body)
		}
	}
	if code, body := start(nodeB, "other"); code != http.StatusAccepted {
		t.Errorf("another org on B: got %d %s, want 202", code, body)
	}
	if code, body := do(t, nodeB, "acme", "POST", "/api/v1/detections/backtests/"+first.ID+"/cancel", ""); code != http.StatusOK || decodeJob(t, body).Status != JobStopped {
		t.Fatalf("cancel A's job on B: got %d %s", code, body)
	}
	if code, body := start(nodeB, "acme"); code != http.StatusAccepted {
		t.Errorf("after the cancel, on B: got %d %s, want 202", code, body)
	}
}

// A node that dies mid-job (its runner's context ends: it writes nothing
// more) has its job reported FAILED by the other node once no update came
// for StaleAfter, and the job no longer counts towards the org's limit.
func TestBacktestJobNodeDies(t *testing.T) {
	j := journaltest.Open(t)
	appendAll(t, j, failures("acme", "00uJANE", 6, t0, "a"))
	cfg := BacktestJobsConfig{PerOrg: 1, Timeout: time.Minute, StaleAfter: 500 * time.Millisecond}
	life, kill := context.WithCancel(context.WithoutCancel(t.Context()))
	defer kill()
	nodeA := jobNode(t, life, j, "a", cfg, blockAfterFirst)
	nodeB := jobNode(t, context.WithoutCancel(t.Context()), j, "b", cfg, blockAfterFirst)

	job := startBruteForce(t, nodeA)
	wait.Eventually(t, "A's job running with progress", func() bool {
		p := getJob(t, nodeB, "acme", job.ID)
		return p.Status == JobRunning && p.Progress.Scanned == 6
	}, wait.Within(10*time.Second))
	if code, body := do(t, nodeB, "acme", "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`); code != http.StatusTooManyRequests {
		t.Fatalf("second while A runs one: got %d %s, want 429", code, body)
	}
	kill()
	got := waitJob(t, nodeB, "acme", job.ID)
	if got.Status != JobFailed || !strings.Contains(got.Error, `node "a"`) || !strings.Contains(got.Error, "presumed gone") || got.Finished.IsZero() {
		t.Fatalf("after A died: got %+v, want FAILED naming node a", got)
	}
	if code, body := do(t, nodeB, "acme", "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`); code != http.StatusAccepted {
		t.Errorf("start on B after A died: got %d %s, want 202 (the dead job's slot is free)", code, body)
	}
}

// A result larger than one KV entry is stored in chunks and read back
// whole; ended jobs beyond KeepPerOrg or older than Keep are forgotten
// (with their chunks), running ones and other orgs' are kept.
func TestBacktestJobStore(t *testing.T) {
	j := journaltest.Open(t)
	kv, err := j.KVWithTTL(t.Context(), BucketBacktests, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBacktestJobs(context.WithoutCancel(t.Context()), BacktestJobsConfig{KeepPerOrg: 2, Keep: time.Hour}, BacktestJobsDeps{KV: kv})
	defer b.Close()
	ctx := t.Context()
	ended := func(org, id string, finished time.Time, ds []Detection) {
		t.Helper()
		chunks, err := b.writeChunks(ctx, org, id, ds)
		if err != nil {
			t.Fatal(err)
		}
		res := BacktestResult{Count: len(ds)}
		rec := jobRecord{Org: org, Chunks: chunks, Job: BacktestJob{ID: id, Status: JobSucceeded, Created: finished, Finished: finished, Result: &res}}
		if _, err := b.put(ctx, rec, 0); err != nil {
			t.Fatal(err)
		}
	}
	ds := make([]Detection, MaxBacktestResults)
	for i := range ds {
		ds[i] = Detection{ID: fmt.Sprintf("d%04d", i), Org: "acme", Rule: "r", Events: []string{strings.Repeat("e", 600)}}
	}
	now := time.Now().UTC()
	ended("acme", "big", now, ds)
	got, err := b.Get(ctx, "acme", "big")
	if err != nil || len(got.Result.Detections) != len(ds) || got.Result.Detections[999].ID != "d0999" {
		t.Fatalf("big result: got %v, %v, want %d detections in order", err, got.Result, len(ds))
	}
	if e, err := kv.Get(ctx, resultKey("acme", "big", 2)); err != nil || len(e.Value()) > resultChunkBytes+1024 {
		t.Fatalf("chunks: got %v, want at least 3 chunks of at most %d bytes", err, resultChunkBytes)
	}

	ended("acme", "old", now.Add(-2*time.Hour), ds[:1])
	ended("acme", "mid", now.Add(-time.Minute), ds[:1])
	ended("acme", "new", now.Add(-time.Second), ds[:1])
	ended("other", "theirs", now.Add(-time.Minute), nil)
	if _, err := b.put(ctx, jobRecord{Org: "acme", Job: BacktestJob{ID: "running", Status: JobRunning, Created: now.Add(-3 * time.Hour)}}, 0); err != nil {
		t.Fatal(err)
	}
	list, err := b.List(ctx, "acme")
	var ids []string
	for _, j := range list {
		ids = append(ids, j.ID)
		if j.Result != nil && j.Result.Detections != nil {
			t.Errorf("list: job %s carries its detections", j.ID)
		}
	}
	if err != nil || strings.Join(ids, ",") != "big,new,running" {
		t.Errorf("after pruning: got %v (%v), want big,new,running (old past Keep, mid beyond KeepPerOrg)", ids, err)
	}
	if _, err := kv.Get(ctx, resultKey("acme", "mid", 0)); err == nil {
		t.Errorf("the forgotten job's result chunk is still stored")
	}
	if _, err := b.Get(ctx, "other", "theirs"); err != nil {
		t.Errorf("another org's job: got %v, want kept", err)
	}
	if _, err := b.Get(ctx, "other", "big"); !errors.Is(err, ErrBacktestNotFound) {
		t.Errorf("acme's job as other: got %v, want ErrBacktestNotFound", err)
	}
}

// The same on a three-server NATS cluster with replicated buckets: node A
// connected to one server, node B to another; B reads A's job's progress,
// cancels it, and the per-org limit holds across them.
func TestBacktestJobOnNATSCluster(t *testing.T) {
	srvs := journaltest.StartNATSCluster(t)
	ja := journaltest.OpenWith(t, journal.Options{URL: srvs[0].ClientURL(), Replicas: 3})
	jb := journaltest.OpenWith(t, journal.Options{URL: srvs[1].ClientURL(), Replicas: 3})
	appendAll(t, ja, failures("acme", "00uJANE", 6, t0, "a"))
	cfg := BacktestJobsConfig{PerOrg: 1, Timeout: time.Minute}
	nodeA := jobNode(t, context.WithoutCancel(t.Context()), ja, "a", cfg, blockAfterFirst)
	nodeB := jobNode(t, context.WithoutCancel(t.Context()), jb, "b", cfg, blockAfterFirst)

	job := startBruteForce(t, nodeA)
	wait.Eventually(t, "B sees A's job's progress", func() bool {
		p := getJob(t, nodeB, "acme", job.ID)
		return p.Status == JobRunning && p.Node == "a" && p.Progress.Scanned == 6
	}, wait.Within(15*time.Second))
	if code, body := do(t, nodeB, "acme", "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`); code != http.StatusTooManyRequests {
		t.Errorf("a second job on B: got %d %s, want 429 (one per org in the cluster)", code, body)
	}
	code, body := do(t, nodeB, "acme", "POST", "/api/v1/detections/backtests/"+job.ID+"/cancel", "")
	if got := decodeJob(t, body); code != http.StatusOK || got.Status != JobStopped || got.Result == nil || got.Result.Stopped != "cancelled" {
		t.Fatalf("cancel on B: got %d %s, want 200 STOPPED cancelled", code, body)
	}
	if code, body := do(t, nodeB, "acme", "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`); code != http.StatusAccepted {
		t.Errorf("a job on B after the cancel: got %d %s, want 202", code, body)
	}
}

// startBruteForce starts a backtest of the brute force rule for acme on
// node and returns the job its 202 answers.
func startBruteForce(t *testing.T, node *httptest.Server) BacktestJob {
	t.Helper()
	code, body := do(t, node, "acme", "POST", "/api/v1/detections/backtests", `{"rule":"`+bruteForceID+`"}`)
	if code != http.StatusAccepted {
		t.Fatalf("start on %s: got %d %s, want 202", node.URL, code, body)
	}
	return decodeJob(t, body)
}
