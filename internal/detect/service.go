package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/lease"
)

// Timings of the runtime, named with their reasons.
const (
	// DefaultCheckpointInterval is how often the engine's state is saved: a
	// restart re-reads at most this much of the journal.
	DefaultCheckpointInterval = 5 * time.Second
	// tickInterval renews the lease and advances idle orgs' clocks; within
	// lease.Leases' TTL several times over.
	tickInterval = 2 * time.Second
	// LeaseTTL is how long a node evaluates detections without renewing its
	// lease (as a log stream's).
	LeaseTTL = 10 * time.Second
	// LeaseID names the detections lease in the cluster bucket, under
	// LeasePrefix.
	LeaseID = "detect"
	// LeasePrefix starts the key of the detections lease.
	LeasePrefix = "detect."
	// appendRetry is the first wait before appending detections again.
	appendRetry = 200 * time.Millisecond
)

// RuleSource gives the service the rules to evaluate and tells it when they
// changed (an upload, a pack reload).
type RuleSource interface {
	// Registry returns the current rules.
	Registry() *Registry
	// Changed delivers a value (coalesced) when Registry would return new rules.
	Changed() <-chan struct{}
	// Enabled reports whether rule id runs for org (enable/disable per org).
	Enabled(org, id string) bool
}

// Config is what an operator sets for the runtime.
type Config struct {
	Engine             correlate.Config
	Envelope           Envelope
	CheckpointInterval time.Duration
}

// Deps is what the service is handed.
type Deps struct {
	Journal *journal.Journal
	// Fanout, when set, is the followers' shared reader of the journal
	// the runtime reads through (nil: readers of its own).
	Fanout *journal.Fanout
	Rules  RuleSource
	// StateKV holds the checkpoint (BucketState).
	StateKV jetstream.KeyValue
	// LeaseKV and Node make one node of a cluster evaluate (nil KV: this
	// node always does).
	LeaseKV jetstream.KeyValue
	Node    string
	// Raised, when set, is told of every detection appended (the triage store).
	Raised func(ctx context.Context, rs []Raised)
	// Suppressed, when set, is told of firings suppressed after a detection
	// was appended (the triage store counts them on the open detection).
	// It is also called with none on every tick and before every
	// checkpoint, for a store that holds writes back to flush them.
	Suppressed func(ctx context.Context, ss []correlate.Suppression)
	// FirstSeen answers native rules' firstSeen (the activity store); nil:
	// such rules never match, and the runtime says so at every start.
	FirstSeen FirstSeenSource
	// Health, when set, reports a checkpoint that cannot be written
	// (condition HealthCheckpoint, degraded) until one is.
	Health   *health.Board
	Log      *slog.Logger
	Registry prometheus.Registerer
}

// HealthCheckpoint names the health condition of a detections checkpoint
// that could not be saved: a restart would re-evaluate from the last one.
const HealthCheckpoint = "detections.checkpoint"

// Service evaluates every rule over the journal as events arrive and appends
// detection events. Run it on every node: only the lease holder evaluates.
type Service struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	leases *lease.Leases

	// pos is the message sequence evaluated up to in each journal
	// partition (nil before the first evaluation).
	pos       atomic.Pointer[[]atomic.Uint64]
	unindexed atomic.Int64
	events    atomic.Uint64
	raised    atomic.Uint64
	supp      atomic.Uint64
	late      atomic.Uint64
	evicted   atomic.Uint64
	// fsLate counts firstSeen answers given before the source had folded
	// the event (after firstSeenWait): they may differ on replay.
	fsLate atomic.Uint64
	// ckptFailed counts checkpoints that could not be saved; ckptBytes and
	// ckptChunks describe the last saved one, ckptAt is when (unix seconds).
	ckptFailed atomic.Uint64
	ckptBytes  atomic.Int64
	ckptChunks atomic.Int64
	ckptAt     atomic.Int64
	// ckpt stores the checkpoint (owned by the evaluating goroutine).
	ckpt *checkpointStore
	// chunkSize overrides DefaultChunkSize (tests).
	chunkSize int
	// noFinalSave and freezeCheckpoint simulate a crash in tests: no
	// checkpoint at stop / from now on.
	noFinalSave      bool
	freezeCheckpoint atomic.Bool
	// seen are the detections journaled after the checkpoint this run
	// started from (owned by the evaluating goroutine).
	seen map[string]bool
}

