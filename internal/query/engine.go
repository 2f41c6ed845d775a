package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
)

// Defaults of Config, each with its reason.
const (
	// DefaultTimeout is Okta's: a query that runs longer answers 500
	// E0000009.
	DefaultTimeout = 30 * time.Second
	// DefaultRateLimit is requests per minute per token. Okta's largest
	// plan allows 120 a minute for /api/v1/logs; a self-hosted journal can
	// afford more, and a poller following 10,000 events/s in pages of
	// 1,000 needs 600.
	DefaultRateLimit = 1200
	// DefaultPollScan bounds how long one polling page scans for matches
	// before it answers with what it found (and a next link to continue).
	DefaultPollScan = 5 * time.Second
	// KeyBucket is the KV bucket holding the cursor signing key.
	KeyBucket = "auditstream_query"
	// CursorKeyName is the record of the cursor signing key in KeyBucket.
	CursorKeyName = "cursor-hmac-key"
	// readAhead is how many events a bounded page reads in parallel.
	readAhead = 8
)

// Config configures the query engine.
type Config struct {
	// BaseURL is the public base URL that Link headers are built from
	// (never the request's Host), e.g. "https://audit.example.com".
	BaseURL string
	// Timeout bounds one request; past it the answer is 500 E0000009.
	Timeout time.Duration
	// RateLimit is requests per minute per token; negative disables it.
	RateLimit int
	// ClampLimit answers a limit above 1000 with 1000 events instead of 400.
	ClampLimit bool
	// Now returns the current time (tests fix it).
	Now func() time.Time
	// Keys seal the cursor signing key at rest (nil: stored in clear).
	Keys kvstore.Codec
	// Health, when set, receives ConditionIndex: NotReady from New until
	// Run's index has read the journal as it was when Run started.
	Health *health.Board
	// Fanout, when set, is the followers' shared reader of the journal
	// the index follows through (nil: a reader of its own).
	Fanout *journal.Fanout
}

// ConditionIndex is NotReady while the query index reads the journal at
// start: until then bounded queries wait for it, and a node behind a load
// balancer should not get them.
const ConditionIndex = "query.index"

// Engine answers System Log queries from the journal. Create it with New.
type Engine struct {
	cfg    Config
	j      *journal.Journal
	js     jetstream.JetStream
	stream jetstream.Stream
	// streams are the journal's partitions' streams (stream is the
	// first; the only one unless journal.partitions).
	streams []jetstream.Stream
	ix      *Index
	msgs    *msgCache
	key     []byte
	rl      *limiter
	log     *slog.Logger
	// running is set while Run runs.
	running atomic.Bool
}

// New opens the cursor key and returns the engine. It starts nothing: the
// index is built from the journal, and then follows it, while Run runs;
// queries wait for the index to reach the events they must see.
func New(ctx context.Context, j *journal.Journal, cfg Config, log *slog.Logger) (*Engine, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	log = log.With("component", "query")
	var streams []jetstream.Stream
	for _, p := range j.Partitions() {
		st, err := j.JetStream().Stream(ctx, p.Stream())
		if err != nil {
			return nil, fmt.Errorf("query: open stream: %w", err)
		}
		streams = append(streams, st)
	}
	st := streams[0]
	key, err := cursorKey(ctx, j, cfg.Keys)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, j: j, js: j.JetStream(), stream: st, streams: streams, ix: newIndex(log), key: key, log: log}
	if len(streams) > 1 {
		e.ix.setPartitions(len(streams))
	}
	e.msgs = newMsgCache(e.fetchMsg, cacheMessages, cacheBytes)
	// Not ready until Run has indexed the journal (see ConditionIndex).
	cfg.Health.Set(ConditionIndex, health.NotReady, "the query index is reading the journal")
	if cfg.RateLimit > 0 {
		e.rl = newLimiter(cfg.RateLimit, cfg.Now)
	}
	return e, nil
}

// ErrRunning is returned by a second concurrent Run of one Engine.
var ErrRunning = errors.New("query: engine already running")

