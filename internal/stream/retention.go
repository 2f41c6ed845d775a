package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// What the journal does when it reaches journal.maxBytes with events a log
// stream has not delivered (journal.whenFull).
const (
	// WhenFullProtect keeps every event an ACTIVE stream has not
	// delivered: retention purges only below the slowest active stream,
	// and once the journal is full ingest answers 507 until that stream
	// catches up or is deactivated.
	WhenFullProtect = "protect"
	// WhenFullDropOldest purges the oldest events anyway and reports, per
	// stream, what it lost (status droppedByRetention, a metric, a WARN
	// and a system.log_stream.gap event).
	WhenFullDropOldest = "dropOldest"
)

// Retention thresholds, as fractions of journal.maxBytes.
const (
	// DefaultHighWater is where retention starts purging, leaving room
	// for the events in flight (and its own System Log events) before
	// JetStream refuses appends at the cap.
	DefaultHighWater = 0.90
	// DefaultTarget is where a purge stops: purging in steps of 5% of the
	// cap keeps purges rare and the journal, which is also the query
	// store, as full as allowed.
	DefaultTarget = 0.85
	// DefaultWarnAt raises system.journal.capacity.warning once.
	DefaultWarnAt = 0.80
	// DefaultRearmBelow re-arms the warning; the gap avoids a warning each
	// time usage wobbles around DefaultWarnAt.
	DefaultRearmBelow = 0.75
	// DefaultRetentionInterval is how often usage is checked; a refused
	// append triggers a check at once.
	DefaultRetentionInterval = 2 * time.Second
)

// Health condition names set by retention.
const (
	ConditionRetention   = "journal.retention"
	ConditionDeadLetters = "journal.deadLetters"
)

// RetentionConfig is what a Retention needs.
type RetentionConfig struct {
	Journal    *journal.Journal
	Supervisor *Supervisor
	// WhenFull is WhenFullProtect (default) or WhenFullDropOldest.
	WhenFull string
	// Health receives the journal.retention and journal.deadLetters
	// conditions (Degraded: queries and delivery go on; only ingest is
	// refused, with 507 and Retry-After).
	Health   *health.Board
	Log      *slog.Logger
	Registry prometheus.Registerer
	// SystemOrg receives the journal-wide System Log events (capacity,
	// blocked); a stream's gap event goes to the stream's org.
	SystemOrg string
	// Interval, HighWater, Target, WarnAt, RearmBelow: zero values take
	// the defaults above.
	Interval                              time.Duration
	HighWater, Target, WarnAt, RearmBelow float64
}

// Blocker is an active log stream whose undelivered events keep retention
// from freeing journal space.
type Blocker struct {
	ID   string
	Name string
	Org  string
	// OldestUndelivered is the journal sequence of the oldest event the
	// stream has not delivered.
	OldestUndelivered uint64
}

// FullError says that the journal is full and what holds it: the active
// streams that have not delivered its oldest events (none when a request
// is simply larger than the space left).
type FullError struct {
	Blockers []Blocker
	Usage    journal.Usage
}

func (e *FullError) Error() string {
	if len(e.Blockers) == 0 {
		return fmt.Sprintf("journal full (%d of %d bytes)", e.Usage.Bytes, e.Usage.MaxBytes)
	}
	ids := make([]string, len(e.Blockers))
	for i, b := range e.Blockers {
		ids[i] = b.ID
	}
	return fmt.Sprintf("journal full (%d of %d bytes): log streams %s have not delivered the oldest events",
		e.Usage.Bytes, e.Usage.MaxBytes, strings.Join(ids, ", "))
}

// Unwrap makes a FullError a journal.ErrFull.
func (e *FullError) Unwrap() error { return journal.ErrFull }

