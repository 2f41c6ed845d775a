package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/supervise"
)

// BuildFunc makes the sink and filter for a definition. It is the one
// place that maps a stream type to its destination.
type BuildFunc func(def Definition) (sink.Sink, Filter, error)

// SupervisorConfig is what a Supervisor needs.
type SupervisorConfig struct {
	Store   *Store
	Journal *journal.Journal
	Build   BuildFunc
	Log     *slog.Logger
	Metrics *Metrics
	// StopTimeout bounds how long a stopping runner may spend finishing its
	// batch in flight; at most half the LeaseTTL when streams are owned.
	StopTimeout time.Duration
	// StatusKV, when set, keeps each stream's status so it survives
	// restarts and every node can read it.
	StatusKV jetstream.KeyValue
	// LeaseKV and Nodes, when both set, make each stream run on one node
	// of those sharing the journal (lease.Bucket, and this node's
	// heartbeat); without them every stream runs here.
	LeaseKV jetstream.KeyValue
	Nodes   *lease.Nodes
	// LeaseTTL is how long a stream's lease lasts unrenewed (LeaseTTL if
	// zero); the supervisor reconciles, and so renews, four times per TTL
	// or every 2 s, whichever is more often.
	LeaseTTL time.Duration
	// Now returns the current time for the leases (time.Now if nil).
	Now func() time.Time
	// Runner tunes every runner (backoff, max age); Def, Sink, Filter,
	// Journal, Log, Metrics and Status are filled in per stream.
	Runner RunnerConfig
}

// Supervisor keeps one runner per active stream in step with the Store
// (a supervise.Core with the log stream's hooks: epochs, the soft and hard
// stop, the sink's Close and lag).
type Supervisor struct {
	cfg  SupervisorConfig
	own  *ownership
	core *supervise.Core[Definition, *Status, Snapshot]
}

// NewSupervisor prepares a supervisor; Run starts it.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = LeaseTTL
	}
	s := &Supervisor{cfg: cfg}
	if cfg.LeaseKV != nil && cfg.Nodes != nil {
		// A stopping runner finishes its batch while its lease and those
		// of the other streams go unrenewed (the reconcile pass waits for
		// it): half a TTL leaves room for the pass.
		s.cfg.StopTimeout = min(s.cfg.StopTimeout, cfg.LeaseTTL/2)
		s.own = &ownership{nodes: cfg.Nodes, now: cfg.Now, ttl: cfg.LeaseTTL, freeSince: map[string]time.Time{},
			leases: lease.New(lease.Config{KV: cfg.LeaseKV, Prefix: LeasePrefix, Node: cfg.Nodes.Self(), TTL: cfg.LeaseTTL, Now: cfg.Now})}
	}
	s.core = supervise.New(supervise.Deps[Definition, *Status, Snapshot]{
		Catalog: cfg.Store, Kind: streams{s}, NewStatus: func() *Status { return &Status{} },
		// Stream statuses are kept under their bare ids.
		Statuses: supervise.StatusStore[Snapshot]{KV: cfg.StatusKV},
		Log:      cfg.Log, Noun: "stream", Interval: min(supervise.DefaultInterval, cfg.LeaseTTL/4),
	})
	return s
}

// Run reconciles runners with the store until ctx ends, then stops every
// runner, letting each finish its batch within StopTimeout, and saves
// their statuses.
func (s *Supervisor) Run(ctx context.Context) { s.core.Run(ctx) }

// Local returns the ids of the streams whose runners run on this node,
// sorted.
func (s *Supervisor) Local() []string {
	return slices.Sorted(maps.Keys(s.core.Works()))
}

// StatusOf returns the live status object of a stream (creating it).
func (s *Supervisor) StatusOf(id string) *Status { return s.core.StatusOf(id) }

// persistStatus saves one stream's status now (retention records a gap of
// a stream that may not run here, e.g. an inactive one). When streams are
// owned, an active stream's status is saved only by its owner (whose
// retention records the gap too); an inactive one has no owner.
func (s *Supervisor) persistStatus(ctx context.Context, id string) error {
	if s.own.enabled() && !s.own.leases.Holds(id) {
		if d, ok := s.cfg.Store.Get(id); ok && d.Status == StatusActive {
			return nil
		}
	}
	return s.core.SaveStatus(ctx, id)
}