// Run builds the index from the journal and then follows new events
// until ctx ends; it returns nil then. Stop the engine by ending ctx and
// waiting for Run to return. Should the journal's connection close first,
// the index stops following (queries wait for events it will not see)
// and Run waits for ctx all the same, so that the service decides.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer e.running.Store(false)
	if e.cfg.Health != nil {
		go func() {
			select {
			case <-e.ix.caughtUp:
				e.cfg.Health.Clear(ConditionIndex)
			case <-ctx.Done():
			}
		}()
	}
	if parts := e.j.Partitions(); len(parts) == 1 {
		e.ix.follow(ctx, e.j, e.cfg.Fanout)
	} else {
		// One follower per partition: each reads its own stream.
		var wg sync.WaitGroup
		for _, p := range parts {
			wg.Go(func() { e.ix.followPart(ctx, e.j, e.cfg.Fanout, p.Index()) })
		}
		wg.Wait()
	}
	if ctx.Err() == nil {
		e.log.Warn("query index: the journal's connection closed; the index no longer follows it")
		<-ctx.Done()
	}
	return nil
}

// Index is the engine's index (for tests and benchmarks).
func (e *Engine) Index() *Index { return e.ix }

// cursorKey loads the install's cursor signing key, creating it once
// (kvstore.LoadKey: sealed at rest through keys when configured).
func cursorKey(ctx context.Context, j *journal.Journal, keys kvstore.Codec) ([]byte, error) {
	kv, err := j.KV(ctx, KeyBucket)
	if err != nil {
		return nil, err
	}
	key, err := kvstore.LoadKey(ctx, kv, CursorKeyName, keys)
	if err != nil {
		return nil, fmt.Errorf("query: cursor key: %w", err)
	}
	return key, nil
}

// item is one event of a page.
type item struct {
	seq  uint64 // journal position
	pub  int64
	uuid string
	data []byte
}

// request is a validated query.
type request struct {
	org      string
	filter   *Filter
	keywords Keywords
	limit    int
	desc     bool
	polling  bool
	since    time.Time // polling: zero means the default window
	lo, hi   int64     // bounded: [lo, hi) in unix nanos
	after    *cursor
	fp       uint64
}

// page is a query's answer: the events and the next cursor, if any.
type page struct {
	items []item
	next  *cursor
	// stopped: a bounded page that stopped at its scan budget
	// (WithScanBudget) before it was full.
	stopped bool
}

func (e *Engine) matches(r *request, data []byte) bool {
	return r.filter.Match(data) && r.keywords.Match(data)
}

// endOf is the position at or after every event of message msgSeq: a
// polling cursor there has examined the message whole.
func endOf(msgSeq uint64) uint64 { return journal.Position(msgSeq+1, 0) - 1 }

// pollFetchEvents is about how many events one fetch of a polling page
// asks for.
const pollFetchEvents = 500

// poll reads a polling page: journal order from the cursor (or from the
// first event persisted at or after since), always with a next cursor.
func (e *Engine) poll(ctx context.Context, r *request) (page, error) {
	org := r.org
	if org == auth.AllOrgs {
		org = ""
	}
	if org == "" && len(e.streams) > 1 {
		return e.pollAll(ctx, r)
	}
	var after *uint64
	if r.after != nil {
		after = &r.after.Seq
	}
	return e.pollPart(ctx, r, org, e.j.PartitionFor(org), after, r.limit, time.Time{})
}