// Retention keeps the journal under journal.maxBytes by purging its oldest
// events, and makes sure none goes unnoticed: in protect mode it never
// purges what an active log stream has not delivered (ingest is refused
// instead, see MakeRoom), and whatever a stream does lose (dropOldest,
// inactive streams, maxAge, loss) is recorded in its status, a metric, a
// WARN and a system.log_stream.gap event. Safe for concurrent use.
type Retention struct {
	cfg RetentionConfig
	log *slog.Logger

	usageRatio  prometheus.Gauge
	dlRatio     prometheus.Gauge
	blockedG    prometheus.Gauge
	purged      prometheus.Counter
	capWarnings *prometheus.CounterVec

	mu       sync.Mutex // serialises checks
	lastAt   time.Time
	lastErr  error
	warn     warner
	dlWarn   warner
	blockers []Blocker
	blocking map[string]bool
	pending  []event.Record // System Log events not stored yet

	blocked atomic.Bool

	stateMu sync.Mutex
	current []Blocker
}

// warner fires once when usage crosses its threshold, re-armed below.
type warner struct{ fired bool }

// NewRetention prepares retention; Run starts it.
func NewRetention(cfg RetentionConfig) *Retention {
	if cfg.WhenFull == "" {
		cfg.WhenFull = WhenFullProtect
	}
	cfg.Interval = cmp.Or(cfg.Interval, DefaultRetentionInterval)
	cfg.HighWater = cmp.Or(cfg.HighWater, DefaultHighWater)
	cfg.Target = cmp.Or(cfg.Target, DefaultTarget)
	cfg.WarnAt = cmp.Or(cfg.WarnAt, DefaultWarnAt)
	cfg.RearmBelow = cmp.Or(cfg.RearmBelow, DefaultRearmBelow)
	f := promauto.With(cfg.Registry) // registers with it, when there is one
	return &Retention{cfg: cfg, log: cfg.Log.With("component", "retention"), blocking: map[string]bool{},
		usageRatio: f.NewGauge(prometheus.GaugeOpts{Name: "auditstream_journal_usage_ratio",
			Help: "Bytes stored by the journal over journal.maxBytes."}),
		dlRatio: f.NewGauge(prometheus.GaugeOpts{Name: "auditstream_journal_dead_letters_usage_ratio",
			Help: "Bytes stored by the dead-letter store over journal.deadLetters.maxBytes."}),
		blockedG: f.NewGauge(prometheus.GaugeOpts{Name: "auditstream_journal_retention_blocked",
			Help: "1 while the journal is near its cap and undelivered events of active log streams keep retention from purging."}),
		purged: f.NewCounter(prometheus.CounterOpts{Name: "auditstream_journal_purged_events_total",
			Help: "Events retention purged from the journal to stay under journal.maxBytes."}),
		capWarnings: f.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_journal_capacity_warnings_total",
			Help: "Times a store passed 80% of its cap."}, []string{"store"}),
	}
}

// checkCause is why Retention.check runs.
type checkCause int

const (
	periodic checkCause = iota // the Interval ticked
	refused                    // an append was just refused at the cap
)

// Run checks the journal every Interval, and at once when an append was
// refused at the cap, until ctx ends.
func (r *Retention) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		r.mu.Lock()
		err := r.check(ctx, periodic)
		r.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			r.log.Warn("journal retention check", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.cfg.Journal.Full():
			if err := r.makeRoom(ctx, time.Now()); err != nil && ctx.Err() == nil && !errors.Is(err, journal.ErrFull) {
				r.log.Warn("journal retention check", "err", err)
			}
		}
	}
}

// MakeRoom is called when an append was refused because the journal is
// full. It purges what retention allows and returns nil when the append
// may be retried, or a *FullError naming the streams that hold the
// journal full.
func (r *Retention) MakeRoom(ctx context.Context) error {
	return r.makeRoom(ctx, time.Now())
}

func (r *Retention) makeRoom(ctx context.Context, failedAt time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastAt.After(failedAt) {
		// A check ran since this append failed (concurrent refusals, or
		// the periodic check): its answer holds.
		return r.lastErr
	}
	if err := r.check(ctx, refused); err != nil {
		return err
	}
	return r.lastErr
}