// Snapshot returns the status of a stream with its current lag: the live
// status when the stream runs on this node, else the last one saved by the
// node that runs it.
func (s *Supervisor) Snapshot(ctx context.Context, d Definition) Snapshot {
	snap := s.core.Current(d.ID)
	if d.Status != StatusActive {
		snap.State = StateInactive
	}
	snap.LagEvents, snap.LagSeconds = s.lag(ctx, d)
	snap.PerMinute = PerMinuteAt(snap.PerMinute, s.cfg.Now())
	return snap
}

// streams are the log stream's hooks of the supervise.Core.
type streams struct{ s *Supervisor }

var (
	_ supervise.Kind[Definition, *Status] = streams{}
	_ supervise.Retirer[Definition]       = streams{}
	_ supervise.Keeper[Definition]        = streams{}
	_ supervise.Fencer                    = streams{}
)

// Same reports whether a runner of a may go on serving b: the name may
// change under it, the destination, filter, epoch and resume count may not.
func (streams) Same(a, b Definition) bool {
	return a.Type == b.Type && a.Org == b.Org && a.Epoch == b.Epoch && a.Resume == b.Resume &&
		bytes.Equal(a.Settings, b.Settings) && bytes.Equal(a.Filter, b.Filter)
}

// Active reports whether the stream is ACTIVE.
func (streams) Active(d Definition) bool { return d.Status == StatusActive }

// Idle marks a deactivated stream's status.
func (streams) Idle(_ Definition, st *Status) { st.setState(StateInactive) }

// Generation is the stream's epoch: a replay starts a new consumer.
func (streams) Generation(d Definition) int { return d.Epoch }

// Retire deletes the journal consumer of old's epoch.
func (k streams) Retire(ctx context.Context, old Definition) { k.s.deleteConsumer(ctx, old) }

// Forget removes what a deleted stream left in the journal: its consumer,
// dead letters and metrics.
func (k streams) Forget(ctx context.Context, d Definition) {
	s := k.s
	s.deleteConsumer(ctx, d)
	if err := PurgeDeadLetters(ctx, s.cfg.Journal, d.ID); err != nil {
		s.cfg.Log.Warn("purge dead letters", "stream", d.ID, "err", err)
	}
	s.cfg.Metrics.forget(d.ID)
}

// Keep renews the lease of a stream running here; a lost lease stops the
// runner at once, another preferred live node makes this one give the
// stream up.
func (k streams) Keep(ctx context.Context, d Definition, w supervise.Work) bool {
	r := w.(*running)
	if r.fence.tripped() {
		r.lost.Store(true)
		return false
	}
	keep, lost := k.s.own.keep(ctx, d.ID)
	if lost {
		r.lost.Store(true)
	}
	if keep {
		r.fence.extend()
	}
	return keep
}

// MaySave lets only the owner of a stream save its status, while its
// lease holds.
func (k streams) MaySave(id string) bool { return !k.s.own.enabled() || k.s.own.leases.Holds(id) }

// Tick updates the lag metrics.
func (k streams) Tick(ctx context.Context) { k.s.updateLagMetrics(ctx) }

func (s *Supervisor) deleteConsumer(ctx context.Context, d Definition) {
	j := s.cfg.Journal
	parts := []*journal.Partition{j.PartitionFor(d.JournalOrg())}
	if d.JournalOrg() == "" {
		parts = j.Partitions() // one consumer in each
	}
	for _, p := range parts {
		err := j.JetStream().DeleteConsumer(ctx, p.Stream(), d.ConsumerName())
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			s.cfg.Log.Warn("delete consumer", "stream", d.ID, "journal", p.Stream(), "err", err)
		}
	}
}

// Start builds the stream's sink and starts its runner, once this node
// owns the stream (when streams are owned); it goes on from the status
// the previous owner saved.
func (k streams) Start(ctx context.Context, d Definition, st *Status) supervise.Work {
	s := k.s
	if s.own.enabled() {
		if !s.own.claim(ctx, d.ID) {
			return nil
		}
		s.core.Reload(d.ID)
	}
	log := s.cfg.Log.With("stream", d.ID, "sink", d.Type)
	sk, filter, err := s.cfg.Build(d)
	if err != nil {
		// A definition the API accepted should always build; if it does
		// not (a config file edited by hand), say so in the status.
		st.failure(time.Now(), StateError, err, noRetry)
		log.Error("cannot start log stream", "err", err)
		return &running{s: s, def: d, soft: func() {}, hard: func() {}, done: closedChan(), owned: s.own.enabled()}
	}
	rc := s.cfg.Runner
	rc.Def, rc.Sink, rc.Filter, rc.Journal, rc.Log, rc.Metrics, rc.Status = d, sk, filter, s.cfg.Journal, s.cfg.Log, s.cfg.Metrics, st
	soft, cancelSoft := context.WithCancel(ctx)
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	r := &running{s: s, def: d, soft: cancelSoft, hard: cancelHard, done: make(chan struct{}), sink: sk, owned: s.own.enabled()}
	r.fence = s.own.newFence(d.ID, func() {
		log.Warn("log stream lease not renewed in time: stopped")
		cancelSoft()
		cancelHard()
	})
	rc.Fenced = r.fence.expired
	log.Info("log stream started")
	go func() {
		defer close(r.done)
		_ = NewRunner(rc).Run(soft, hard)
	}()
	return r
}

