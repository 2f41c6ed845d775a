package integrity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// Bucket holds the digester's state: its cursor in each journal partition
// and each org's last digest.
const Bucket = "auditstream_integrity"

// LeaseID is the digester's lease in the cluster bucket: one node digests.
const LeaseID = "integrity.digester"

// DigesterConfig is what an operator sets.
type DigesterConfig struct {
	// Interval is how often orgs with new events are digested.
	Interval time.Duration
	// SystemOrg receives journal-wide findings (a rolled-back journal).
	SystemOrg string
	// MaxAge is journal.maxAge: when set, events JetStream drops by age
	// are recorded in truncation digests (ReasonMaxAge) as the digester
	// finds the journal's first message moved.
	MaxAge time.Duration
}

// DigesterDeps is what the digester is handed.
type DigesterDeps struct {
	Journal *journal.Journal
	Keys    *Keyring
	// State is the Bucket's key-value store.
	State jetstream.KeyValue
	// Leases, when enabled, elect the one node of a cluster that digests.
	Leases   *lease.Leases
	Log      *slog.Logger
	Registry prometheus.Registerer
	// Now returns the time (time.Now if nil).
	Now func() time.Time
}

// orgState is an org's digest state: the last digest's end.
type orgState struct {
	LastPosition uint64 `json:"lastPosition"`
	Head         string `json:"head"`
	DigestHash   string `json:"digestHash"`
	Time         string `json:"time"`
	// CutHead is the head at the last cut recorded for maxAge.
	CutHead string `json:"cutHead,omitempty"`
}

// cursorState is where the digester stands in one journal partition: the
// sequences of its stream (key cursorKey).
type cursorState struct {
	Seq uint64 `json:"seq"`
	// FirstSeq is the partition's first sequence at the last pass.
	FirstSeq uint64 `json:"firstSeq,omitempty"`
}

// cursorKey is the state key of the cursor in partition part: "cursor"
// for partition 0 (the key of every release before partitions, so a data
// directory with one partition resumes where it was), "cursor.p<part>"
// for the others.
func cursorKey(part int) string {
	if part == 0 {
		return "cursor"
	}
	return fmt.Sprintf("cursor.p%d", part)
}

// Digester signs each org's new events at an interval: it reads the
// journal forward from each org's last digest, recomputes the hash chain
// (so a broken link is found and reported: an ERROR log, the metric
// auditstream_integrity_chain_breaks_total and a system.integrity.
// chain_broken event in the org), and appends the signed digest as the
// org's own system.integrity.digest event, which log streams export like
// any other. An org whose only new events are its own digests gets none.
type Digester struct {
	cfg     DigesterConfig
	deps    DigesterDeps
	log     *slog.Logger
	digests prometheus.Counter
	breaks  prometheus.Counter
	rolled  prometheus.Counter
}

// NewDigester builds a digester; Run runs it.
func NewDigester(cfg DigesterConfig, deps DigesterDeps) *Digester {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	d := &Digester{cfg: cfg, deps: deps, log: deps.Log.With("component", "integrity"),
		digests: prometheus.NewCounter(prometheus.CounterOpts{Name: "auditstream_integrity_digests_total",
			Help: "Signed digests of the journal's hash chains appended (one per org and interval with new events)."}),
		breaks: prometheus.NewCounter(prometheus.CounterOpts{Name: "auditstream_integrity_chain_breaks_total",
			Help: "Hash chain links found broken by the digester: an event modified, removed or re-inserted in the journal."}),
		rolled: prometheus.NewCounter(prometheus.CounterOpts{Name: "auditstream_integrity_rollbacks_total",
			Help: "Times the digester found the journal behind what it had digested (rolled back or cut)."}),
	}
	if deps.Registry != nil {
		deps.Registry.MustRegister(d.digests, d.breaks, d.rolled)
	}
	return d
}

// Run digests every Interval until ctx ends.
func (d *Digester) Run(ctx context.Context) {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if d.deps.Leases.Enabled() {
				d.deps.Leases.Release(context.WithoutCancel(ctx), LeaseID)
			}
			return
		case <-t.C:
		}
		if d.deps.Leases.Enabled() && !d.deps.Leases.Acquire(ctx, LeaseID) {
			continue
		}
		if _, err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("integrity digest pass", "err", err)
		}
	}
}

