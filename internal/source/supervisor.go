package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
)

// Appender stores events; *journal.Journal is one. Append returns once the
// journal has every event, or an error after which appending the same
// events again is safe (uuids de-duplicate).
type Appender interface {
	Append(ctx context.Context, evs []event.Event) (journal.Result, error)
}

// Runner pulls one source's events. A Runner is used by one supervisor; Run
// and Backfill may run at the same time and share the runner's rate limit.
type Runner interface {
	// Run polls until ctx ends and then returns nil; it returns an error
	// only when it cannot run at all.
	Run(ctx context.Context) error
	// Backfill pulls the events published in [since, until) once, without
	// moving the live cursor. It blocks until done or ctx ends.
	Backfill(ctx context.Context, since, until time.Time) error
}

// RunnerDeps are what a runner gets.
type RunnerDeps struct {
	Journal Appender
	// Checkpoints is the cursor bucket (BucketCheckpoints).
	Checkpoints jetstream.KeyValue
	Status      *Status
	Metrics     *Metrics
	Log         *slog.Logger
}

// Type is what one source type provides. Package app builds the one table
// that maps a type name to its Type.
type Type struct {
	// Prepare validates settings from the API or the config file and
	// returns them in stored form. old holds the stored settings being
	// replaced (nil on create): secrets left out, or sent back as
	// secret.Redacted, are kept from old. Every problem is reported, joined.
	Prepare func(settings, old json.RawMessage) (json.RawMessage, error)
	// SecretPaths are the settings (dotted paths) the API never shows.
	SecretPaths []string
	// Generate, when set, fills in secrets the server makes up because the
	// settings leave them out (a receiver's API key). The API calls it
	// before Prepare with the same arguments; it returns the settings to
	// prepare and the generated values by dotted path, which only the
	// answer to that create or update shows.
	Generate func(settings, old json.RawMessage) (json.RawMessage, map[string]string)
	// Endpoints, when set, returns the URLs a source of this type takes
	// requests at (POST), by name, for its _links.
	Endpoints func(d Definition) map[string]string
	// NewRunner builds the poller of a definition; nil for types that only
	// receive (they have no runner).
	NewRunner func(d Definition, deps RunnerDeps) (Runner, error)
	// Check, when set, refuses a definition the API is about to store for
	// a reason that depends on its owner (the egress policy refusing a
	// tenant's URL); its error becomes a cause of the 400.
	Check func(d Definition) error
}

// SupervisorConfig is what a Supervisor needs.
type SupervisorConfig struct {
	Store   *Store
	Types   map[string]Type
	Journal Appender
	// Checkpoints is the BucketCheckpoints bucket.
	Checkpoints jetstream.KeyValue
	// StatusKV, when set, keeps each source's status across restarts.
	StatusKV jetstream.KeyValue
	// LeaseKV, when set, holds leases so that a polling source runs on one
	// node at a time (BucketState).
	LeaseKV jetstream.KeyValue
	Metrics *Metrics
	Log     *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
}

// Supervisor keeps one runner per active polling source in step with the
// Store, and runs backfills.
type Supervisor struct {
	cfg    SupervisorConfig
	leases *leases

	mu       sync.Mutex
	ctx      context.Context // Run's, for backfills; nil before Run
	running  map[string]*running
	statuses map[string]*Status
	known    map[string]Definition
	// backfills cancels the running backfill of a source.
	backfills map[string]context.CancelFunc
	bg        sync.WaitGroup
}

type running struct {
	def    Definition
	runner Runner
	cancel context.CancelFunc
	done   chan struct{}
}

// ErrBackfillRunning is returned when a source already runs a backfill.
var ErrBackfillRunning = errors.New("a backfill of this source is already running")

// ErrInactive is returned for a backfill of a deactivated source.
var ErrInactive = errors.New("the source is deactivated; activate it to backfill")

// ErrNoBackfill is returned for a source type that cannot backfill.
var ErrNoBackfill = errors.New("this source type does not poll and cannot backfill")

// NewSupervisor prepares a supervisor; Run starts it.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Supervisor{cfg: cfg, running: map[string]*running{}, statuses: map[string]*Status{},
		backfills: map[string]context.CancelFunc{},
		known:     map[string]Definition{}, leases: &leases{kv: cfg.LeaseKV, node: newNodeID(), now: cfg.Now}}
}

// statusKey is the source's key in the shared status bucket (stream
// statuses use bare ids there).
func statusKey(id string) string { return "source." + id }

