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
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/supervise"
)

// Appender stores events; *journal.Journal is one. Append returns once the
// journal has every event, or an error after which appending the same
// events again is safe (uuids de-duplicate).
type Appender interface {
	Append(ctx context.Context, evs []event.Record) (journal.Result, error)
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
	// Verify, when set, tries a definition the API has checked without
	// storing it (POST /api/v1/sources?dryRun=true): one real request with
	// its settings, through the egress its owner's sources get; nil when
	// it succeeds, else the destination's refusal. Secrets must not appear in
	// the error. nil: the type has nothing to try (a receiver).
	Verify func(ctx context.Context, d Definition) error
	// Settings is a zero value of the type's settings struct, whose tags
	// describe each setting for a form (FieldsOf); nil: no form.
	Settings any
}

// Fields are the type's settings as a form shows them (FieldsOf), the
// SecretPaths write-only.
func (t Type) Fields() []Field { return FieldsOf(t.Settings, t.SecretPaths) }

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
	// NodeID names this node in the leases it holds (the cluster view
	// shows it); a random id when empty.
	NodeID  string
	Metrics *Metrics
	Log     *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
}

// Supervisor keeps one runner per active polling source in step with the
// Store (a supervise.Core with the source's hooks: leases, so that one
// node polls each source, and backfills), and runs backfills.
type Supervisor struct {
	cfg    SupervisorConfig
	leases *lease.Leases
	core   *supervise.Core[Definition, *Status, Snapshot]

	mu  sync.Mutex
	ctx context.Context // Run's, for backfills; nil before Run and once it ends
	// backfills cancels the running backfill of a source.
	backfills map[string]context.CancelFunc
	bg        sync.WaitGroup
}

// ErrBackfillRunning is returned when a source already runs a backfill.
var ErrBackfillRunning = errors.New("a backfill of this source is already running")

// ErrInactive is returned for a backfill of a deactivated source.
var ErrInactive = errors.New("the source is deactivated; activate it to backfill")

// ErrNoBackfill is returned for a source type that cannot backfill.
var ErrNoBackfill = errors.New("this source type does not poll and cannot backfill")

// statusPrefix sets the sources' keys apart in the status bucket shared
// with log streams (whose keys are bare ids).
const statusPrefix = "source."

// NewSupervisor prepares a supervisor; Run starts it.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NodeID == "" {
		cfg.NodeID = newNodeID()
	}
	s := &Supervisor{cfg: cfg, backfills: map[string]context.CancelFunc{},
		leases: lease.New(lease.Config{KV: cfg.LeaseKV, Prefix: LeasePrefix, Node: cfg.NodeID, TTL: LeaseTTL, Now: cfg.Now})}
	s.core = supervise.New(supervise.Deps[Definition, *Status, Snapshot]{
		Catalog: cfg.Store, Kind: sources{s}, NewStatus: func() *Status { return &Status{} },
		Statuses: supervise.StatusStore[Snapshot]{KV: cfg.StatusKV, Prefix: statusPrefix},
		Log:      cfg.Log, Noun: "source", Now: cfg.Now,
	})
	return s
}

// Run reconciles runners with the store until ctx ends, then stops every
// runner and backfill and saves their statuses.
func (s *Supervisor) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.core.Run(ctx)
}

// StatusOf returns the live status of a source (creating it, restored from
// the status bucket when saved there).
func (s *Supervisor) StatusOf(id string) *Status { return s.core.StatusOf(id) }

// Snapshot returns the status of a source: the live one when it runs on
// this node, else the last one saved.
func (s *Supervisor) Snapshot(d Definition) Snapshot {
	snap := s.core.Current(d.ID)
	if d.Status != StatusActive {
		snap.State = StateInactive
	}
	return snap
}

// sources are the source's hooks of the supervise.Core.
type sources struct{ s *Supervisor }

var (
	_ supervise.Kind[Definition, *Status] = sources{}
	_ supervise.Keeper[Definition]        = sources{}
	_ supervise.Drainer                   = sources{}
	_ supervise.Fencer                    = sources{}
)

// Same reports whether a runner of a may go on serving b.
func (sources) Same(a, b Definition) bool { return sameRun(a, b) }

func sameRun(a, b Definition) bool {
	return a.Type == b.Type && a.Org == b.Org && a.Status == b.Status && a.Name == b.Name &&
		bytes.Equal(a.Settings, b.Settings)
}

// Active reports whether the source is ACTIVE.
func (sources) Active(d Definition) bool { return d.Status == StatusActive }

// Idle marks a deactivated source's status and stops its backfill.
func (k sources) Idle(d Definition, st *Status) {
	st.SetState(StateInactive)
	k.s.cancelBackfill(d.ID)
}