// Pass digests every org with new events since the last pass and returns
// the digests it appended. It goes through the journal's partitions one at
// a time, each from its own cursor (an org's events are all in one
// partition).
func (d *Digester) Pass(ctx context.Context) ([]SignedDigest, error) {
	var out []SignedDigest
	for _, p := range d.deps.Journal.Partitions() {
		sds, err := d.passPartition(ctx, p)
		out = append(out, sds...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// passPartition is Pass in partition p: cursor, sequences and orgs are
// p's.
func (d *Digester) passPartition(ctx context.Context, p *journal.Partition) ([]SignedDigest, error) {
	u, err := p.Usage(ctx)
	if err != nil {
		return nil, err
	}
	last := u.LastSeq
	key := cursorKey(p.Index())
	var cur cursorState
	curRev, err := d.get(ctx, key, &cur)
	if err != nil {
		return nil, err
	}
	before := cur
	if cur.Seq > last {
		d.rolled.Inc()
		d.log.Error("integrity: the journal ends before what was digested: it was rolled back or cut; digests start again from its end",
			"stream", p.Stream(), "digestedTo", cur.Seq, "journalLastSeq", last)
		where := "The journal"
		if len(d.deps.Journal.Partitions()) > 1 {
			where = fmt.Sprintf("Journal partition %d (stream %s)", p.Index(), p.Stream())
		}
		d.event(ctx, sysevent.Spec{Type: EventChainBroken, Severity: sysevent.SeverityError, Org: d.cfg.SystemOrg,
			Message: fmt.Sprintf("%s ends at message %d, before message %d already digested: it was rolled back or cut", where, last, cur.Seq)})
		cur.Seq = last
	}
	if d.cfg.MaxAge > 0 && u.FirstSeq > cur.FirstSeq {
		if err := d.recordAged(ctx, p, u.FirstSeq); err != nil {
			return nil, err
		}
		cur.FirstSeq = u.FirstSeq
	}
	if cur.Seq == last {
		if cur == before && curRev != 0 {
			return nil, nil // nothing new: no write
		}
		return nil, d.put(ctx, key, cur, curRev)
	}
	// The orgs with new events other than their own digests.
	orgs := map[string]bool{}
	var order []string
	var recs []event.Record
	err = p.ScanMessages(ctx, "", journal.ScanFrom{FromSeq: cur.Seq + 1}, func(m journal.Message, _ time.Time) bool {
		if m.Seq > last {
			return false
		}
		recs, _ = journal.Decode(m, recs[:0])
		for i := range recs {
			if o := recs[i].Org; !orgs[o] && !IsDigestType(recs[i].EventType) {
				orgs[o] = true
				order = append(order, o)
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	var out []SignedDigest
	for _, org := range order {
		sd, ok, err := d.digestOrg(ctx, org, last)
		if err != nil {
			return out, fmt.Errorf("digest org %s: %w", org, err)
		}
		if ok {
			out = append(out, sd)
		}
	}
	cur.Seq = last
	return out, d.put(ctx, key, cur, curRev)
}

// digestOrg digests org's events after its last digest up to message last
// of org's partition.
func (d *Digester) digestOrg(ctx context.Context, org string, last uint64) (SignedDigest, bool, error) {
	j := d.deps.Journal
	var st orgState
	rev, err := d.get(ctx, "org."+org, &st)
	if err != nil {
		return SignedDigest{}, false, err
	}
	from := uint64(1)
	var chain Chain
	anchored := false
	if st.LastPosition > 0 {
		from = journal.MsgSeqOf(st.LastPosition) + 1
		u, err := j.PartitionFor(org).Usage(ctx)
		if err != nil {
			return SignedDigest{}, false, err
		}
		// When retention removed events since, the chain goes on from
		// the first remaining batch (its truncation digest records the
		// cut).
		if h, ok := hexHead(st.Head); ok && u.FirstSeq <= from {
			chain.Anchor(h)
			anchored = true
		}
	}
	var leaves []journal.Head
	var recsOf []event.Record // each leaf's record (no data)
	var breaks, lost []Break
	var recs []event.Record
	// Without a state (the org's first digest, or the digester's bucket
	// lost) the org's last digest in the journal, if any, is where the
	// new range starts.
	var recovered *SignedDigest
	err = j.ScanMessages(ctx, org, journal.ScanFrom{FromSeq: from}, func(m journal.Message, _ time.Time) bool {
		if m.Seq > last {
			return false
		}
		var err error
		recs, err = journal.Decode(m, recs[:0])
		if err != nil {
			d.log.Error("integrity: an unreadable journal message in the org's chain", "org", org, "seq", m.Seq, "err", err)
			return true
		}
		_, brk := chain.Add(m, recs, func(rec *event.Record, leaf, _ journal.Head) {
			leaves = append(leaves, leaf)
			r := *rec
			r.Data = nil
			recsOf = append(recsOf, r)
			if rev == 0 && rec.EventType == EventDigest {
				if sd, err := ParseDigestEvent(rec.Data); err == nil && sd.Org == org && sd.Kind == KindDigest {
					if sd.Verify(d.deps.Keys.Lookup()) == nil {
						recovered = &sd
					}
				}
			}
		})
		if brk != nil {
			if d.lostAt(*brk) {
				lost = append(lost, *brk)
			} else {
				breaks = append(breaks, *brk)
			}
		}
		return true
	})
	if err != nil {
		return SignedDigest{}, false, err
	}
	// Gaps the journal reported lost at start (corrupt or truncated
	// files) are recorded as such, signed, so verification tells them
	// from tampering; the loss itself was reported when it was found.
	for _, b := range lost {
		cut := journal.Cut{Org: org, Partition: journal.PartitionOf(b.Position), KeepFrom: journal.MsgSeqOf(b.Position), After: b.After}
		cut.HeadAtCut, _ = hexHead(b.Stored)
		tr := Truncations{Journal: j, Keys: d.deps.Keys, Log: d.log, Now: d.deps.Now}
		if err := tr.Record(ctx, cut, ReasonLost); err != nil {
			return SignedDigest{}, false, err
		}
		d.log.Warn("integrity: a gap in the org's hash chain lies in the range the journal lost at start; recorded in a truncation digest",
			"org", org, "position", b.Position, "after", b.After)
	}
	if recovered != nil {
		k := 0
		for k < len(recsOf) && recsOf[k].Seq <= recovered.LastPosition {
			k++
		}
		leaves, recsOf = leaves[k:], recsOf[k:]
		kept := breaks[:0]
		for _, b := range breaks {
			if b.Position > recovered.LastPosition {
				kept = append(kept, b)
			}
		}
		breaks = kept
		st = orgState{LastPosition: recovered.LastPosition, Head: recovered.Head, DigestHash: recovered.Hash()}
		anchored = true
		d.log.Warn("integrity: the digester had no state for the org; it goes on from the org's last digest in the journal",
			"org", org, "lastPosition", recovered.LastPosition)
	}
	if len(leaves) == 0 {
		return SignedDigest{}, false, nil
	}
	first, lastRec := recsOf[0], recsOf[len(recsOf)-1]
	// The head before the range: the last digest's, or, when the chain
	// was not anchored there (the org's first digest, a cut since), the
	// head its first batch stores.
	prev := st.Head
	if !anchored {
		prev = chain.FirstPrev.String()
	}
	for _, b := range breaks {
		d.breaks.Inc()
		d.log.Error("integrity: the org's hash chain is broken: an event was modified, removed or re-inserted in the journal",
			"org", org, "position", b.Position, "uuid", b.UUID, "follows", b.Follows)
		d.event(ctx, sysevent.Spec{Type: EventChainBroken, Severity: sysevent.SeverityError, Org: org,
			Message: fmt.Sprintf("The hash chain is broken at position %d (event %s): an event before it was modified or removed", b.Position, b.UUID),
			Debug:   map[string]any{"position": b.Position, "uuid": b.UUID, "follows": b.Follows}})
	}
	now := d.deps.Now()
	dg := Digest{Kind: KindDigest, Org: org, FirstPosition: first.Seq, LastPosition: lastRec.Seq, Count: len(leaves),
		FirstPublished: first.Published.UTC().Format(time.RFC3339Nano), LastPublished: lastRec.Published.UTC().Format(time.RFC3339Nano),
		PrevHead: prev, Head: chain.Head.String(), MerkleRoot: MerkleRoot(leaves).String(), PrevDigest: st.DigestHash, Breaks: breaks}
	ev, env, err := DigestEvent(d.deps.Keys, dg, now)
	if err != nil {
		return SignedDigest{}, false, err
	}
	// A node whose lease lapsed mid-pass stops before it appends: the
	// node that took over digests the range (two digests naming the same
	// previous one would break the digest chain).
	if d.deps.Leases.Enabled() && !d.deps.Leases.Holds(LeaseID) {
		return SignedDigest{}, false, errors.New("the digester's lease was lost")
	}
	if _, err := j.Append(ctx, []event.Record{ev}); err != nil {
		return SignedDigest{}, false, fmt.Errorf("append the digest: %w", err)
	}
	sd := SignedDigest{Digest: dg, Envelope: env, UUID: ev.UUID}
	sd.KeyID = d.deps.Keys.SigningKeyID()
	st = orgState{LastPosition: lastRec.Seq, Head: chain.Head.String(), DigestHash: sd.Hash(), Time: now.UTC().Format(time.RFC3339Nano)}
	d.digests.Inc()
	return sd, true, d.put(ctx, "org."+org, st, rev)
}

// recordAged records, for each org of partition p digested before, the
// events the partition dropped by age (its first sequence is now firstSeq):
// a truncation digest whose head at the cut is the one the org's first
// remaining batch stores (once per cut).
func (d *Digester) recordAged(ctx context.Context, p *journal.Partition, firstSeq uint64) error {
	lister, err := d.deps.State.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("integrity state: %w", err)
	}
	var orgs []string
	for k := range lister.Keys() {
		if o, ok := strings.CutPrefix(k, "org."); ok && d.deps.Journal.PartitionFor(o) == p {
			orgs = append(orgs, o)
		}
	}
	tr := Truncations{Journal: d.deps.Journal, Keys: d.deps.Keys, Log: d.log, Now: d.deps.Now}
	for _, org := range orgs {
		var st orgState
		rev, err := d.get(ctx, "org."+org, &st)
		if err != nil {
			return err
		}
		h, err := d.deps.Journal.HeadAt(ctx, org, firstSeq)
		if err != nil {
			return err
		}
		if h.IsZero() || h.String() == st.CutHead {
			continue
		}
		next, ok, err := d.deps.Journal.NextSeq(ctx, org, firstSeq)
		if err != nil {
			return err
		}
		if !ok {
			next = firstSeq
		}
		if err := tr.Record(ctx, journal.Cut{Org: org, Partition: p.Index(), KeepFrom: next, HeadAtCut: h}, ReasonMaxAge); err != nil {
			return err
		}
		d.log.Info("integrity: events dropped by journal.maxAge recorded in a truncation digest", "org", org, "before", next)
		st.CutHead = h.String()
		if err := d.put(ctx, "org."+org, st, rev); err != nil {
			return err
		}
	}
	return nil
}

// lostAt reports whether a break's gap lies in the range of messages the
// journal (the break's partition) found missing at start.
func (d *Digester) lostAt(b Break) bool {
	p := d.deps.Journal.Partition(b.Position)
	if p == nil {
		return false
	}
	l, ok := p.LostEvents()
	if !ok {
		return false
	}
	from, to := journal.MsgSeqOf(b.After), journal.MsgSeqOf(b.Position)
	// Some message strictly between the two batches is in the lost range.
	return from < l.LastSeq && to > l.FirstSeq && to-from > 1
}

func (d *Digester) event(ctx context.Context, s sysevent.Spec) {
	if s.Org == "" {
		return
	}
	if err := sysevent.Write(ctx, d.deps.Journal, s, d.deps.Now()); err != nil {
		d.log.Warn("integrity: write System Log event", "type", s.Type, "err", err)
	}
}

// get reads key into v; it returns the revision (0 when absent).
func (d *Digester) get(ctx context.Context, key string, v any) (uint64, error) {
	e, err := d.deps.State.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("integrity state %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("integrity state %s: %w", key, err)
	}
	return e.Revision(), nil
}

// put writes v at key if it is still at revision rev (0: absent), so two
// digesters (a lease taken over mid-pass) do not both move a state.
func (d *Digester) put(ctx context.Context, key string, v any, rev uint64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = d.deps.State.Create(ctx, key, b)
	} else {
		_, err = d.deps.State.Update(ctx, key, b, rev)
	}
	if err != nil {
		return fmt.Errorf("integrity state %s: %w", key, err)
	}
	return nil
}

// Truncations records removals on purpose in signed truncation digests,
// so verification tells them from tampering.
type Truncations struct {
	Journal sysevent.Appender
	Keys    *Keyring
	Log     *slog.Logger
	// Now returns the time (time.Now if nil).
	Now func() time.Time
}

// Record appends the signed truncation digest of cut, removed for reason
// (ReasonRetention, ReasonPurge, ReasonLost, ReasonMaxAge).
func (t *Truncations) Record(ctx context.Context, cut journal.Cut, reason string) error {
	return t.RecordAll(ctx, []journal.Cut{cut}, reason)
}

// RecordAll appends the signed truncation digests of cuts in one append,
// each for its own Reason if it has one, else for reason.
func (t *Truncations) RecordAll(ctx context.Context, cuts []journal.Cut, reason string) error {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	evs := make([]event.Record, 0, len(cuts))
	for _, cut := range cuts {
		why := reason
		if cut.Reason != "" {
			why = cut.Reason
		}
		// KeepFrom is a sequence of the cut's partition; the digest
		// names journal positions (with the partition's bits).
		d := Digest{Kind: KindTruncation, Org: cut.Org, Reason: why, RemovedBefore: journal.Position(journal.PartitionSeq(cut.Partition, cut.KeepFrom), 0),
			RemovedAfter: cut.After, Count: int(cut.Events), HeadAtCut: cut.HeadAtCut.String()}
		ev, _, err := DigestEvent(t.Keys, d, now())
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := t.Journal.Append(actx, evs); err != nil {
		return fmt.Errorf("append %d truncation digests: %w", len(evs), err)
	}
	return nil
}

// Hook is the journal purge hook that records each purge's cuts as
// truncations for the purge's reason (journal.PurgeFor), else for reason
// (retention), in one append; a failure is logged as an ERROR
// (verification will report the removed events as missing).
func (t *Truncations) Hook(reason string) journal.PurgeHook {
	return func(ctx context.Context, cuts []journal.Cut) {
		if err := t.RecordAll(ctx, cuts, reason); err != nil && t.Log != nil {
			t.Log.Error("integrity: the truncation digests of a purge were not written; verification will report its events missing",
				"orgs", len(cuts), "keepFrom", cuts[0].KeepFrom, "err", err)
		}
	}
}

// RecordLoss records, in signed truncation digests (ReasonLost), each gap
// in an org's chain that lies in the range the journal found missing at
// start (journal.Lost), so verification tells the loss from tampering.
// With several partitions each gap is checked against its own partition's
// loss (Partition.LostEvents; lost is then not used).
// It reads the whole journal once (a loss is rare) and skips gaps a
// truncation digest already records (the loss stays reported across
// restarts until acknowledged). It returns how many it recorded.
func RecordLoss(ctx context.Context, j *journal.Journal, keys *Keyring, lost journal.Lost, log *slog.Logger) (int, error) {
	chains := map[string]*Chain{}
	recorded := map[string]bool{} // org + head at cut
	type gap struct {
		org string
		brk Break
	}
	var gaps []gap
	var recs []event.Record
	err := j.ScanMessages(ctx, "", journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		var err error
		if recs, err = journal.Decode(m, recs[:0]); err != nil || len(recs) == 0 {
			return true
		}
		org := recs[0].Org
		c := chains[org]
		if c == nil {
			c = &Chain{}
			chains[org] = c
		}
		_, brk := c.Add(m, recs, nil)
		if brk != nil {
			l, ok := lost, true
			if len(j.Partitions()) > 1 {
				l, ok = j.Partition(brk.Position).LostEvents()
			}
			from, to := journal.MsgSeqOf(brk.After), journal.MsgSeqOf(brk.Position)
			if ok && from < l.LastSeq && to > l.FirstSeq && to-from > 1 {
				gaps = append(gaps, gap{org, *brk})
			}
		}
		for i := range recs {
			if recs[i].EventType == EventTruncation {
				if sd, err := ParseDigestEvent(recs[i].Data); err == nil && sd.Reason == ReasonLost {
					recorded[org+"/"+sd.HeadAtCut] = true
				}
			}
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	tr := Truncations{Journal: j, Keys: keys, Log: log}
	n := 0
	for _, g := range gaps {
		if recorded[g.org+"/"+g.brk.Stored] {
			continue
		}
		cut := journal.Cut{Org: g.org, Partition: journal.PartitionOf(g.brk.Position), KeepFrom: journal.MsgSeqOf(g.brk.Position), After: g.brk.After}
		cut.HeadAtCut, _ = hexHead(g.brk.Stored)
		if err := tr.Record(ctx, cut, ReasonLost); err != nil {
			return n, err
		}
		n++
		if log != nil {
			log.Warn("integrity: a gap in the org's hash chain lies in the range the journal lost at start; recorded in a truncation digest",
				"org", g.org, "position", g.brk.Position, "after", g.brk.After)
		}
	}
	return n, nil
}