// Admit answers a *FullError while retention is blocked: the journal is
// past the high-water mark (90% of journal.maxBytes) and active streams
// have not delivered its oldest events. Ingest calls it before appending,
// so the last 10% stay for events already in flight and the service's
// own System Log events. While blocked it checks again at most every
// 100 ms, so that a stream that caught up (or was deactivated) lets
// ingest in at once.
func (r *Retention) Admit(ctx context.Context) error {
	if !r.blocked.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.lastAt) > 100*time.Millisecond {
		if err := r.check(ctx, periodic); err != nil {
			return err
		}
	}
	if r.blocked.Load() {
		return r.lastErr
	}
	return nil
}

// Blockers returns the streams holding the journal full, as of the last
// check.
func (r *Retention) Blockers() []Blocker {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	return slices.Clone(r.current)
}

// reader is a stream's journal consumer as retention sees it.
type reader struct {
	def Definition
	// floor is the sequence below which the stream has nothing of its own
	// left to deliver: its ack floor, moved up past other orgs' events for
	// a stream of one org, and to the newest event when it has nothing
	// pending.
	floor uint64
	// acked is the consumer's ack floor as JetStream reports it.
	acked uint64
}

// check measures the journal, reports gaps, purges what it may and
// updates the blocked state. cause says why it runs: an append refused
// at the cap makes it purge even below the high-water mark. With several
// journal partitions each is checked and purged against its share of
// journal.maxBytes; the blocked state and the warnings follow the fullest.
// r.mu is held.
func (r *Retention) check(ctx context.Context, cause checkCause) error {
	// lastAt is when the check measured the journal, not when it ended:
	// an append refused while a check ran may have filled the journal
	// after the check looked, and that check does not answer for it.
	measured := time.Now()
	urgent := cause == refused
	parts := r.cfg.Journal.Partitions()
	var blockers []Blocker
	var worst, worstBefore journal.Usage
	full := false
	for i, p := range parts {
		before, u, b, err := r.checkPartition(ctx, p, urgent, len(parts) == 1)
		if err != nil {
			return err
		}
		blockers = append(blockers, b...)
		if i == 0 || u.Ratio() > worst.Ratio() {
			worst = u
		}
		if i == 0 || before.Ratio() > worstBefore.Ratio() {
			worstBefore = before
		}
		full = full || (urgent && u.MaxBytes > 0 && u.Ratio() >= r.cfg.HighWater)
	}
	if len(parts) > 1 {
		r.usageRatio.Set(worst.Ratio())
		r.capacityWarning(&r.warn, "journal", worstBefore, "journal.maxBytes", "system.journal.capacity.warning")
	}
	u := worst
	r.setBlocked(ctx, blockers, u)
	r.lastAt, r.lastErr = measured, nil
	if len(blockers) > 0 || full {
		r.lastErr = &FullError{Blockers: slices.Clone(blockers), Usage: u}
	}
	r.deadLetters(ctx)
	r.flushEvents(ctx)
	return nil
}