// New prepares the service.
func New(cfg Config, deps Deps) *Service {
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{cfg: cfg, deps: deps, log: log.With("component", "detect"),
		leases: lease.New(lease.Config{KV: deps.LeaseKV, Prefix: LeasePrefix, Node: deps.Node, TTL: LeaseTTL})}
	s.register(deps.Registry)
	return s
}

func (s *Service) register(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	g := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	c := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	for _, col := range []prometheus.Collector{
		g("auditstream_detect_unindexed_rules", "Rules without a prefilter, evaluated for every event of their logsource.",
			func() float64 { return float64(s.unindexed.Load()) }),
		g("auditstream_detect_position", "Journal message sequence the detections runtime has evaluated up to (summed over the journal partitions).",
			func() float64 { return float64(s.Position()) }),
		c("auditstream_detect_events_total", "Journal events evaluated by the detections runtime.",
			func() float64 { return float64(s.events.Load()) }),
		c("auditstream_detect_detections_total", "Detection events appended.",
			func() float64 { return float64(s.raised.Load()) }),
		c("auditstream_detect_suppressed_total", "Firings suppressed by a rule's suppression window.",
			func() float64 { return float64(s.supp.Load()) }),
		c("auditstream_detect_late_events_total", "Matches older than the watermark (allowedLateness), not applied.",
			func() float64 { return float64(s.late.Load()) }),
		c("auditstream_detect_firstseen_unfolded_total", "firstSeen tests answered before the activity fold reached the event (it lagged more than 3s): the answer may differ on replay.",
			func() float64 { return float64(s.fsLate.Load()) }),
		c("auditstream_detect_checkpoint_failures_total", "Detections checkpoints that could not be saved (a restart re-evaluates from the last saved one).",
			func() float64 { return float64(s.ckptFailed.Load()) }),
		g("auditstream_detect_checkpoint_bytes", "Size of the last saved detections checkpoint (gzipped).",
			func() float64 { return float64(s.ckptBytes.Load()) }),
		g("auditstream_detect_checkpoint_chunks", "KV values the last saved detections checkpoint's snapshot takes (1: inline).",
			func() float64 { return float64(s.ckptChunks.Load()) }),
		g("auditstream_detect_checkpoint_timestamp_seconds", "When the last detections checkpoint was saved (unix time).",
			func() float64 { return float64(s.ckptAt.Load()) }),
		c("auditstream_detect_evicted_total", "Correlation groups and window events evicted at the state caps.",
			func() float64 { return float64(s.evicted.Load()) }),
	} {
		_ = reg.Register(col)
	}
}

// Position is the journal message sequence evaluated so far; with several
// journal partitions, the sum of Positions.
func (s *Service) Position() uint64 {
	var sum uint64
	for _, p := range s.Positions() {
		sum += p
	}
	return sum
}

// Positions is the message sequence evaluated so far in each journal
// partition (nil before the runtime started evaluating).
func (s *Service) Positions() []uint64 {
	ps := s.pos.Load()
	if ps == nil {
		return nil
	}
	out := make([]uint64, len(*ps))
	for i := range *ps {
		out[i] = (*ps)[i].Load()
	}
	return out
}

