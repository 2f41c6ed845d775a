package detect

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Backtest job defaults, each with its reason.
const (
	// DefaultBacktestTimeout bounds one backtest: reading a large journal
	// takes minutes, not hours.
	DefaultBacktestTimeout = 10 * time.Minute
	// DefaultBacktestMaxEvents bounds the events one backtest scans (at the
	// engine's speed, well within the timeout).
	DefaultBacktestMaxEvents = 50_000_000
	// DefaultBacktestsPerOrg is how many backtests of one org run at once:
	// a tenant cannot occupy every core.
	DefaultBacktestsPerOrg = 2
	// backtestKeep is how long a finished job is kept for GET.
	backtestKeep = time.Hour
	// backtestKeepPerOrg bounds the finished jobs kept per org.
	backtestKeepPerOrg = 20
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
	// PerOrg bounds the jobs of one org running at once (0:
	// DefaultBacktestsPerOrg).
	PerOrg int
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
	// Result is set once the job ended (also when stopped early).
	Result *BacktestResult `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

type backtestJob struct {
	org    string
	view   BacktestJob
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// Causes of a job stopped early.
var (
	errJobCancelled = errors.New("cancelled")
	errJobTimeout   = errors.New("timeout")
	errJobShutdown  = errors.New("cancelled: the server is stopping")
)

// ErrTooManyBacktests is returned by Start when the org already runs
// BacktestJobsConfig.PerOrg jobs.
var ErrTooManyBacktests = errors.New("too many backtests running for the org")

// BacktestJobs runs backtests in the background, bounded by a timeout, an
// event limit and a number per org, and keeps each job's progress and
// result for a while. Jobs are in memory on the node that runs them.
type BacktestJobs struct {
	cfg  BacktestJobsConfig
	run  BacktestFunc
	now  func() time.Time
	mu   sync.Mutex
	jobs map[string]*backtestJob
	wg   sync.WaitGroup
	base context.Context
	stop context.CancelCauseFunc
}

// NewBacktestJobs prepares a job runner; Close stops its jobs.
func NewBacktestJobs(cfg BacktestJobsConfig, run BacktestFunc) *BacktestJobs {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultBacktestTimeout
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = DefaultBacktestMaxEvents
	}
	if cfg.PerOrg <= 0 {
		cfg.PerOrg = DefaultBacktestsPerOrg
	}
	base, stop := context.WithCancelCause(context.Background())
	return &BacktestJobs{cfg: cfg, run: run, now: time.Now, jobs: map[string]*backtestJob{}, base: base, stop: stop}
}

// Close cancels every running job and waits for them to end.
func (b *BacktestJobs) Close() {
	b.stop(errJobShutdown)
	b.wg.Wait()
}

// Start runs req (for req.Org) in the background and returns the job.
func (b *BacktestJobs) Start(req BacktestRequest) (BacktestJob, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune()
	running := 0
	for _, j := range b.jobs {
		if j.org == req.Org && j.view.Status == JobRunning {
			running++
		}
	}
	if running >= b.cfg.PerOrg {
		return BacktestJob{}, ErrTooManyBacktests
	}
	if err := b.base.Err(); err != nil {
		return BacktestJob{}, context.Cause(b.base)
	}
	ctx, cancel := context.WithCancelCause(b.base)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, b.cfg.Timeout, errJobTimeout)
	j := &backtestJob{org: req.Org, cancel: cancel, done: make(chan struct{}),
		view: BacktestJob{ID: uuid.NewString(), Status: JobRunning, Rule: req.Rule, Pack: req.Pack, Since: req.Since,
			Until: req.Until, Created: b.now().UTC()}}
	b.jobs[j.view.ID] = j
	req.MaxEvents = b.cfg.MaxEvents
	req.Progress = func(p BacktestProgress) {
		b.mu.Lock()
		j.view.Progress = p
		b.mu.Unlock()
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(j.done)
		defer cancelTimeout()
		res, err := b.run(ctx, req)
		b.mu.Lock()
		defer b.mu.Unlock()
		j.view.Finished = b.now().UTC()
		j.view.Progress = BacktestProgress{Scanned: res.Scanned, Events: res.Events, Position: res.Position,
			At: j.view.Progress.At, Matches: res.Count, First: j.view.Progress.First, Last: j.view.Progress.Last}
		switch {
		case err == nil:
			j.view.Status = JobSucceeded
		case errors.Is(err, ErrBacktestEventLimit):
			res.Stopped = "event limit"
		case ctx.Err() != nil:
			res.Stopped = context.Cause(ctx).Error()
		default:
			j.view.Status, j.view.Error = JobFailed, err.Error()
		}
		if res.Stopped != "" {
			j.view.Status = JobStopped
		}
		if j.view.Status != JobFailed {
			if res.Detections == nil {
				res.Detections = []Detection{}
			}
			j.view.Result = &res
		}
		cancel(nil)
	}()
	return j.view, nil
}

// Get returns org's job id (ok false: no such job of the org).
func (b *BacktestJobs) Get(org, id string) (BacktestJob, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j := b.jobs[id]
	if j == nil || j.org != org {
		return BacktestJob{}, false
	}
	return j.view, true
}

// List returns org's jobs, newest first, without their results' detections.
func (b *BacktestJobs) List(org string) []BacktestJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune()
	out := []BacktestJob{}
	for _, j := range b.jobs {
		if j.org == org {
			v := j.view
			if v.Result != nil {
				r := *v.Result
				r.Detections = nil
				v.Result = &r
			}
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, c BacktestJob) int { return c.Created.Compare(a.Created) })
	return out
}

// Cancel stops org's job id and waits until it ended (or ctx ends); ok is
// false when the org has no such job. A finished job is returned as it is.
func (b *BacktestJobs) Cancel(ctx context.Context, org, id string) (BacktestJob, bool) {
	if j := b.job(org, id); j != nil {
		j.cancel(errJobCancelled)
	}
	return b.Wait(ctx, org, id)
}

// Wait waits until org's job id ended or ctx ends, and returns it.
func (b *BacktestJobs) Wait(ctx context.Context, org, id string) (BacktestJob, bool) {
	j := b.job(org, id)
	if j == nil {
		return BacktestJob{}, false
	}
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	return b.Get(org, id)
}

// job is org's job id, nil when the org has no such job.
func (b *BacktestJobs) job(org, id string) *backtestJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	if j := b.jobs[id]; j != nil && j.org == org {
		return j
	}
	return nil
}

// prune forgets finished jobs older than backtestKeep, and beyond
// backtestKeepPerOrg per org (the oldest first). b.mu is held.
func (b *BacktestJobs) prune() {
	now := b.now()
	perOrg := map[string][]*backtestJob{}
	for id, j := range b.jobs {
		if j.view.Status == JobRunning {
			continue
		}
		if now.Sub(j.view.Finished) > backtestKeep {
			delete(b.jobs, id)
			continue
		}
		perOrg[j.org] = append(perOrg[j.org], j)
	}
	for _, js := range perOrg {
		if len(js) <= backtestKeepPerOrg {
			continue
		}
		slices.SortFunc(js, func(a, c *backtestJob) int { return a.view.Finished.Compare(c.view.Finished) })
		for _, j := range js[:len(js)-backtestKeepPerOrg] {
			delete(b.jobs, j.view.ID)
		}
	}
}