// checkPartition is check in one journal partition: it returns the
// partition's usage before and after purging, and the streams that held
// the purge back. warn raises the capacity warning here (one partition).
func (r *Retention) checkPartition(ctx context.Context, p *journal.Partition, urgent, warn bool) (journal.Usage, journal.Usage, []Blocker, error) {
	u, err := p.Usage(ctx)
	if err != nil {
		return u, u, nil, err
	}
	before := u
	r.usageRatio.Set(u.Ratio())
	if warn {
		r.capacityWarning(&r.warn, "journal", u, "journal.maxBytes", "system.journal.capacity.warning")
	}
	floors, err := p.AckFloors(ctx)
	if err != nil {
		return before, u, nil, err
	}
	var readers []reader
	for _, d := range r.cfg.Supervisor.cfg.Store.List() {
		f, ok := floors[d.ConsumerName()]
		if !ok {
			continue
		}
		floor, err := r.floor(ctx, p, f, u)
		if err != nil {
			return before, u, nil, err
		}
		readers = append(readers, reader{def: d, floor: floor, acked: f.Acked})
	}
	now := time.Now().UTC()
	// Gaps nobody here caused: the journal's first event is past what a
	// stream acknowledged (maxAge expiry, a lost block, another node). Only
	// a stream of every org can tell: one org's stream's ack floor stays
	// below other orgs' events, and what expired of its own is not known.
	for _, rd := range readers {
		if rd.def.JournalOrg() == "" && u.FirstSeq > 0 && rd.acked+1 < u.FirstSeq {
			r.reportGap(ctx, rd.def, Gap{FromSeq: p.Seq(rd.acked + 1), ToSeq: p.Seq(u.FirstSeq - 1), Events: u.FirstSeq - 1 - rd.acked,
				Cause: GapMissing, At: now})
		}
	}
	var blockers []Blocker
	if u.MaxBytes > 0 && u.Msgs > 0 && (urgent || u.Ratio() >= r.cfg.HighWater) {
		blockers, err = r.purge(ctx, p, u, readers, now)
		if err != nil {
			return before, u, nil, err
		}
		if u, err = p.Usage(ctx); err != nil {
			return before, u, nil, err
		}
		r.usageRatio.Set(u.Ratio())
		if u.Ratio() < r.cfg.HighWater && !urgent {
			blockers = nil
		}
	}
	return before, u, blockers, nil
}

// floor is where a stream's undelivered events begin, less one: its ack
// floor, except that a stream with nothing pending holds nothing back, and
// a stream of one org holds back only from its own next event (its ack
// floor stays at its org's last event while other orgs' events go on).
func (r *Retention) floor(ctx context.Context, p *journal.Partition, f journal.ConsumerFloor, u journal.Usage) (uint64, error) {
	if f.Pending == 0 {
		return max(f.Acked, u.LastSeq), nil
	}
	if f.Org == "" {
		return f.Acked, nil
	}
	next, ok, err := p.NextSeq(ctx, f.Org, f.Acked+1)
	if err != nil {
		return 0, err
	}
	if !ok {
		return max(f.Acked, u.LastSeq), nil
	}
	return max(f.Acked, next-1), nil
}

// purge removes the oldest events down to the Target, in protect mode
// only below every active stream's ack floor, and reports what each stream
// loses. It returns the active streams that held the purge back.
func (r *Retention) purge(ctx context.Context, p *journal.Partition, u journal.Usage, readers []reader, now time.Time) ([]Blocker, error) {
	for range 4 {
		avg := max(u.Bytes/u.Msgs, 1)
		target := uint64(r.cfg.Target * float64(u.MaxBytes))
		if u.Bytes <= target {
			return nil, nil
		}
		want := min(u.FirstSeq+(u.Bytes-target+avg-1)/avg, u.LastSeq+1)
		keep := want
		var blockers []Blocker
		if r.cfg.WhenFull != WhenFullDropOldest {
			for _, rd := range readers {
				if rd.def.Status != StatusActive || rd.floor+1 >= want {
					continue
				}
				keep = min(keep, max(rd.floor+1, u.FirstSeq))
				blockers = append(blockers, Blocker{ID: rd.def.ID, Name: rd.def.Name, Org: rd.def.Org,
					OldestUndelivered: p.Seq(max(rd.floor+1, u.FirstSeq))})
			}
		}
		if keep > u.FirstSeq {
			if err := r.sweep(ctx, p, u.FirstSeq, keep, readers, now); err != nil {
				return blockers, err
			}
		}
		if len(blockers) > 0 || keep <= u.FirstSeq {
			return blockers, nil
		}
		var err error
		if u, err = p.Usage(ctx); err != nil {
			return nil, err
		}
		if u.Msgs == 0 {
			return nil, nil
		}
	}
	return nil, nil
}