// pollPart reads a polling page of org's events ("" every org's) in one
// journal partition, from the position after (nil: from r.since), of at
// most limit events, reading until deadline (zero: the default).
func (e *Engine) pollPart(ctx context.Context, r *request, org string, part *journal.Partition, after *uint64,
	limit int, deadline time.Time) (page, error) {
	info, err := e.streams[part.Index()].Info(ctx)
	if err != nil {
		return page{}, fmt.Errorf("stream info: %w", err)
	}
	// Positions carry the partition (part.Seq); sequences read are the
	// partition stream's.
	last := part.Seq(info.State.LastSeq)
	subjects := part.Subjects(org)
	pos := uint64(0)  // the last position examined
	from := uint64(0) // the message sequence to read from; 0: from since
	var since time.Time
	switch {
	case after != nil:
		pos = *after
		// The message of the cursor's position, unless it was examined
		// whole (sequences start at 1: an earlier release's cursor on an
		// empty journal held 0).
		from = max(1, journal.MsgSeqOf(pos+1))
	default:
		since = r.since
		if since.After(e.cfg.Now()) {
			// Nothing persisted yet can match; keep asking from since.
			return page{}, nil
		}
		// If what is read matches nothing, the next poll starts after
		// it (if nothing is read, it repeats this request: below).
		pos = endOf(last)
	}
	next := &cursor{Mode: "p", Seq: pos, FP: r.fp}
	if limit == 0 && after == nil {
		// No position yet: the next link repeats this request.
		return page{}, nil
	}
	if limit == 0 || (after != nil && pos >= endOf(last)) {
		return page{next: next}, nil
	}
	more := true // messages may wait after those read
	examined := false
	var out []item
	var recs []event.Record
	keeper := newRecordKeeper(r.org, r.filter)
	// Messages and events read so far, to size reads in events: a record
	// batch holds up to 100, an older message one.
	msgs, events := uint64(0), uint64(0)
	if deadline.IsZero() {
		deadline = time.Now().Add(min(DefaultPollScan, e.cfg.Timeout/2))
	}
	for more && len(out) < limit && time.Now().Before(deadline) {
		want := uint64(pollFetchEvents)
		if r.filter.root == nil && len(r.keywords) == 0 {
			want = min(want, uint64(limit-len(out)))
		}
		// A first message tells how many events a message holds here:
		// asking for want messages of 100 events would read 100 times
		// the page.
		n := uint64(1)
		if events > 0 {
			n = max(1, want*msgs/events)
		}
		batch, complete, err := e.readMsgs(ctx, part.Stream(), subjects, from, since, int(n))
		if err != nil {
			return page{}, err
		}
		more = !complete
		got := 0
		for _, msg := range batch {
			if len(out) >= limit {
				more = true
				break // the rest of the batch is read again next time
			}
			got++
			examined = true
			seq := msg.Sequence
			from = seq + 1
			recs, err = journal.Decode(journal.Message{Subject: msg.Subject, Header: msg.Header, Data: msg.Data, Seq: seq}, recs[:0])
			if err != nil {
				e.log.Warn("query: skipping an unreadable journal message", "seq", seq, "err", err)
				next.Seq = endOf(part.Seq(seq))
				continue
			}
			msgs++
			events += uint64(len(recs))
			whole := true
			for i := range recs {
				rec := &recs[i]
				if after != nil && rec.Seq <= *after {
					continue // examined by the page before
				}
				if len(out) >= limit {
					whole = false
					break
				}
				next.Seq = rec.Seq
				if keeper.keep(rec) && e.matches(r, rec.Data) {
					out = append(out, item{seq: rec.Seq, pub: unixNano(rec.Published), uuid: rec.UUID, data: rec.Data})
				}
			}
			if whole {
				next.Seq = endOf(part.Seq(seq))
			} else {
				more = true
			}
		}
		if got == 0 {
			break
		}
	}
	if !examined && after == nil {
		// Nothing read, though events may wait, or a replica that has not
		// yet stored the journal's last messages answered: keep the
		// request's own start rather than skip them.
		return page{}, nil
	}
	return page{items: out, next: next}, nil
}

// noPosition marks, in a polling cursor of every org on a partitioned
// journal, a partition read from since on the next page (nothing examined
// there yet).
const noPosition = math.MaxUint64

// pollAll reads a polling page of every org's events on a partitioned
// journal: the cursor holds a position per partition (cursor.Parts), and
// each page reads the partitions in turn, starting with the next one each
// page (cursor.Turn) so that a busy partition cannot starve the others.
// Each org's events come in journal order; events of orgs in different
// partitions interleave by page.
func (e *Engine) pollAll(ctx context.Context, r *request) (page, error) {
	parts := e.j.Partitions()
	n := len(parts)
	pos := slices.Repeat([]uint64{noPosition}, n)
	turn := 0
	if r.after != nil {
		if len(r.after.Parts) != n {
			return page{}, validation("after", "the cursor is not one of this query's")
		}
		copy(pos, r.after.Parts)
		turn = r.after.Turn % n
	}
	deadline := time.Now().Add(min(DefaultPollScan, e.cfg.Timeout/2))
	var out []item
	anyPos := r.after != nil
	for i := range n {
		k := (turn + i) % n
		var after *uint64
		if pos[k] != noPosition {
			after = &pos[k]
		}
		pg, err := e.pollPart(ctx, r, "", parts[k], after, r.limit-len(out), deadline)
		if err != nil {
			return page{}, err
		}
		out = append(out, pg.items...)
		if pg.next != nil {
			pos[k], anyPos = pg.next.Seq, true
		}
	}
	if !anyPos {
		// No position in any partition yet: the next link repeats this
		// request.
		return page{items: out}, nil
	}
	return page{items: out, next: &cursor{Mode: "p", Parts: pos, Turn: (turn + 1) % n, FP: r.fp}}, nil
}