// Run reconciles runners with the store until ctx ends, then stops every
// runner and backfill and saves their statuses.
func (s *Supervisor) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	changes := s.cfg.Store.Changes()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		s.reconcile(ctx)
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.ctx = nil // no new backfills
			s.mu.Unlock()
			s.stopAll()
			s.bg.Wait()
			s.saveStatuses(context.Background())
			return
		case <-changes:
		case <-tick.C:
			s.updateMetrics()
			s.saveStatuses(ctx)
		}
	}
}

// StatusOf returns the live status of a source (creating it, restored from
// the status bucket when saved there).
func (s *Supervisor) StatusOf(id string) *Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.statuses[id]
	if !ok {
		st = &Status{}
		if snap, ok := s.loadStatus(id); ok {
			st.restore(snap)
		}
		s.statuses[id] = st
	}
	return st
}

func (s *Supervisor) loadStatus(id string) (Snapshot, bool) {
	if s.cfg.StatusKV == nil {
		return Snapshot{}, false
	}
	return kvstore.GetJSON[Snapshot](s.cfg.StatusKV, statusKey(id))
}

func (s *Supervisor) saveStatuses(ctx context.Context) {
	if s.cfg.StatusKV == nil {
		return
	}
	// Only the node that runs a source writes its status (receivers run
	// everywhere and each node writes what it saw).
	s.mu.Lock()
	local := make(map[string]*Status, len(s.running))
	for id := range s.running {
		if st := s.statuses[id]; st != nil {
			local[id] = st
		}
	}
	s.mu.Unlock()
	now := s.cfg.Now()
	for id, st := range local {
		snap := st.Snapshot(now)
		snap.ID = id
		if err := kvstore.PutJSON(ctx, s.cfg.StatusKV, statusKey(id), snap); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("save source status", "source", id, "err", err)
		}
	}
}

// sameRun reports whether a runner of a may go on serving b.
func sameRun(a, b Definition) bool {
	return a.Type == b.Type && a.Org == b.Org && a.Status == b.Status && a.Name == b.Name &&
		bytes.Equal(a.Settings, b.Settings)
}

func (s *Supervisor) reconcile(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	defs := s.cfg.Store.List()
	want := map[string]Definition{}
	for _, d := range defs {
		want[d.ID] = d
	}
	s.mu.Lock()
	var stop []*running
	var gone []string
	for id, r := range s.running {
		if d, ok := want[id]; !ok || d.Status != StatusActive || !sameRun(r.def, d) {
			stop = append(stop, r)
			delete(s.running, id)
		}
	}
	for id, cancel := range s.backfills {
		if d, ok := want[id]; !ok || d.Status != StatusActive {
			cancel()
		}
	}
	s.mu.Unlock()
	// Renew the leases of the runners kept; one lost goes to another node.
	for id, r := range s.runningCopy() {
		if r.runner != nil && !containsRunning(stop, r) && !s.leases.acquire(ctx, id) {
			s.mu.Lock()
			delete(s.running, id)
			s.mu.Unlock()
			stop = append(stop, r)
		}
	}
	s.mu.Lock()
	for id := range s.known {
		if _, ok := want[id]; !ok {
			gone = append(gone, id)
			delete(s.known, id)
			delete(s.statuses, id)
		}
	}
	for id, d := range want {
		s.known[id] = d
	}
	s.mu.Unlock()

	for _, r := range stop {
		r.cancel()
		<-r.done
		if r.runner != nil {
			s.leases.release(ctx, r.def.ID)
		}
	}
	for _, id := range gone {
		s.cleanup(id)
	}
	for _, d := range defs {
		st := s.StatusOf(d.ID)
		if d.Status != StatusActive {
			st.SetState(StateInactive)
			continue
		}
		s.mu.Lock()
		_, ok := s.running[d.ID]
		s.mu.Unlock()
		if !ok {
			s.start(ctx, d, st)
		}
	}
}

func (s *Supervisor) runningCopy() map[string]*running {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*running, len(s.running))
	for id, r := range s.running {
		out[id] = r
	}
	return out
}

func containsRunning(rs []*running, r *running) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func (s *Supervisor) newRunner(d Definition, st *Status) (Runner, error) {
	t, ok := s.cfg.Types[d.Type]
	if !ok {
		return nil, fmt.Errorf("unknown source type %q", d.Type)
	}
	if t.NewRunner == nil {
		return nil, nil
	}
	return t.NewRunner(d, RunnerDeps{Journal: s.cfg.Journal, Checkpoints: s.cfg.Checkpoints, Status: st,
		Metrics: s.cfg.Metrics, Log: s.cfg.Log.With("source", d.ID, "type", d.Type, "org", d.Org)})
}

