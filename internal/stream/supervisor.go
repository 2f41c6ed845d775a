package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/sink"
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
	// batch in flight.
	StopTimeout time.Duration
	// StatusKV, when set, keeps each stream's status so it survives
	// restarts and every node can read it.
	StatusKV jetstream.KeyValue
	// Runner tunes every runner (backoff, max age); Def, Sink, Filter,
	// Journal, Log, Metrics and Status are filled in per stream.
	Runner RunnerConfig
}

// Supervisor keeps one runner per active stream in step with the Store.
type Supervisor struct {
	cfg SupervisorConfig

	mu       sync.Mutex
	running  map[string]*running
	statuses map[string]*Status
	known    map[string]Definition // last definitions seen, for cleanup
}

type running struct {
	def    Definition
	soft   context.CancelFunc
	hard   context.CancelFunc
	done   chan struct{}
	sink   sink.Sink
	paused bool
}

// NewSupervisor prepares a supervisor; Run starts it.
func NewSupervisor(cfg SupervisorConfig) *Supervisor {
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 10 * time.Second
	}
	return &Supervisor{cfg: cfg, running: map[string]*running{}, statuses: map[string]*Status{},
		known: map[string]Definition{}}
}

// Run reconciles runners with the store until ctx ends, then stops every
// runner, letting each finish its batch within StopTimeout.
func (s *Supervisor) Run(ctx context.Context) {
	changes := s.cfg.Store.Changes()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		s.reconcile(ctx)
		select {
		case <-ctx.Done():
			s.stopAll()
			s.saveStatuses(context.Background())
			return
		case <-changes:
		case <-tick.C:
			s.updateLagMetrics(ctx)
			s.saveStatuses(ctx)
		}
	}
}

// StatusOf returns the live status object of a stream (creating it).
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
	return kvstore.GetJSON[Snapshot](s.cfg.StatusKV, id)
}

// saveStatuses writes the status of every stream running here to the KV
// bucket.
func (s *Supervisor) saveStatuses(ctx context.Context) {
	if s.cfg.StatusKV == nil {
		return
	}
	s.mu.Lock()
	local := make(map[string]*Status, len(s.running))
	for id := range s.running {
		local[id] = s.statuses[id]
	}
	s.mu.Unlock()
	for id, st := range local {
		if st == nil {
			continue
		}
		snap := st.Snapshot()
		snap.ID = id
		if err := kvstore.PutJSON(ctx, s.cfg.StatusKV, id, snap); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("save stream status", "stream", id, "err", err)
		}
	}
}

// persistStatus saves one stream's status now (retention records a gap of
// a stream that may not run here, e.g. an inactive one).
func (s *Supervisor) persistStatus(ctx context.Context, id string) error {
	if s.cfg.StatusKV == nil {
		return nil
	}
	snap := s.StatusOf(id).Snapshot()
	snap.ID = id
	return kvstore.PutJSON(ctx, s.cfg.StatusKV, id, snap)
}

func sameRun(a, b Definition) bool {
	return a.Type == b.Type && a.Org == b.Org && a.Epoch == b.Epoch && a.Resume == b.Resume &&
		bytes.Equal(a.Settings, b.Settings) && bytes.Equal(a.Filter, b.Filter)
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
	var cleanup []Definition
	for id, r := range s.running {
		d, ok := want[id]
		if !ok || d.Status != StatusActive || !sameRun(r.def, d) {
			stop = append(stop, r)
			delete(s.running, id)
		}
	}
	for id, old := range s.known {
		if d, ok := want[id]; !ok {
			cleanup = append(cleanup, old)
			delete(s.statuses, id)
			delete(s.known, id)
		} else if d.Epoch != old.Epoch {
			cleanup = append(cleanup, Definition{ID: old.ID, Epoch: old.Epoch, Settings: []byte("epoch")})
		}
	}
	for id, d := range want {
		s.known[id] = d
	}
	s.mu.Unlock()

	for _, r := range stop {
		s.stopRunner(r)
	}
	for _, d := range cleanup {
		s.cleanup(d)
	}
	for _, d := range defs {
		st := s.StatusOf(d.ID)
		if d.Status != StatusActive {
			st.setState(StateInactive)
			continue
		}
		s.mu.Lock()
		_, ok := s.running[d.ID]
		s.mu.Unlock()
		if ok {
			continue
		}
		s.start(ctx, d, st)
	}
}