// Keep renews the lease of a polling source; one lost goes to another
// node.
func (k sources) Keep(ctx context.Context, d Definition, w supervise.Work) bool {
	r := w.(*running)
	if r.runner == nil || k.s.leases.Acquire(ctx, d.ID) {
		return true
	}
	r.lost = true
	return false
}

// MaySave lets only the node polling a source save its status while its
// lease holds; a source that only receives has its status saved by the
// nodes that receive.
func (k sources) MaySave(id string) bool {
	_, w, ok := k.s.core.Running(id)
	return !ok || w.(*running).runner == nil || k.s.leases.Holds(id)
}

// Forget removes what a deleted source left: its backfill, cursor and
// metrics.
func (k sources) Forget(ctx context.Context, d Definition) {
	s := k.s
	s.cancelBackfill(d.ID)
	if s.cfg.Checkpoints != nil {
		if err := s.cfg.Checkpoints.Delete(ctx, d.ID); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.cfg.Log.Warn("delete source checkpoint", "source", d.ID, "err", err)
		}
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.forget(d.ID)
	}
}

// Tick updates the lag metrics of the sources polled here.
func (k sources) Tick(context.Context) {
	s := k.s
	if s.cfg.Metrics == nil {
		return
	}
	now := s.cfg.Now()
	for id, w := range s.core.Works() {
		if w.(*running).runner != nil {
			s.cfg.Metrics.Lag.WithLabelValues(id).Set(s.core.StatusOf(id).Lag(now))
		}
	}
}

// Drain stops taking backfills and waits for the running ones.
func (k sources) Drain() {
	s := k.s
	s.mu.Lock()
	s.ctx = nil // no new backfills
	s.mu.Unlock()
	s.bg.Wait()
}

func (s *Supervisor) cancelBackfill(id string) {
	s.mu.Lock()
	if cancel, ok := s.backfills[id]; ok {
		cancel()
	}
	s.mu.Unlock()
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

// Start starts a polling source's runner once it holds its lease; a
// source that only receives runs nothing.
func (k sources) Start(ctx context.Context, d Definition, st *Status) supervise.Work {
	s := k.s
	if t, ok := s.cfg.Types[d.Type]; ok && t.NewRunner != nil {
		if !s.leases.Acquire(ctx, d.ID) {
			// Another node polls this source; its status is in StatusKV.
			return nil
		}
		// Go on from the counters the node that polled it last saved.
		s.core.Reload(d.ID)
	}
	r := &running{s: s, def: d, cancel: func() {}, done: make(chan struct{})}
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
		return r
	}
	rctx, cancel := context.WithCancel(ctx)
	r.runner, r.cancel = runner, cancel
	s.cfg.Log.Info("source started", "source", d.ID, "type", d.Type, "org", d.Org)
	go func() {
		defer close(r.done)
		if err := runner.Run(rctx); err != nil {
			st.Failed(s.cfg.Now(), StateError, KindRequest, err)
			s.cfg.Log.Error("source stopped", "source", d.ID, "err", err)
		}
	}()
	return r
}

// running is one source's runner; runner is nil for a source that only
// receives, or whose runner could not be built.
type running struct {
	s      *Supervisor
	def    Definition
	runner Runner
	cancel context.CancelFunc
	done   chan struct{}
	// lost is set (by Keep, before Stop) when the lease was lost.
	lost bool
}

// Stop ends the runner, saves its status (unless the lease was lost: the
// new holder writes it) and gives its lease up.
func (r *running) Stop(ctx context.Context) {
	r.cancel()
	<-r.done
	if r.runner == nil {
		return
	}
	if !r.lost && r.s.leases.Holds(r.def.ID) {
		if err := r.s.core.SaveStatus(ctx, r.def.ID); err != nil {
			r.s.cfg.Log.Warn("save source status", "source", r.def.ID, "err", err)
		}
	}
	r.s.leases.Release(ctx, r.def.ID)
}

// Backfill starts a bounded pull of d's events published in [since,
// until) in the background and returns at once. It shares the live
// poller's rate limit when the source runs here.
func (s *Supervisor) Backfill(d Definition, since, until time.Time) error {
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return errors.New("sources are not running")
	}
	if d.Status != StatusActive {
		return ErrInactive
	}
	st := s.StatusOf(d.ID)
	var runner Runner
	if def, w, ok := s.core.Running(d.ID); ok && w.(*running).runner != nil && sameRun(def, d) {
		runner = w.(*running).runner
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
		// A source that stopped here meanwhile (deactivated, not deleted)
		// had its status saved as it stopped: save the backfill's end too.
		_, _, here := s.core.Running(d.ID)
		if _, exists := s.cfg.Store.Get(d.ID); exists && !here {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.core.SaveStatus(sctx, d.ID); err != nil {
				s.cfg.Log.Warn("save source status", "source", d.ID, "err", err)
			}
			cancel()
		}
	})
	return nil
}
