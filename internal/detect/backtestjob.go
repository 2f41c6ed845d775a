package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// BucketBacktests holds backtest jobs, shared by every node: each job's
// record (job.<org>.<id>), its result's detections in chunks
// (res.<org>.<id>.<n>), cancel requests (cancel.<org>.<id>) and the per-org
// running slots (slot.<org>.<n>).
const BucketBacktests = "auditstream_backtests"

// Backtest job defaults, each with its reason.
const (
	// DefaultBacktestTimeout bounds one backtest: reading a large journal
	// takes minutes, not hours.
	DefaultBacktestTimeout = 10 * time.Minute
	// DefaultBacktestMaxEvents bounds the events one backtest scans (at the
	// engine's speed, well within the timeout).
	DefaultBacktestMaxEvents = 50_000_000
	// DefaultBacktestsPerOrg is how many backtests of one org run at once
	// in the cluster: a tenant cannot occupy every core.
	DefaultBacktestsPerOrg = 2
	// DefaultBacktestKeep is how long an ended job is kept for GET: a day,
	// so a result can be read the next morning.
	DefaultBacktestKeep = 24 * time.Hour
	// DefaultBacktestKeepPerOrg bounds the ended jobs kept per org (a
	// result holds up to MaxBacktestResults detections).
	DefaultBacktestKeepPerOrg = 20
	// DefaultBacktestInterval is how often a running job's progress is
	// written and its cancel request looked for: the console polls every
	// second.
	DefaultBacktestInterval = time.Second
	// backtestStaleIntervals is how many intervals without an update make
	// a running job's node presumed dead.
	backtestStaleIntervals = 3
	// resultChunkBytes bounds one chunk of a result's detections (well
	// under NATS's default 1 MB message limit).
	resultChunkBytes = 256 << 10
)

// Backtest job states.
const (
	JobRunning   = "RUNNING"
	JobSucceeded = "SUCCEEDED"
	// JobStopped: the job ended early (timeout, event limit, cancelled);
	// its result is what it found so far and says why (Stopped).
	JobStopped = "STOPPED"
	JobFailed  = "FAILED"
)

// BacktestJobsConfig is what an operator sets for backtest jobs.
type BacktestJobsConfig struct {
	// Timeout bounds one job (0: DefaultBacktestTimeout).
	Timeout time.Duration
	// MaxEvents bounds the events one job scans (0: DefaultBacktestMaxEvents).
	MaxEvents uint64
	// PerOrg bounds the jobs of one org running at once in the cluster (0:
	// DefaultBacktestsPerOrg). Every node should set the same.
	PerOrg int
	// Keep is how long an ended job is kept (0: DefaultBacktestKeep).
	Keep time.Duration
	// KeepPerOrg bounds the ended jobs kept per org (0:
	// DefaultBacktestKeepPerOrg).
	KeepPerOrg int
	// Interval is how often a running job's progress is written and its
	// cancel request looked for (0: DefaultBacktestInterval).
	Interval time.Duration
	// StaleAfter is how long a running job may go without an update before
	// it is reported FAILED, its node presumed dead (0: 3 × Interval).
	StaleAfter time.Duration
}

// BacktestJobsDeps is what the job runner is handed.
type BacktestJobsDeps struct {
	// Run runs one backtest.
	Run BacktestFunc
	// KV is BucketBacktests (journal.KVWithTTL with Keep + Timeout).
	KV jetstream.KeyValue
	// Node names this node in the jobs it runs.
	Node string
	// Log reports failed writes of job state; nil discards.
	Log *slog.Logger
}

// BacktestFunc runs one backtest (Backtest with the journal, rules and
// engine settings bound).
type BacktestFunc func(ctx context.Context, req BacktestRequest) (BacktestResult, error)