func (s *Supervisor) start(ctx context.Context, d Definition, st *Status) {
	log := s.cfg.Log.With("stream", d.ID, "sink", d.Type)
	sk, filter, err := s.cfg.Build(d)
	if err != nil {
		// A definition the API accepted should always build; if it does
		// not (a config file edited by hand), say so in the status.
		st.failure(StateError, err, time.Now(), false)
		log.Error("cannot start log stream", "err", err)
		s.mu.Lock()
		s.running[d.ID] = &running{def: d, soft: func() {}, hard: func() {}, done: closedChan()}
		s.mu.Unlock()
		return
	}
	rc := s.cfg.Runner
	rc.Def, rc.Sink, rc.Filter, rc.Journal, rc.Log, rc.Metrics, rc.Status = d, sk, filter, s.cfg.Journal, s.cfg.Log, s.cfg.Metrics, st
	soft, cancelSoft := context.WithCancel(ctx)
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	r := &running{def: d, soft: cancelSoft, hard: cancelHard, done: make(chan struct{}), sink: sk}
	s.mu.Lock()
	s.running[d.ID] = r
	s.mu.Unlock()
	log.Info("log stream started")
	go func() {
		defer close(r.done)
		_ = NewRunner(rc).Run(soft, hard)
	}()
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (s *Supervisor) stopRunner(r *running) {
	r.soft()
	t := time.AfterFunc(s.cfg.StopTimeout, r.hard)
	<-r.done
	t.Stop()
	r.hard()
	if r.sink != nil {
		cctx, cancel := context.WithTimeout(context.Background(), s.cfg.StopTimeout)
		if err := r.sink.Close(cctx); err != nil {
			s.cfg.Log.Warn("close sink", "stream", r.def.ID, "err", err)
		}
		cancel()
	}
}

func (s *Supervisor) stopAll() {
	s.mu.Lock()
	all := make([]*running, 0, len(s.running))
	for id, r := range s.running {
		all = append(all, r)
		delete(s.running, id)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Go(func() { s.stopRunner(r) })
	}
	wg.Wait()
}

// cleanup removes what a deleted stream (or a replaced epoch) left in the
// journal. A definition with Settings "epoch" only retires its consumer.
func (s *Supervisor) cleanup(d Definition) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.cfg.Journal.JetStream().DeleteConsumer(ctx, s.cfg.Journal.StreamName(), d.ConsumerName())
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		s.cfg.Log.Warn("delete consumer", "stream", d.ID, "err", err)
	}
	if string(d.Settings) == "epoch" {
		return
	}
	if s.cfg.StatusKV != nil {
		_ = s.cfg.StatusKV.Delete(ctx, d.ID)
	}
	if err := PurgeDeadLetters(ctx, s.cfg.Journal, d.ID); err != nil {
		s.cfg.Log.Warn("purge dead letters", "stream", d.ID, "err", err)
	}
	s.cfg.Metrics.forget(d.ID)
}

// Snapshot returns the status of a stream with its current lag: the live
// status when the stream runs on this node, else the last one saved by the
// node that runs it.
func (s *Supervisor) Snapshot(ctx context.Context, d Definition) Snapshot {
	s.mu.Lock()
	_, here := s.running[d.ID]
	s.mu.Unlock()
	var snap Snapshot
	if saved, ok := s.loadStatus(d.ID); ok && !here {
		snap = saved
	} else {
		snap = s.StatusOf(d.ID).Snapshot()
	}
	snap.ID = d.ID
	if d.Status != StatusActive {
		snap.State = StateInactive
	}
	snap.LagEvents, snap.LagSeconds = s.lag(ctx, d)
	return snap
}

// lag reports how many events of the stream's subject are not yet done and
// how old the oldest of them is.
func (s *Supervisor) lag(ctx context.Context, d Definition) (uint64, float64) {
	js := s.cfg.Journal.JetStream()
	c, err := js.Consumer(ctx, s.cfg.Journal.StreamName(), d.ConsumerName())
	if err != nil {
		return 0, 0
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, 0
	}
	n := info.NumPending + uint64(info.NumAckPending)
	if n == 0 {
		return 0, 0
	}
	stream, err := js.Stream(ctx, s.cfg.Journal.StreamName())
	if err != nil {
		return n, 0
	}
	m, err := stream.GetMsg(ctx, info.AckFloor.Stream+1, jetstream.WithGetMsgSubject(d.FilterSubject()))
	if err != nil {
		return n, 0
	}
	return n, max(0, time.Since(m.Time).Seconds())
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