// sweep purges the journal below keep. Streams whose ack floor is below
// keep lose [floor+1, keep-1]; the purge goes in segments between their
// floors, per org subject, so that the count each stream lost is exact
// (JetStream reports what each purge removed).
func (r *Retention) sweep(ctx context.Context, p *journal.Partition, first, keep uint64, readers []reader, now time.Time) error {
	j := p
	type loser struct {
		def  Definition
		from uint64
	}
	var losers []loser
	var bounds []uint64
	subjects := map[string]bool{}
	for _, rd := range readers {
		if rd.floor+1 >= keep {
			continue
		}
		// Counted from the ack floor: what a runner holds in memory
		// (its batch) it may still deliver, but a runner that stops or
		// dies gives it back to a journal that no longer has it, so it
		// is counted too. The count is an upper bound.
		from := max(rd.floor+1, first)
		losers = append(losers, loser{def: rd.def, from: from})
		bounds = append(bounds, from)
		if org := rd.def.JournalOrg(); org != "" {
			subjects[org] = true
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	var total uint64
	if len(bounds) == 0 || bounds[0] > first {
		// Nobody loses what lies below the lowest floor.
		end := keep
		if len(bounds) > 0 {
			end = bounds[0]
		}
		n, err := j.Purge(ctx, "", end)
		if err != nil {
			return err
		}
		total += n
	}
	// perSubject[i][s] counts subject s's events in segment i; all[i]
	// counts every event in it.
	perSubject := make([]map[string]uint64, len(bounds))
	all := make([]uint64, len(bounds))
	for i := range bounds {
		end := keep
		if i+1 < len(bounds) {
			end = bounds[i+1]
		}
		perSubject[i] = map[string]uint64{}
		for s := range subjects {
			n, err := j.Purge(ctx, s, end)
			if err != nil {
				return err
			}
			perSubject[i][s] = n
			all[i] += n
		}
		n, err := j.Purge(ctx, "", end)
		if err != nil {
			return err
		}
		all[i] += n
		total += all[i]
	}
	r.purged.Add(float64(total))
	if total > 0 {
		r.log.Info("journal purged to stay under journal.maxBytes", "events", total, "firstSeq", keep)
	}
	for _, l := range losers {
		var lost uint64
		s := l.def.JournalOrg()
		for i, b := range bounds {
			if b < l.from {
				continue
			}
			if s == "" {
				lost += all[i]
			} else {
				lost += perSubject[i][s]
			}
		}
		r.reportGap(ctx, l.def, Gap{FromSeq: p.Seq(l.from), ToSeq: p.Seq(keep - 1), Events: lost, Cause: GapDropOldest, At: now})
	}
	return nil
}

// reportGap records a range a stream lost, once: status, metric, WARN and
// a system.log_stream.gap event in the stream's org.
func (r *Retention) reportGap(ctx context.Context, d Definition, g Gap) {
	sup := r.cfg.Supervisor
	st := sup.StatusOf(d.ID)
	if from := st.droppedTo() + 1; g.FromSeq < from {
		if g.Cause == GapMissing && g.Events >= from-g.FromSeq {
			g.Events -= from - g.FromSeq
		}
		g.FromSeq = from
	}
	if g.FromSeq > g.ToSeq || !st.addGap(g) {
		return
	}
	sup.cfg.Metrics.DroppedByRetention.WithLabelValues(d.ID).Add(float64(g.Events))
	why := "the journal reached journal.maxBytes and journal.whenFull is dropOldest"
	switch {
	case g.Cause == GapMissing:
		why = "the events were gone from the journal before the stream delivered them (journal.maxAge, or loss)"
	case d.Status != StatusActive:
		why = "the journal reached journal.maxBytes while the stream was inactive"
	}
	r.log.Warn("log stream lost undelivered events", "stream", d.ID, "org", d.Org, "events", g.Events,
		"fromSeq", g.FromSeq, "toSeq", g.ToSeq, "cause", g.Cause, "why", why)
	r.event(d.Org, sysevent.Spec{Type: "system.log_stream.gap", Severity: sysevent.SeverityWarn,
		Message: fmt.Sprintf("Log stream %s lost %d undelivered events (journal sequences %d to %d): %s",
			d.Name, g.Events, g.FromSeq, g.ToSeq, why),
		Targets: []sysevent.Ref{streamRef(d)}, Failure: true, Reason: g.Cause,
		Debug: map[string]any{"streamId": d.ID, "fromSeq": g.FromSeq, "toSeq": g.ToSeq, "events": g.Events, "cause": g.Cause}})
	if err := sup.persistStatus(ctx, d.ID); err != nil {
		r.log.Warn("save stream status", "stream", d.ID, "err", err)
	}
}

func streamRef(d Definition) sysevent.Ref {
	return sysevent.Ref{ID: d.ID, Type: "LogStream", AlternateID: d.Name, DisplayName: d.Name}
}

// setBlocked updates the blocked state and reports its changes.
func (r *Retention) setBlocked(ctx context.Context, blockers []Blocker, u journal.Usage) {
	was := len(r.blockers) > 0
	r.blockers = blockers
	r.blocked.Store(len(blockers) > 0)
	r.stateMu.Lock()
	r.current = slices.Clone(blockers)
	r.stateMu.Unlock()
	now := map[string]bool{}
	for _, b := range blockers {
		now[b.ID] = true
	}
	sup := r.cfg.Supervisor
	for id := range r.blocking {
		if !now[id] {
			sup.StatusOf(id).setBlocking(false)
			sup.cfg.Metrics.RetentionBlocking.WithLabelValues(id).Set(0)
		}
	}
	for id := range now {
		sup.StatusOf(id).setBlocking(true)
		sup.cfg.Metrics.RetentionBlocking.WithLabelValues(id).Set(1)
	}
	r.blocking = now
	if len(blockers) == 0 {
		r.blockedG.Set(0)
		if was {
			r.cfg.Health.Clear(ConditionRetention)
			r.log.Info("journal retention no longer blocked")
			r.event(r.cfg.SystemOrg, sysevent.Spec{Type: "system.journal.retention.unblocked",
				Message: fmt.Sprintf("The journal can purge again (%.0f%% of journal.maxBytes); ingest is accepted", 100*u.Ratio())})
		}
		return
	}
	r.blockedG.Set(1)
	names := make([]string, len(blockers))
	for i, b := range blockers {
		names[i] = fmt.Sprintf("%s (%s, undelivered from journal sequence %d)", b.ID, b.Name, b.OldestUndelivered)
	}
	// /readyz is unauthenticated: the condition counts the streams; their
	// ids and names are in their status, the metrics, the events and the
	// 507, each for those allowed to see them.
	r.cfg.Health.Set(ConditionRetention, health.Degraded, fmt.Sprintf(
		"journal at %.0f%% of journal.maxBytes; %d active log streams have not delivered its oldest events, so new events are refused (507) "+
			"until they do or are deactivated (their status shows retentionBlocking)", 100*u.Ratio(), len(blockers)))
	if was {
		return
	}
	r.log.Warn("journal retention blocked by undelivered events", "streams", strings.Join(names, ", "),
		"bytes", u.Bytes, "maxBytes", u.MaxBytes)
	// One event per org, naming only that org's streams (all-orgs streams
	// in the system org), so no tenant reads another's stream names.
	byOrg := map[string][]Blocker{}
	for _, b := range blockers {
		org := sysevent.OrgFor(b.Org, r.cfg.SystemOrg)
		byOrg[org] = append(byOrg[org], b)
	}
	for org, bs := range byOrg {
		names := make([]string, len(bs))
		targets := make([]sysevent.Ref, len(bs))
		for i, b := range bs {
			names[i] = fmt.Sprintf("%s (%s, undelivered from journal sequence %d)", b.ID, b.Name, b.OldestUndelivered)
			targets[i] = sysevent.Ref{ID: b.ID, Type: "LogStream", AlternateID: b.Name, DisplayName: b.Name}
		}
		r.event(org, sysevent.Spec{Type: "system.journal.retention.blocked", Severity: sysevent.SeverityWarn,
			Message: fmt.Sprintf("The journal is at %.0f%% of journal.maxBytes and log streams %s have not delivered its oldest events; "+
				"they are kept (journal.whenFull: protect) and new events are refused (507) until they are. "+
				"Fix or deactivate those streams, raise journal.maxBytes, or set journal.whenFull: dropOldest",
				100*u.Ratio(), strings.Join(names, ", ")),
			Targets: targets, Failure: true, Reason: "undelivered events protected",
			Debug: map[string]any{"bytes": u.Bytes, "maxBytes": u.MaxBytes, "blockingStreams": len(blockers)}})
	}
}

// capacityWarning raises a warning event once usage passes WarnAt.
func (r *Retention) capacityWarning(w *warner, store string, u journal.Usage, setting, typ string) {
	ratio := u.Ratio()
	switch {
	case u.MaxBytes <= 0:
	case !w.fired && ratio >= r.cfg.WarnAt:
		w.fired = true
		r.capWarnings.WithLabelValues(store).Inc()
		msg := fmt.Sprintf("The %s is at %.0f%% of %s (%d of %d bytes)", store, 100*ratio, setting, u.Bytes, u.MaxBytes)
		r.log.Warn(msg)
		r.event(r.cfg.SystemOrg, sysevent.Spec{Type: typ, Severity: sysevent.SeverityWarn, Message: msg,
			Debug: map[string]any{"bytes": u.Bytes, "maxBytes": u.MaxBytes, "ratio": ratio}})
	case w.fired && ratio < r.cfg.RearmBelow:
		w.fired = false
	}
}

// deadLetters watches the dead-letter store: usage, a warning at WarnAt,
// and a condition while streams cannot store their dead letters.
func (r *Retention) deadLetters(ctx context.Context) {
	u, err := r.cfg.Journal.DeadLetterUsage(ctx)
	if err != nil {
		return
	}
	r.dlRatio.Set(u.Ratio())
	r.capacityWarning(&r.dlWarn, "dead-letter store", u, "journal.deadLetters.maxBytes", "system.journal.dead_letters.capacity.warning")
	var full []string
	for id, st := range r.cfg.Supervisor.core.Statuses() {
		if st.deadLettersFull() {
			full = append(full, id)
		}
	}
	if len(full) == 0 {
		r.cfg.Health.Clear(ConditionDeadLetters)
		return
	}
	// Counted, not named: /readyz is unauthenticated.
	r.cfg.Health.Set(ConditionDeadLetters, health.Degraded, fmt.Sprintf(
		"dead-letter store full (%d of %d bytes): %d log streams wait to store dead letters (their status says so); "+
			"redrive or purge dead letters, or raise journal.deadLetters.maxBytes", u.Bytes, u.MaxBytes, len(full)))
}

// event queues a System Log event; flushEvents stores it (later, if the
// journal is full right now).
func (r *Retention) event(org string, spec sysevent.Spec) {
	spec.Org = sysevent.OrgFor(org, r.cfg.SystemOrg)
	ev, err := sysevent.New(spec, time.Now())
	if err != nil {
		r.log.Warn("build system event", "type", spec.Type, "err", err)
		return
	}
	if len(r.pending) >= 1000 {
		r.pending = r.pending[1:]
	}
	r.pending = append(r.pending, ev)
}

func (r *Retention) flushEvents(ctx context.Context) {
	if len(r.pending) == 0 {
		return
	}
	if _, err := r.cfg.Journal.Append(ctx, r.pending); err != nil {
		r.log.Warn("store system events; will retry", "events", len(r.pending), "err", err)
		return
	}
	r.pending = r.pending[:0]
}