// Run evaluates until ctx ends; on every node, only the lease holder works.
func (s *Service) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if s.leases.Enabled() && !s.leases.Acquire(ctx, LeaseID) {
			select {
			case <-ctx.Done():
			case <-time.After(tickInterval):
			}
			continue
		}
		err := s.runOwned(ctx)
		if s.leases.Enabled() {
			s.leases.Release(context.WithoutCancel(ctx), LeaseID)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.Error("detections runtime stopped; restarting from the last checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// firstSeen asks the FirstSeenSource, first waiting (up to firstSeenWait)
// until it has folded the event's message, so that the answer is the one a
// replay gives (the source answers as of the event's position).
func (s *Service) firstSeen(ctx context.Context) FirstSeenFunc {
	src := s.deps.FirstSeen
	// lagging is set once a wait timed out: later tests do not wait again
	// (a stopped fold must not slow every event by firstSeenWait) until the
	// fold has caught up with one.
	lagging := false
	return func(org, user string, kind activity.Kind, value string, pos uint64) bool {
		if src.CoveredPos(pos) {
			lagging = false
		} else if lagging {
			s.fsLate.Add(1)
		} else {
			deadline := time.Now().Add(firstSeenWait)
			for !src.CoveredPos(pos) && ctx.Err() == nil {
				if time.Now().After(deadline) {
					s.fsLate.Add(1)
					lagging = true
					s.log.Warn("detections: firstSeen answered before the activity fold reached the event: the answer may differ on replay",
						"org", org, "position", pos, "waited", firstSeenWait)
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		return src.FirstSeen(ctx, org, user, kind, value, pos)
	}
}

// errLeaseLost stops an evaluation whose lease another node took.
var errLeaseLost = errors.New("detections lease lost")

// build makes the matcher of the current rules, restored from the
// checkpoint, and returns the sequence the checkpoint covers in each
// journal partition.
func (s *Service) build(ctx context.Context) (*Matcher, []uint64, error) {
	// This build takes the current rules: a change signalled before it is
	// already in them.
	select {
	case <-s.deps.Rules.Changed():
	default:
	}
	reg := s.deps.Rules.Registry()
	m, err := NewMatcher(reg, s.cfg.Engine, s.cfg.Envelope)
	if err != nil {
		return nil, nil, err
	}
	m.Enabled = s.deps.Rules.Enabled
	if s.deps.FirstSeen != nil {
		m.FirstSeen = s.firstSeen(ctx)
	} else if ids := reg.firstSeenRules(); len(ids) > 0 {
		s.log.Error("detections: rules using firstSeen never match: the runtime has no activity profiles (activity.enabled: true)", "rules", ids)
	}
	s.unindexed.Store(int64(m.Unindexed()))
	n := len(s.deps.Journal.Partitions())
	// A fresh store per run: another node may have written since.
	s.ckpt = newCheckpointStore(s.deps.StateKV, s.chunkSize)
	cp, err := s.ckpt.load(ctx)
	if errors.Is(err, errNoCheckpoint) {
		return m, make([]uint64, n), nil
	}
	if errors.Is(err, errSnapshotLost) {
		// Loudly: correlation windows open at the checkpoint start empty;
		// evaluation resumes at the checkpoint's positions (no detection is
		// raised twice, windows across the checkpoint may miss).
		s.log.Error("detections checkpoint's snapshot unreadable: correlation state starts empty", "err", err, "seq", cp.Seq)
		cp.Snapshot = nil
	} else if err != nil {
		return nil, nil, err
	}
	seqs, fits := cp.positions(n)
	if !fits {
		// Loudly: the journal's events are evaluated again from its start
		// (detections already journaled are not appended again).
		s.log.Error("detections checkpoint is of a journal with another number of partitions: correlation state starts empty, the journal is evaluated from its start",
			"checkpointPartitions", max(len(cp.Seqs), 1), "journalPartitions", n)
		return m, seqs, nil
	}
	if cp.Snapshot == nil {
		return m, seqs, nil
	}
	rep, err := m.Engine().Restore(cp.Snapshot)
	if err != nil {
		// Loudly: correlation windows open at the checkpoint start empty.
		s.log.Error("detections checkpoint unreadable: correlation state starts empty", "err", err, "seq", cp.Seq)
	} else if len(rep.Discarded) > 0 {
		s.log.Warn("detections: state of changed or removed rules discarded", "rules", rep.Discarded)
	}
	return m, seqs, nil
}

// journaled returns the uuids of the detection events in the journal after
// message seqs[i] of each partition i: those a previous run raised after
// its last checkpoint (or every one, without a checkpoint). Their
// repeats are not appended again, even after the journal's de-duplication
// window has passed (a restart long after a crash).
func (s *Service) journaled(ctx context.Context, seqs []uint64) (map[string]bool, error) {
	seen := map[string]bool{}
	for i, p := range s.deps.Journal.Partitions() {
		err := p.Scan(ctx, "", journal.ScanFrom{FromSeq: seqs[i] + 1}, func(recs []event.Record, _ uint64, _ time.Time) bool {
			for i := range recs {
				if recs[i].Source == DetectSource {
					seen[recs[i].Org+"\x00"+recs[i].UUID] = true
				}
			}
			return ctx.Err() == nil
		})
		if err != nil {
			return nil, err
		}
	}
	return seen, nil
}

func (s *Service) runOwned(ctx context.Context) error {
	m, pos, err := s.build(ctx)
	if err != nil {
		return err
	}
	for i, p := range s.deps.Journal.Partitions() {
		if u, err := p.Usage(ctx); err == nil && u.FirstSeq > pos[i]+1 && pos[i] > 0 {
			s.log.Error("detections: journal events after the checkpoint were removed before they were evaluated",
				"stream", p.Stream(), "checkpoint", pos[i], "firstSeq", u.FirstSeq, "messages", u.FirstSeq-pos[i]-1)
		}
	}
	// Also from the start (no checkpoint: a first start, or lost state):
	// detections already in the journal are not appended again.
	if s.seen, err = s.journaled(ctx, pos); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rd, err := openReader(rctx, s.deps.Journal, s.deps.Fanout, pos)
	if err != nil {
		return err
	}
	defer rd.stop()
	cur := make([]atomic.Uint64, len(pos))
	for i := range pos {
		cur[i].Store(pos[i])
	}
	s.pos.Store(&cur)
	s.log.Info("detections runtime evaluating", "after", pos, "rules", len(m.reg.rules), "unindexed", m.Unindexed())
	var (
		saved    = slices.Clone(pos)
		lastSave = time.Now()
		raised   []Raised
		tick     = time.NewTicker(tickInterval)
		// behind marks the partitions not yet read to their end; caught
		// is true once every partition has been.
		behind = make([]bool, len(pos))
		caught = true
		// reported are the loss counters last logged.
		reported lossCounts
	)
	for i, n := range rd.pending {
		behind[i] = n > 0
		caught = caught && n == 0
	}
	defer tick.Stop()
	save := func(ctx context.Context) error {
		// Suppression counts held back by the triage store are written
		// before the checkpoint moves past the firings they count.
		s.flushSuppressed(ctx, m)
		now := s.Positions()
		if s.freezeCheckpoint.Load() || (slices.Equal(now, saved) && time.Since(lastSave) < time.Minute) {
			return nil
		}
		st, err := s.ckpt.save(ctx, now, m.Engine())
		if err != nil {
			s.checkpointFailed(err)
			return err
		}
		s.checkpointSaved(st)
		saved, lastSave = now, time.Now()
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer c()
			if s.noFinalSave || (s.leases.Enabled() && !s.leases.Holds(LeaseID)) {
				return nil
			}
			return save(sctx)
		case err := <-rd.errc:
			return fmt.Errorf("read journal: %w", err)
		case <-s.deps.Rules.Changed():
			// New rules: save, then start again with the new engine (its
			// Restore drops the state of changed rules).
			if err := save(ctx); err != nil {
				return err
			}
			return nil
		case <-tick.C:
			if s.leases.Enabled() && !s.leases.Acquire(ctx, LeaseID) {
				return errLeaseLost
			}
			if time.Since(lastSave) >= s.cfg.CheckpointInterval {
				_ = save(ctx) // failures are reported by checkpointFailed
			}
			s.reportLosses(m, &reported)
			// Idle orgs' clocks follow the wall clock only once the journal
			// is read to its end: advancing during a backlog would make
			// the backlog's events late.
			if !caught {
				s.flushSuppressed(ctx, m)
				continue
			}
			raised = m.Advance(time.Now(), raised[:0])
			if err := s.emit(ctx, raised); err != nil {
				return err
			}
			s.flushSuppressed(ctx, m)
			s.observe(m)
		case b, ok := <-rd.msgs:
			if !ok {
				return fmt.Errorf("journal reader stopped")
			}
			raised = raised[:0]
			for i := range b.recs {
				raised = m.Feed(&b.recs[i], raised)
			}
			if err := s.emit(ctx, raised); err != nil {
				return err
			}
			if ss := m.TakeSuppressed(); len(ss) > 0 && s.deps.Suppressed != nil {
				s.deps.Suppressed(ctx, ss)
			}
			behind[b.part] = b.pending > 0
			caught = !slices.Contains(behind, true)
			cur[b.part].Store(b.seq)
			s.observe(m)
		}
	}
}

// flushSuppressed hands the firings suppressed since the last call to
// Deps.Suppressed, then calls it with none: write every count held back.
func (s *Service) flushSuppressed(ctx context.Context, m *Matcher) {
	if s.deps.Suppressed == nil {
		return
	}
	if ss := m.TakeSuppressed(); len(ss) > 0 {
		s.deps.Suppressed(ctx, ss)
	}
	s.deps.Suppressed(ctx, nil)
}

// checkpointFailed says loudly that a checkpoint could not be saved: error
// log, metric, health condition (until a save succeeds).
func (s *Service) checkpointFailed(err error) {
	n := s.ckptFailed.Add(1)
	s.log.Error("detections checkpoint NOT saved: a restart re-evaluates from the last saved checkpoint",
		"err", err, "failures", n)
	s.deps.Health.Set(HealthCheckpoint, health.Degraded,
		fmt.Sprintf("detections checkpoint not saved (%d failures): %v; a restart re-evaluates the journal from the last saved checkpoint", n, err))
}

func (s *Service) checkpointSaved(st savedCheckpoint) {
	s.ckptBytes.Store(int64(st.Bytes))
	s.ckptChunks.Store(int64(st.Chunks))
	s.ckptAt.Store(time.Now().Unix())
	s.deps.Health.Clear(HealthCheckpoint)
}

func (s *Service) observe(m *Matcher) {
	st := m.Stats()
	s.events.Store(st.Events)
	s.supp.Store(st.Suppressed)
	s.late.Store(st.Late)
	var ev uint64
	for _, rs := range m.Engine().Stats() {
		ev += rs.EvictedGroups + rs.EvictedEvents
	}
	s.evicted.Store(ev)
}

// lossCounts are the counters of inputs a runtime did not apply.
type lossCounts struct{ late, evicted, bad, chain uint64 }

// reportLosses logs, at most once a tick, matches that were not applied:
// too late, evicted at the state caps, or events that could not be parsed.
// The metrics count them too; the log line says it where operators look.
func (s *Service) reportLosses(m *Matcher, last *lossCounts) {
	st := m.Stats()
	cur := lossCounts{late: st.Late, evicted: s.evicted.Load(), bad: st.BadEvents, chain: st.ChainStopped}
	if cur.late > last.late {
		s.log.Warn("detections: matches arrived later than allowedLateness and were not applied to correlations",
			"count", cur.late-last.late)
	}
	if cur.evicted > last.evicted {
		s.log.Warn("detections: correlation state evicted at maxGroupsPerRule/maxEventsPerWindow", "count", cur.evicted-last.evicted)
	}
	if cur.bad > last.bad {
		s.log.Warn("detections: events that are not valid JSON were not evaluated", "count", cur.bad-last.bad)
	}
	if cur.chain > last.chain {
		s.log.Warn("detections: detection events not evaluated: their alert-on-alert chain is MaxChainDepth deep",
			"count", cur.chain-last.chain, "maxChainDepth", MaxChainDepth)
	}
	*last = cur
}

// emit appends detection events, retrying until the journal takes them: an
// evaluation never goes past a detection it could not store.
func (s *Service) emit(ctx context.Context, rs []Raised) error {
	if len(s.seen) > 0 {
		rs = slices.DeleteFunc(rs, func(r Raised) bool { return s.seen[r.Record.Org+"\x00"+r.Record.UUID] })
	}
	if len(rs) == 0 {
		return nil
	}
	recs := make([]event.Record, len(rs))
	for i := range rs {
		recs[i] = rs[i].Record
	}
	wait := appendRetry
	for {
		_, err := s.deps.Journal.Append(ctx, recs)
		if err == nil {
			break
		}
		s.log.Warn("detections: appending detection events", "err", err, "events", len(recs))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
	s.raised.Add(uint64(len(rs)))
	for _, r := range rs {
		s.log.Info("detection raised", "rule", r.Info.ID, "org", r.Record.Org, "id", r.Record.UUID, "level", r.Info.Level)
	}
	if s.deps.Raised != nil {
		s.deps.Raised(ctx, rs)
	}
	return nil
}

// StaticRules is a RuleSource of one fixed registry with every rule enabled.
type StaticRules struct{ Reg *Registry }

// Registry returns the fixed registry.
func (r StaticRules) Registry() *Registry { return r.Reg }

// Changed never fires.
func (StaticRules) Changed() <-chan struct{} { return nil }

// Enabled enables every rule.
func (StaticRules) Enabled(string, string) bool { return true }
