package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
}

// Engine answers System Log queries from the journal. Create it with New.
type Engine struct {
	cfg    Config
	j      *journal.Journal
	js     jetstream.JetStream
	stream jetstream.Stream
	ix     *Index
	key    []byte
	rl     *limiter
	log    *slog.Logger
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
	st, err := j.JetStream().Stream(ctx, j.StreamName())
	if err != nil {
		return nil, fmt.Errorf("query: open stream: %w", err)
	}
	key, err := cursorKey(ctx, j, cfg.Keys)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, j: j, js: j.JetStream(), stream: st, ix: newIndex(log), key: key, log: log}
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
	e.ix.follow(ctx, e.js, e.j.Conn(), e.j.StreamName())
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
	seq  uint64
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
}

func (e *Engine) matches(r *request, data []byte) bool {
	return r.filter.Match(data) && r.keywords.Match(data)
}

// poll reads a polling page: journal order from the cursor (or from the
// first event persisted at or after since), always with a next cursor.
func (e *Engine) poll(ctx context.Context, r *request) (page, error) {
	info, err := e.stream.Info(ctx)
	if err != nil {
		return page{}, fmt.Errorf("stream info: %w", err)
	}
	last := info.State.LastSeq
	cc := jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckNonePolicy,
		FilterSubject:     subjects(r.org, r.filter),
		MemoryStorage:     true,
		InactiveThreshold: time.Minute,
		Replicas:          1,
	}
	pos := uint64(0)
	switch {
	case r.after != nil:
		pos = r.after.Seq
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, pos+1
	default:
		since := r.since
		if since.After(e.cfg.Now()) {
			// Nothing persisted yet can match; keep asking from since.
			return page{}, nil
		}
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
		// If nothing matches yet, the next poll starts after what is
		// in the journal now.
		pos = last
	}
	next := &cursor{Mode: "p", Seq: pos, FP: r.fp}
	if r.limit == 0 && r.after == nil {
		// No position yet: the next link repeats this request.
		return page{}, nil
	}
	if r.limit == 0 || (r.after != nil && pos >= last) {
		return page{next: next}, nil
	}
	cons, err := e.stream.CreateConsumer(ctx, cc)
	if err != nil {
		return page{}, fmt.Errorf("create consumer: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.stream.DeleteConsumer(dctx, cons.CachedInfo().Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			e.log.Debug("delete query consumer", "err", err)
		}
	}()
	pending := cons.CachedInfo().NumPending
	examined := false
	var out []item
	deadline := time.Now().Add(min(DefaultPollScan, e.cfg.Timeout/2))
	for pending > 0 && len(out) < r.limit && time.Now().Before(deadline) {
		n := min(pending, 500)
		if r.filter.root == nil && len(r.keywords) == 0 {
			n = min(n, uint64(r.limit-len(out)))
		}
		batch, err := cons.Fetch(int(n), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return page{}, fmt.Errorf("fetch: %w", err)
		}
		got := 0
		for msg := range batch.Messages() {
			if len(out) >= r.limit {
				break // the rest of the batch is read again next time
			}
			got++
			examined = true
			md, err := msg.Metadata()
			if err != nil {
				continue
			}
			pending = md.NumPending
			next.Seq = md.Sequence.Stream
			if e.matches(r, msg.Data()) {
				pub, _ := strconv.ParseInt(msg.Headers().Get(journal.HeaderPublished), 10, 64)
				out = append(out, item{seq: md.Sequence.Stream, pub: pub, data: msg.Data()})
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return page{}, fmt.Errorf("fetch: %w", err)
		}
		if got == 0 {
			break
		}
	}
	if !examined && pending > 0 && r.after == nil {
		// Nothing read though events wait: keep the request's own start
		// rather than skip them.
		return page{}, nil
	}
	return page{items: out, next: next}, nil
}

// bounded reads a page ordered by published (then uuid, then sequence)
// within [lo, hi), from the index.
func (e *Engine) bounded(ctx context.Context, r *request) (page, error) {
	info, err := e.stream.Info(ctx)
	if err != nil {
		return page{}, fmt.Errorf("stream info: %w", err)
	}
	// Everything in the journal when the request came must be indexed.
	if err := e.ix.waitFor(ctx, info.State.LastSeq); err != nil {
		return page{}, err
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
	e.ix.scan(lo, hi, r.desc, pl.keep, func(batch []entry) bool {
		for len(batch) > 0 {
			// Read enough for the page, ending at a published boundary so
			// ties are sorted whole.
			n := min(len(batch), max(want-len(out), readAhead))
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
					if e.matches(r, it.data) {
						out = append(out, it)
					}
				}
			}
			batch = batch[n:]
			if len(out) >= want {
				return false
			}
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
	if len(out) > r.limit {
		p.items = out[:r.limit]
		last := p.items[r.limit-1]
		p.next = &cursor{Mode: "b", Seq: last.seq, Pub: last.pub, UUID: last.uuid, Lo: r.lo, Hi: r.hi, FP: r.fp}
	}
	return p, nil
}

// sortGroup orders events of equal published by uuid, then sequence.
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

// read gets the events at the entries' sequences, in the entries' order,
// readAhead at a time. Events that aged out of the journal are skipped.
func (e *Engine) read(ctx context.Context, ents []entry) ([]item, error) {
	out := make([]item, len(ents))
	ok := make([]bool, len(ents))
	errs := make([]error, len(ents))
	var wg sync.WaitGroup
	sem := make(chan struct{}, readAhead)
	for i := range ents {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m, err := e.stream.GetMsg(ctx, ents[i].seq)
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgNotFound) {
					errs[i] = err
				}
				return
			}
			out[i] = item{seq: m.Sequence, pub: ents[i].pub, uuid: journal.UUIDOf(m.Header), data: m.Data}
			ok[i] = true
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	kept := out[:0]
	for i := range out {
		if ok[i] {
			kept = append(kept, out[i])
		}
	}
	return kept, nil
}