// BacktestJob is one backtest run in the background, as the API shows it.
type BacktestJob struct {
	ID       string           `json:"id"`
	Status   string           `json:"status"`
	Rule     string           `json:"rule,omitempty"`
	Pack     string           `json:"pack,omitempty"`
	Since    time.Time        `json:"since,omitzero"`
	Until    time.Time        `json:"until,omitzero"`
	Created  time.Time        `json:"created"`
	Finished time.Time        `json:"finished,omitzero"`
	Progress BacktestProgress `json:"progress"`
	// Node is the node that runs (ran) the job.
	Node string `json:"node,omitempty"`
	// Result is set once the job ended (also when stopped early).
	Result *BacktestResult `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// jobRecord is a job as stored in BucketBacktests. The result's detections
// are stored apart, in Chunks chunk entries.
type jobRecord struct {
	Org    string      `json:"org"`
	Chunks int         `json:"chunks,omitempty"`
	Job    BacktestJob `json:"job"`
}

// localJob is a job this node runs.
type localJob struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// Causes of a job stopped early.
var (
	errJobCancelled = errors.New("cancelled")
	errJobTimeout   = errors.New("timeout")
	errJobShutdown  = errors.New("cancelled: the server is stopping")
	errJobLost      = errors.New("another node reported the job failed")
)

// ErrTooManyBacktests is returned by Start when the org already runs
// BacktestJobsConfig.PerOrg jobs in the cluster.
var ErrTooManyBacktests = errors.New("too many backtests running for the org")

// ErrBacktestNotFound is returned for a job the org does not have.
var ErrBacktestNotFound = errors.New("no such backtest")

// BacktestJobs runs backtests in the background, bounded by a timeout, an
// event limit and a number per org in the cluster, and keeps each job's
// progress and result in BucketBacktests, so that every node reads and
// cancels every job. The node that runs a job writes its progress every
// Interval; a running job not updated for StaleAfter (its node died) is
// reported FAILED.
type BacktestJobs struct {
	cfg   BacktestJobsConfig
	deps  BacktestJobsDeps
	kv    jetstream.KeyValue
	log   *slog.Logger
	mu    sync.Mutex
	local map[string]*localJob
	wg    sync.WaitGroup
	// base bounds every write of job state: when it ends without Close
	// (the process dies), jobs end unrecorded and other nodes report them
	// FAILED. jobs is the parent of the running jobs.
	base context.Context
	jobs context.Context
	stop context.CancelCauseFunc
}

// NewBacktestJobs prepares a job runner whose writes last as long as ctx;
// Close stops its jobs and records them stopped.
func NewBacktestJobs(ctx context.Context, cfg BacktestJobsConfig, deps BacktestJobsDeps) *BacktestJobs {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultBacktestTimeout
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = DefaultBacktestMaxEvents
	}
	if cfg.PerOrg <= 0 {
		cfg.PerOrg = DefaultBacktestsPerOrg
	}
	if cfg.Keep <= 0 {
		cfg.Keep = DefaultBacktestKeep
	}
	if cfg.KeepPerOrg <= 0 {
		cfg.KeepPerOrg = DefaultBacktestKeepPerOrg
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultBacktestInterval
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = backtestStaleIntervals * cfg.Interval
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	jobs, stop := context.WithCancelCause(ctx)
	return &BacktestJobs{cfg: cfg, deps: deps, kv: deps.KV, log: log, local: map[string]*localJob{},
		base: ctx, jobs: jobs, stop: stop}
}

// PerOrg is how many jobs of one org run at once in the cluster.
func (b *BacktestJobs) PerOrg() int { return b.cfg.PerOrg }

// Close cancels every job of this node, records them stopped and waits
// for them to end.
func (b *BacktestJobs) Close() {
	b.stop(errJobShutdown)
	b.wg.Wait()
}

func jobKey(org, id string) string     { return "job." + org + "." + id }
func cancelKey(org, id string) string  { return "cancel." + org + "." + id }
func slotKey(org string, n int) string { return "slot." + org + "." + strconv.Itoa(n) }
func resultKey(org, id string, n int) string {
	return "res." + org + "." + id + "." + strconv.Itoa(n)
}

// Start runs req (for req.Org) in the background on this node and returns
// the job; ErrTooManyBacktests when the org runs PerOrg jobs already.
func (b *BacktestJobs) Start(ctx context.Context, req BacktestRequest) (BacktestJob, error) {
	if err := b.jobs.Err(); err != nil {
		return BacktestJob{}, context.Cause(b.jobs)
	}
	b.prune(ctx, req.Org)
	view := BacktestJob{ID: uuid.NewString(), Status: JobRunning, Rule: req.Rule, Pack: req.Pack, Since: req.Since,
		Until: req.Until, Created: time.Now().UTC(), Node: b.deps.Node}
	// The record first, then the slot: a slot always names a job that
	// exists, so a missing job frees its slot.
	rev, err := b.put(ctx, jobRecord{Org: req.Org, Job: view}, 0)
	if err != nil {
		return BacktestJob{}, err
	}
	slot, err := b.acquireSlot(ctx, req.Org, view.ID)
	if err != nil {
		_ = b.kv.Delete(context.WithoutCancel(ctx), jobKey(req.Org, view.ID))
		return BacktestJob{}, err
	}
	jctx, cancel := context.WithCancelCause(b.jobs)
	lj := &localJob{cancel: cancel, done: make(chan struct{})}
	b.mu.Lock()
	b.local[view.ID] = lj
	b.mu.Unlock()
	req.MaxEvents = b.cfg.MaxEvents
	b.wg.Add(1)
	go b.runJob(jctx, lj, req, view, rev, slot)
	return view, nil
}

// acquireSlot takes one of the org's PerOrg running slots for job id: a
// free one, or one whose job ended or whose node is presumed dead.
func (b *BacktestJobs) acquireSlot(ctx context.Context, org, id string) (jetstream.KeyValueEntry, error) {
	for n := range b.cfg.PerOrg {
		key := slotKey(org, n)
		if _, err := b.kv.Create(ctx, key, []byte(id)); err == nil {
			return b.kv.Get(ctx, key)
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("backtest slot: %w", err)
		}
		e, err := b.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released meanwhile: the next start takes it
		}
		if err != nil {
			return nil, fmt.Errorf("backtest slot: %w", err)
		}
		holder, _, err := b.load(ctx, org, string(e.Value()))
		if err == nil && holder.Job.Status == JobRunning {
			continue
		}
		if err != nil && !errors.Is(err, ErrBacktestNotFound) {
			return nil, err
		}
		if _, err := b.kv.Update(ctx, key, []byte(id), e.Revision()); err == nil {
			return b.kv.Get(ctx, key)
		}
	}
	return nil, ErrTooManyBacktests
}

// put writes rec (rev 0: creates it) and returns its revision.
func (b *BacktestJobs) put(ctx context.Context, rec jobRecord, rev uint64) (uint64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("backtest job: %w", err)
	}
	key := jobKey(rec.Org, rec.Job.ID)
	if rev == 0 {
		rev, err = b.kv.Create(ctx, key, data)
	} else {
		rev, err = b.kv.Update(ctx, key, data, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("backtest job: %w", err)
	}
	return rev, nil
}

// runJob runs one job of this node: its progress is written every
// Interval (which also tells other nodes this one lives), a cancel request
// from any node is looked for at the same time, and the end is recorded
// with the result.
func (b *BacktestJobs) runJob(ctx context.Context, lj *localJob, req BacktestRequest, view BacktestJob, rev uint64, slot jetstream.KeyValueEntry) {
	defer b.wg.Done()
	defer func() {
		b.mu.Lock()
		delete(b.local, view.ID)
		b.mu.Unlock()
		close(lj.done)
	}()
	org := req.Org
	var (
		pmu  sync.Mutex
		prog BacktestProgress
	)
	req.Progress = func(p BacktestProgress) {
		pmu.Lock()
		prog = p
		pmu.Unlock()
	}
	type outcome struct {
		res BacktestResult
		err error
	}
	ended := make(chan outcome, 1)
	tctx, cancelTimeout := context.WithTimeoutCause(ctx, b.cfg.Timeout, errJobTimeout)
	defer cancelTimeout()
	go func() {
		res, err := b.deps.Run(tctx, req)
		ended <- outcome{res, err}
	}()
	tick := time.NewTicker(b.cfg.Interval)
	defer tick.Stop()
	lost := false
	for {
		select {
		case <-tick.C:
			if lost {
				continue
			}
			pmu.Lock()
			view.Progress = prog
			pmu.Unlock()
			r, err := b.put(b.base, jobRecord{Org: org, Job: view}, rev)
			switch {
			case err == nil:
				rev = r
			case isWrongSequence(err):
				// Another node declared this node dead: the job is
				// theirs to report; stop it.
				b.log.Warn("backtest job taken over as failed by another node; stopping it", "org", org, "job", view.ID)
				lost = true
				lj.cancel(errJobLost)
			default:
				b.log.Warn("backtest job: writing progress", "org", org, "job", view.ID, "err", err)
			}
			if _, err := b.kv.Get(b.base, cancelKey(org, view.ID)); err == nil {
				lj.cancel(errJobCancelled)
			}
		case o := <-ended:
			if lost {
				return
			}
			pmu.Lock()
			last := prog
			pmu.Unlock()
			b.finish(org, view, last, rev, o.res, o.err, tctx, slot)
			lj.cancel(nil)
			return
		}
	}
}

// isWrongSequence reports an Update refused because the entry changed.
func isWrongSequence(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// finish records a job's end (with its result) and releases its slot and
// cancel request; nothing is written once b.base ended (the process is
// dying: other nodes report the job FAILED).
func (b *BacktestJobs) finish(org string, view BacktestJob, last BacktestProgress, rev uint64, res BacktestResult, err error, ctx context.Context, slot jetstream.KeyValueEntry) {
	view.Finished = time.Now().UTC()
	view.Progress = BacktestProgress{Scanned: res.Scanned, Events: res.Events, Position: res.Position,
		At: last.At, Matches: res.Count, First: last.First, Last: last.Last}
	switch {
	case err == nil:
		view.Status = JobSucceeded
	case errors.Is(err, ErrBacktestEventLimit):
		res.Stopped = "event limit"
	case ctx.Err() != nil:
		res.Stopped = context.Cause(ctx).Error()
	default:
		view.Status, view.Error = JobFailed, err.Error()
	}
	if res.Stopped != "" {
		view.Status = JobStopped
	}
	rec := jobRecord{Org: org, Job: view}
	wctx, cancel := context.WithTimeout(b.base, 10*time.Second)
	defer cancel()
	if view.Status != JobFailed {
		chunks, werr := b.writeChunks(wctx, org, view.ID, res.Detections)
		if werr != nil {
			rec.Job.Status, rec.Job.Error = JobFailed, "storing the result: "+werr.Error()
		} else {
			res.Detections = nil
			rec.Chunks = chunks
			rec.Job.Result = &res
		}
	}
	if _, err := b.put(wctx, rec, rev); err != nil {
		b.log.Warn("backtest job: recording its end", "org", org, "job", view.ID, "err", err)
	}
	if err := b.kv.Delete(wctx, slot.Key(), jetstream.LastRevision(slot.Revision())); err != nil && wctx.Err() == nil && !isWrongSequence(err) {
		b.log.Warn("backtest job: releasing its slot", "org", org, "job", view.ID, "err", err)
	}
	_ = b.kv.Delete(wctx, cancelKey(org, view.ID))
}

// writeChunks stores ds in chunks of at most resultChunkBytes and returns
// how many.
func (b *BacktestJobs) writeChunks(ctx context.Context, org, id string, ds []Detection) (int, error) {
	n := 0
	var chunk []json.RawMessage
	size := 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		data, err := json.Marshal(chunk)
		if err != nil {
			return err
		}
		if _, err := b.kv.Put(ctx, resultKey(org, id, n), data); err != nil {
			return err
		}
		n++
		chunk, size = nil, 0
		return nil
	}
	for _, d := range ds {
		data, err := json.Marshal(d)
		if err != nil {
			return 0, err
		}
		if size+len(data) > resultChunkBytes {
			if err := flush(); err != nil {
				return 0, err
			}
		}
		chunk = append(chunk, data)
		size += len(data) + 1
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return n, nil
}

// load reads org's job id as stored, reporting a running job whose node
// stopped updating it as FAILED (and recording that, so the node, if it
// comes back, stops the job).
func (b *BacktestJobs) load(ctx context.Context, org, id string) (jobRecord, uint64, error) {
	e, err := b.kv.Get(ctx, jobKey(org, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return jobRecord{}, 0, ErrBacktestNotFound
	}
	if err != nil {
		return jobRecord{}, 0, fmt.Errorf("backtest job: %w", err)
	}
	var rec jobRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Org != org {
		return jobRecord{}, 0, ErrBacktestNotFound
	}
	if rec.Job.Status == JobRunning && time.Since(e.Created()) > b.cfg.StaleAfter {
		rec.Job.Status = JobFailed
		rec.Job.Finished = e.Created().UTC()
		rec.Job.Error = fmt.Sprintf("node %q running the job stopped updating it at %s (no update for %s): it is presumed gone; start the backtest again",
			rec.Job.Node, e.Created().UTC().Format(time.RFC3339), b.cfg.StaleAfter)
		if rev, err := b.put(ctx, rec, e.Revision()); err == nil {
			b.log.Warn("backtest job failed: its node stopped updating it", "org", org, "job", id, "node", rec.Job.Node,
				"updated", e.Created().UTC())
			return rec, rev, nil
		}
	}
	return rec, e.Revision(), nil
}

// Get returns org's job id with its result; ErrBacktestNotFound when the
// org has no such job.
func (b *BacktestJobs) Get(ctx context.Context, org, id string) (BacktestJob, error) {
	rec, _, err := b.load(ctx, org, id)
	if err != nil {
		return BacktestJob{}, err
	}
	if rec.Job.Result != nil {
		ds := []Detection{}
		for n := range rec.Chunks {
			e, err := b.kv.Get(ctx, resultKey(org, id, n))
			if err != nil {
				return BacktestJob{}, fmt.Errorf("backtest result: %w", err)
			}
			var chunk []Detection
			if err := json.Unmarshal(e.Value(), &chunk); err != nil {
				return BacktestJob{}, fmt.Errorf("backtest result: %w", err)
			}
			ds = append(ds, chunk...)
		}
		rec.Job.Result.Detections = ds
	}
	return rec.Job, nil
}

// records reads every job record of org.
func (b *BacktestJobs) records(ctx context.Context, org string) ([]jobRecord, error) {
	lister, err := b.kv.ListKeysFiltered(ctx, jobKey(org, "*"))
	if err != nil {
		return nil, fmt.Errorf("backtest jobs: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	var out []jobRecord
	for _, k := range keys {
		rec, _, err := b.load(ctx, org, k[len(jobKey(org, "")):])
		if errors.Is(err, ErrBacktestNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// List returns org's jobs in the cluster, newest first, without their
// results' detections.
func (b *BacktestJobs) List(ctx context.Context, org string) ([]BacktestJob, error) {
	b.prune(ctx, org)
	recs, err := b.records(ctx, org)
	if err != nil {
		return nil, err
	}
	out := []BacktestJob{}
	for _, r := range recs {
		out = append(out, r.Job)
	}
	slices.SortFunc(out, func(a, c BacktestJob) int { return c.Created.Compare(a.Created) })
	return out, nil
}

// Cancel asks org's job id to stop (on whichever node runs it) and waits
// until it ended (or ctx ends). A finished job is returned as it is.
func (b *BacktestJobs) Cancel(ctx context.Context, org, id string) (BacktestJob, error) {
	job, err := b.Get(ctx, org, id)
	if err != nil || job.Status != JobRunning {
		return job, err
	}
	b.mu.Lock()
	lj := b.local[id]
	b.mu.Unlock()
	if lj != nil {
		lj.cancel(errJobCancelled)
	} else if _, err := b.kv.Put(ctx, cancelKey(org, id), []byte(time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		return BacktestJob{}, fmt.Errorf("backtest cancel: %w", err)
	}
	return b.Wait(ctx, org, id)
}

// Wait waits until org's job id ended or ctx ends, and returns it.
func (b *BacktestJobs) Wait(ctx context.Context, org, id string) (BacktestJob, error) {
	b.mu.Lock()
	lj := b.local[id]
	b.mu.Unlock()
	if lj != nil {
		select {
		case <-lj.done:
		case <-ctx.Done():
		}
		return b.Get(context.WithoutCancel(ctx), org, id)
	}
	poll := time.NewTicker(min(b.cfg.Interval, 250*time.Millisecond))
	defer poll.Stop()
	for {
		job, err := b.Get(context.WithoutCancel(ctx), org, id)
		if err != nil || job.Status != JobRunning {
			return job, err
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			return job, nil
		}
	}
}

// prune forgets org's ended jobs older than Keep, and beyond KeepPerOrg
// (the oldest first). Failures are logged: the bucket's TTL bounds what
// is left.
func (b *BacktestJobs) prune(ctx context.Context, org string) {
	recs, err := b.records(ctx, org)
	if err != nil {
		b.log.Warn("backtest jobs: pruning", "org", org, "err", err)
		return
	}
	var ended []jobRecord
	for _, r := range recs {
		if r.Job.Status == JobRunning {
			continue
		}
		if time.Since(r.Job.Finished) > b.cfg.Keep {
			b.forget(ctx, r)
			continue
		}
		ended = append(ended, r)
	}
	if len(ended) <= b.cfg.KeepPerOrg {
		return
	}
	slices.SortFunc(ended, func(a, c jobRecord) int { return a.Job.Finished.Compare(c.Job.Finished) })
	for _, r := range ended[:len(ended)-b.cfg.KeepPerOrg] {
		b.forget(ctx, r)
	}
}

// forget deletes an ended job with its result.
func (b *BacktestJobs) forget(ctx context.Context, r jobRecord) {
	for n := range r.Chunks {
		_ = b.kv.Delete(ctx, resultKey(r.Org, r.Job.ID, n))
	}
	_ = b.kv.Delete(ctx, cancelKey(r.Org, r.Job.ID))
	if err := b.kv.Delete(ctx, jobKey(r.Org, r.Job.ID)); err != nil {
		b.log.Warn("backtest jobs: forgetting an ended job", "org", r.Org, "job", r.Job.ID, "err", err)
	}
}