// numPendingHeader is the header in which a batched direct get's end of
// batch tells how many matching messages follow.
const numPendingHeader = "Nats-Num-Pending"

// readMsgs reads up to about n journal messages of subjects with direct
// gets (no consumer: any replica answers, and the meta leader is not
// asked), in sequence order from message sequence from, or, when from is
// 0, from the first message stored at or after since. No message of
// subjects is missing between those returned; complete tells that none
// followed them when they were read.
func (e *Engine) readMsgs(ctx context.Context, stream string, subjects []string, from uint64, since time.Time, n int) (msgs []*jetstream.RawStreamMsg, complete bool, err error) {
	complete = true
	bound := uint64(math.MaxUint64) // every subject is read up to here
	for _, subject := range subjects {
		got, more, err := directBatch(ctx, e.js, stream, subject, from, since, n)
		if err != nil {
			return nil, false, fmt.Errorf("read journal from %d: %w", from, err)
		}
		msgs = append(msgs, got...)
		if more && len(got) > 0 {
			// Read up to the last message only: others of other
			// subjects may follow it.
			complete = false
			bound = min(bound, got[len(got)-1].Sequence)
		}
	}
	if len(subjects) > 1 {
		msgs = slices.DeleteFunc(msgs, func(m *jetstream.RawStreamMsg) bool { return m.Sequence > bound })
		slices.SortFunc(msgs, func(a, b *jetstream.RawStreamMsg) int { return cmp.Compare(a.Sequence, b.Sequence) })
	}
	return msgs, complete, nil
}

// bounded reads a page ordered by published (then uuid, then position)
// within [lo, hi), from the index.
func (e *Engine) bounded(ctx context.Context, r *request) (page, error) {
	// Everything in the journal when the request came must be indexed
	// (the index's high water is a message sequence, per partition). A
	// journal whose every message aged out keeps its last sequence, which
	// the index, rebuilt after a restart, never sees: there is nothing to
	// wait for. An org's query waits for its partition only.
	for i, st := range e.streams {
		if r.org != auth.AllOrgs && len(e.streams) > 1 && i != e.j.PartitionFor(r.org).Index() {
			continue
		}
		info, err := st.Info(ctx)
		if err != nil {
			return page{}, fmt.Errorf("stream info: %w", err)
		}
		if info.State.Msgs > 0 {
			if err := e.ix.waitForPart(ctx, i, info.State.LastSeq); err != nil {
				return page{}, err
			}
		}
	}
	lo, hi := r.lo, r.hi
	c := r.after
	if c != nil {
		if r.desc {
			hi = min(hi, c.Pub+1)
		} else {
			lo = max(lo, c.Pub)
		}
	}
	pl := newPlanner(r.org, r.filter)
	var out []item
	var readErr error
	want := r.limit + 1 // one more tells whether there is a next page
	if r.limit == 0 {
		return page{}, nil
	}
	// chunk is the least read at a time: it doubles while the reads find
	// too few matches (a keyword or a filter the index cannot answer), so
	// that sparse matches are searched readAhead messages at a time, not
	// one message after another.
	chunk := readAhead
	// With a scan budget, the search stops once it has run out, between
	// two reads, and answers with what it found: its next cursor is the
	// last event examined (matching or not), so the next page goes on
	// from there.
	var (
		stopAt  time.Time
		seen    *item // the last event examined, in the query's order
		stopped bool
	)
	if d := scanBudget(ctx); d > 0 {
		stopAt = time.Now().Add(d)
	}
	e.ix.scan(lo, hi, r.desc, pl.keep, func(batch []entry) bool {
		for len(batch) > 0 {
			if seen != nil && !stopAt.IsZero() && time.Now().After(stopAt) {
				stopped = true
				return false
			}
			// Read enough for the page, ending at a published boundary so
			// ties are sorted whole.
			n := min(len(batch), max(want-len(out), chunk))
			for n < len(batch) && batch[n].pub == batch[n-1].pub {
				n++
			}
			got, err := e.read(ctx, batch[:n])
			if err != nil {
				readErr = err
				return false
			}
			start := 0
			for i := 1; i <= len(got); i++ {
				if i < len(got) && got[i].pub == got[start].pub {
					continue
				}
				group := got[start:i]
				start = i
				sortGroup(group, r.desc)
				for _, it := range group {
					if c != nil && !afterCursor(it, c, r.desc) {
						continue
					}
					seen = &it
					if e.matches(r, it.data) {
						out = append(out, it)
					}
				}
			}
			batch = batch[n:]
			if len(out) >= want {
				return false
			}
			chunk = min(2*chunk, readAhead*journal.MaxBatchEvents)
		}
		return ctx.Err() == nil
	})
	if readErr != nil {
		return page{}, readErr
	}
	if err := ctx.Err(); err != nil {
		return page{}, err
	}
	p := page{items: out}
	switch {
	case len(out) > r.limit:
		p.items = out[:r.limit]
		last := p.items[r.limit-1]
		p.next = &cursor{Mode: "b", Seq: last.seq, Pub: last.pub, UUID: last.uuid, Lo: r.lo, Hi: r.hi, FP: r.fp}
	case stopped:
		p.stopped = true
		p.next = &cursor{Mode: "b", Seq: seen.seq, Pub: seen.pub, UUID: seen.uuid, Lo: r.lo, Hi: r.hi, FP: r.fp}
	}
	return p, nil
}