func (s *Supervisor) start(ctx context.Context, d Definition, st *Status) {
	if t, ok := s.cfg.Types[d.Type]; ok && t.NewRunner != nil && !s.leases.acquire(ctx, d.ID) {
		// Another node polls this source; its status is in StatusKV.
		return
	}
	r := &running{def: d, cancel: func() {}, done: make(chan struct{})}
	runner, err := s.newRunner(d, st)
	if err != nil || runner == nil {
		if err != nil {
			// A definition the API accepted always builds; a config file
			// edited by hand may not: say so in the status.
			st.Failed(s.cfg.Now(), StateError, KindRequest, err)
			s.cfg.Log.Error("cannot start source", "source", d.ID, "err", err)
		} else {
			st.SetState(StateActive)
		}
		close(r.done)
		s.mu.Lock()
		s.running[d.ID] = r
		s.mu.Unlock()
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	r.runner, r.cancel = runner, cancel
	s.mu.Lock()
	s.running[d.ID] = r
	s.mu.Unlock()
	s.cfg.Log.Info("source started", "source", d.ID, "type", d.Type, "org", d.Org)
	go func() {
		defer close(r.done)
		if err := runner.Run(rctx); err != nil {
			st.Failed(s.cfg.Now(), StateError, KindRequest, err)
			s.cfg.Log.Error("source stopped", "source", d.ID, "err", err)
		}
	}()
}

func (s *Supervisor) stopAll() {
	s.mu.Lock()
	all := make([]*running, 0, len(s.running))
	for id, r := range s.running {
		all = append(all, r)
		delete(s.running, id)
	}
	s.mu.Unlock()
	for _, r := range all {
		r.cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range all {
		<-r.done
		if r.runner != nil {
			s.leases.release(ctx, r.def.ID)
		}
	}
}

// cleanup forgets a deleted source: its cursor, saved status and metrics.
func (s *Supervisor) cleanup(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.cfg.Checkpoints != nil {
		if err := s.cfg.Checkpoints.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.cfg.Log.Warn("delete source checkpoint", "source", id, "err", err)
		}
	}
	if s.cfg.StatusKV != nil {
		_ = s.cfg.StatusKV.Delete(ctx, statusKey(id))
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.forget(id)
	}
}

func (s *Supervisor) updateMetrics() {
	if s.cfg.Metrics == nil {
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, r := range s.running {
		if r.runner == nil {
			continue
		}
		if st := s.statuses[id]; st != nil {
			s.cfg.Metrics.Lag.WithLabelValues(id).Set(st.Lag(now))
		}
	}
}

// Snapshot returns the status of a source: the live one when it runs on
// this node, else the last one saved.
func (s *Supervisor) Snapshot(d Definition) Snapshot {
	s.mu.Lock()
	_, here := s.running[d.ID]
	s.mu.Unlock()
	var snap Snapshot
	if saved, ok := s.loadStatus(d.ID); ok && !here {
		snap = saved
	} else {
		snap = s.StatusOf(d.ID).Snapshot(s.cfg.Now())
	}
	snap.ID = d.ID
	if d.Status != StatusActive {
		snap.State = StateInactive
	}
	return snap
}

// Backfill starts a bounded pull of d's events published in [since,
// until) in the background and returns at once. It shares the live
// poller's rate limit when the source runs here.
func (s *Supervisor) Backfill(d Definition, since, until time.Time) error {
	s.mu.Lock()
	ctx := s.ctx
	r := s.running[d.ID]
	s.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return errors.New("sources are not running")
	}
	if d.Status != StatusActive {
		return ErrInactive
	}
	st := s.StatusOf(d.ID)
	var runner Runner
	if r != nil && r.runner != nil && sameRun(r.def, d) {
		runner = r.runner
	} else {
		var err error
		if runner, err = s.newRunner(d, st); err != nil {
			return err
		}
		if runner == nil {
			return ErrNoBackfill
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		return errors.New("sources are not running")
	}
	if !st.StartBackfill(Backfill{Since: since, Until: until, Started: s.cfg.Now()}) {
		return ErrBackfillRunning
	}
	// Deleting or deactivating the source cancels it (reconcile).
	bctx, cancel := context.WithCancel(ctx)
	s.backfills[d.ID] = cancel
	s.bg.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.backfills, d.ID)
			s.mu.Unlock()
			cancel()
		}()
		err := runner.Backfill(bctx, since, until)
		if err != nil {
			s.cfg.Log.Warn("backfill", "source", d.ID, "err", err)
		}
		st.BackfillDone(s.cfg.Now(), err)
	})
	return nil
}