// running is one stream's runner.
type running struct {
	s    *Supervisor
	def  Definition
	soft context.CancelFunc
	hard context.CancelFunc
	done chan struct{}
	sink sink.Sink
	// owned: the stream runs here under a lease, fenced by fence; lost
	// is set once the lease is lost.
	owned bool
	fence *fence
	lost  atomic.Bool
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// ownerStopTimeout bounds the status save and lease release of an owner
// giving a stream up.
const ownerStopTimeout = 5 * time.Second

// Stop ends the runner softly, hard after StopTimeout, and closes its
// sink (within StopTimeout too; ctx is not used). An owner then saves
// the status and gives the lease up; a runner whose lease was lost stops
// hard at once and writes nothing.
func (r *running) Stop(context.Context) {
	if r.lost.Load() || r.fence.tripped() {
		r.hard()
	}
	r.soft()
	t := time.AfterFunc(r.s.cfg.StopTimeout, r.hard)
	<-r.done
	t.Stop()
	r.hard()
	// The fence stays armed while the runner finishes its batch: a lease
	// that runs out meanwhile stops it hard, and then counts as lost.
	r.fence.disarm()
	lost := r.lost.Load() || r.fence.tripped()
	if r.sink != nil {
		cctx, cancel := context.WithTimeout(context.Background(), r.s.cfg.StopTimeout)
		if err := r.sink.Close(cctx); err != nil {
			r.s.cfg.Log.Warn("close sink", "stream", r.def.ID, "err", err)
		}
		cancel()
	}
	if !r.owned {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ownerStopTimeout)
	defer cancel()
	if lost {
		// Nothing is saved. The delete is fenced: it removes the lease only
		// if this node's last renewal is still the latest write (the fence
		// stopped the runner, yet the renewal went through late), so
		// another node need not wait for it to expire.
		r.s.own.leases.Release(ctx, r.def.ID)
		r.s.cfg.Log.Warn("log stream lease lost: stopped at once", "stream", r.def.ID)
		return
	}
	if err := r.s.core.SaveStatus(ctx, r.def.ID); err != nil {
		r.s.cfg.Log.Warn("save stream status", "stream", r.def.ID, "err", err)
	}
	r.s.own.leases.Release(ctx, r.def.ID)
}

// lag reports how many events of the stream's subject are not yet done and
// how old the oldest of them is (over the partitions it reads).
func (s *Supervisor) lag(ctx context.Context, d Definition) (uint64, float64) {
	parts, infos, err := consumerInfos(ctx, s.cfg.Journal, d)
	if err != nil {
		return 0, 0
	}
	var n uint64
	var age float64
	for i, info := range infos {
		k := info.NumPending + uint64(info.NumAckPending)
		if k == 0 {
			continue
		}
		n += k
		next, ok, err := parts[i].NextSeq(ctx, d.JournalOrg(), info.AckFloor.Stream+1)
		if err != nil || !ok {
			continue
		}
		st, err := s.cfg.Journal.JetStream().Stream(ctx, parts[i].Stream())
		if err != nil {
			continue
		}
		m, err := st.GetMsg(ctx, next)
		if err != nil {
			continue
		}
		age = max(age, time.Since(m.Time).Seconds())
	}
	return n, age
}

func (s *Supervisor) updateLagMetrics(ctx context.Context) {
	for _, d := range s.cfg.Store.List() {
		n, secs := s.lag(ctx, d)
		s.cfg.Metrics.LagEvents.WithLabelValues(d.ID).Set(float64(n))
		s.cfg.Metrics.LagSeconds.WithLabelValues(d.ID).Set(secs)
	}
}

// Sink returns a fresh sink for d, for work outside the runner such as a
// redrive; the caller closes it.
func (s *Supervisor) Sink(d Definition) (sink.Sink, error) {
	sk, _, err := s.cfg.Build(d)
	return sk, err
}