// sortGroup orders events of equal published by uuid, then position.
func sortGroup(g []item, desc bool) {
	less := func(a, b item) bool {
		if a.uuid != b.uuid {
			return a.uuid < b.uuid
		}
		return a.seq < b.seq
	}
	for i := 1; i < len(g); i++ {
		for j := i; j > 0; j-- {
			if desc == less(g[j-1], g[j]) {
				g[j-1], g[j] = g[j], g[j-1]
			} else {
				break
			}
		}
	}
}

// afterCursor reports whether it comes after c in the query's order.
func afterCursor(it item, c *cursor, desc bool) bool {
	order := 0
	switch {
	case it.pub != c.Pub:
		order = cmp.Compare(it.pub, c.Pub)
	case it.uuid != c.UUID:
		order = strings.Compare(it.uuid, c.UUID)
	default:
		order = cmp.Compare(int64(it.seq), int64(c.Seq))
	}
	if desc {
		return order < 0
	}
	return order > 0
}

// read gets the events at the entries' positions, in the entries' order,
// reading each message once (through the engine's message cache),
// readAhead messages at a time. Events that aged out of the journal are
// skipped.
func (e *Engine) read(ctx context.Context, ents []entry) ([]item, error) {
	// The distinct messages, in the order first needed.
	seqs := make([]uint64, 0, len(ents))
	slot := make(map[uint64]int, len(ents))
	for i := range ents {
		s := journal.MsgOf(ents[i].pos) // partition and sequence
		if _, ok := slot[s]; !ok {
			slot[s] = len(seqs)
			seqs = append(seqs, s)
		}
	}
	msgs := make([][]event.Record, len(seqs))
	errs := make([]error, len(seqs))
	if len(seqs) == 1 {
		msgs[0], errs[0] = e.msgs.get(ctx, seqs[0])
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, readAhead)
		for i := range seqs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				msgs[i], errs[i] = e.msgs.get(ctx, seqs[i])
			})
		}
		wg.Wait()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make([]item, 0, len(ents))
	for i := range ents {
		recs := msgs[slot[journal.MsgOf(ents[i].pos)]]
		_, idx := journal.SplitPosition(ents[i].pos)
		if idx >= len(recs) || recs[idx].Seq != ents[i].pos {
			continue // aged out
		}
		rec := &recs[idx]
		out = append(out, item{seq: ents[i].pos, pub: ents[i].pub, uuid: rec.UUID, data: rec.Data})
	}
	return out, nil
}

// fetchMsg reads and decodes the journal message at seq (msgCache's
// fetch): journal.MsgOf of a position, its partition and sequence.
func (e *Engine) fetchMsg(ctx context.Context, seq uint64) ([]event.Record, int, error) {
	pos := journal.Position(seq, 0)
	part := journal.PartitionOf(pos)
	if part >= len(e.streams) {
		return nil, 0, nil
	}
	m, err := e.streams[part].GetMsg(ctx, journal.MsgSeqOf(pos))
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	recs, err := journal.Decode(journal.RawMessage(m), nil)
	if err != nil {
		// As the index skipped it: answer without its events.
		e.log.Warn("query: skipping an unreadable journal message", "seq", seq, "err", err)
		return nil, 0, nil
	}
	return recs, len(m.Data), nil
}
