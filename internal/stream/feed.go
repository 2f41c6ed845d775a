package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
)

// feed pulls a consumer's messages into a queue the runner reads. It sends
// its own pull requests, one at a time, all answered to one inbox that it
// keeps for as long as the runner runs.
//
// It replaces a Messages iterator and Fetch, which strand messages until
// AckWait (30 s) comes back, out of order: releasing an iterator (on a
// retry or a long write) unsubscribed the inbox of pull requests the
// server was still answering; a full iterator buffer (heartbeats count)
// dropped what kept arriving; and a Fetch ends on the server's "409 Batch
// Completed", which on a cluster can overtake the batch's last message,
// and unsubscribes its inbox before that message arrives. A feed's inbox is
// never unsubscribed while the runner runs and never drops a message: every
// message that reaches it is queued, and every queued message is the
// runner's, kept in progress with its batch (keepAlive) until it is taken,
// or handed back in order when the runner stops.
//
// A pull asks for what the queue has room for (limit messages, pullBytes),
// so a slow or failing destination bounds what the feed holds. A pull
// left on a consumer leader that moved ends when its heartbeats stop, and
// the next goes to the new leader.
//
// Order. The consumer numbers what it delivers (the consumer sequence in
// each message's reply subject), and the runner, the stream's only
// reader, must see every number. A number skipped means the consumer
// handed messages to a pull whose answer never arrived: the connection
// dropped while a NATS server restarted, or a pull of the previous owner
// was answered after it stopped reading. The consumer waits AckWait before
// it sends those again, after newer ones: out of order. So a feed that
// sees a gap queues and pulls nothing more and reports it (a gapError,
// once its queue is empty); the runner delivers and acknowledges what it
// took before the gap and calls resync, which resets the consumer to the
// journal sequence after the last message queued: everything after it
// comes again, in order, at once. A feed starts by resetting the consumer
// to its ack floor when it has messages delivered and not acknowledged
// (held by a runner that stopped without handing them back).
type feed struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   string
	consumer string
	subject  string // the consumer's next-messages API subject
	log      *slog.Logger
	sub      *nats.Subscription
	// fenced, when set, reports that the runner lost its lease: the feed
	// asks for nothing more (see mayPull).
	fenced func() bool

	mu sync.Mutex
	q  []jetstream.Msg
	// limit is the most messages queued and asked for, together (see
	// setLimit).
	limit int
	// want is how many messages the current pull may still bring (0: no
	// pull is open).
	want int
	// ends is when the current pull ends at the latest (its expiry and a
	// margin); heard is when the server last sent anything.
	ends, heard time.Time
	// noBeat says a pull's heartbeats stopped; next reports it once (the
	// watchdog counts it).
	noBeat bool
	closed bool
	// lastSeq is the consumer sequence of the last message received (0:
	// none since the consumer was reset), when seqKnown; gapAt is when a
	// gap was seen (zero: none open).
	lastSeq  uint64
	seqKnown bool
	gapAt    time.Time
	// lastStream is the highest journal sequence queued: the runner took,
	// or will take, every message up to it. A resync restarts the consumer
	// after it, not at its ack floor, which an acknowledgement lost in the
	// fault may hold back (everything above it would come twice).
	lastStream uint64

	arrived chan struct{} // (cap 1) the queue grew, or a pull lost its heartbeats
	wake    chan struct{} // (cap 1) a pull ended or the queue shrank
	stop    chan struct{}
	done    chan struct{}
}

// feedConfig is what a feed reads: a consumer of a journal stream, on
// the journal's connection.
type feedConfig struct {
	nc               *nats.Conn
	js               jetstream.JetStream
	stream, consumer string
	limit            int
	log              *slog.Logger
	fenced           func() bool
}

// startFeed subscribes an inbox for the consumer and starts pulling, at
// most cfg.limit messages.
func startFeed(ctx context.Context, cfg feedConfig) (*feed, error) {
	return startFeedTo(ctx, cfg, make(chan struct{}, 1))
}

// startFeedTo is startFeed signalling arrivals on arrived (cap 1), which
// several feeds may share. It resets the consumer first when it has
// messages delivered and not acknowledged (see feed).
func startFeedTo(ctx context.Context, cfg feedConfig, arrived chan struct{}) (*feed, error) {
	f := &feed{nc: cfg.nc, js: cfg.js, stream: cfg.stream, consumer: cfg.consumer,
		subject: fmt.Sprintf("$JS.API.CONSUMER.MSG.NEXT.%s.%s", cfg.stream, cfg.consumer),
		limit:   cfg.limit, log: cfg.log, fenced: cfg.fenced,
		arrived: arrived, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	cons, err := f.js.Consumer(ctx, f.stream, f.consumer)
	if err != nil {
		return nil, fmt.Errorf("journal consumer %s: %w", f.consumer, err)
	}
	info := cons.CachedInfo()
	if info.NumAckPending > 0 {
		f.log.Info("journal consumer has messages delivered and not acknowledged (a runner stopped without handing them back): resetting it to its ack floor to keep order",
			"stream", f.stream, "ackPending", info.NumAckPending)
		if err := f.reset(ctx, 0); err != nil {
			return nil, err
		}
		f.lastStream = info.AckFloor.Stream
	} else {
		f.lastSeq, f.seqKnown = info.Delivered.Consumer, true
		f.lastStream = info.Delivered.Stream
	}
	sub, err := f.nc.Subscribe(f.nc.NewInbox(), f.receive)
	if err != nil {
		return nil, fmt.Errorf("subscribe for journal messages: %w", err)
	}
	// The pulls bound what arrives; a second, fixed bound would drop.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe for journal messages: %w", err)
	}
	f.sub = sub
	go f.run()
	return f, nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// receive takes what the server sends to the inbox: messages, heartbeats,
// and the statuses that end a pull.
func (f *feed) receive(m *nats.Msg) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heard = time.Now()
	if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
		switch status {
		case "100": // an idle heartbeat (or flow control)
			if m.Reply != "" {
				_ = m.Respond(nil)
			}
		default:
			// 404/408: no messages, expired; 409: batch completed,
			// leadership change, and the like. The pull is over.
			if status != "404" && status != "408" {
				f.log.Debug("journal pull ended", "status", status, "description", m.Header.Get("Description"))
			}
			f.want = 0
			signal(f.wake)
		}
		return
	}
	if f.closed {
		_ = m.Nak() // hand it back at once rather than after AckWait
		return
	}
	if !f.gapAt.IsZero() {
		// Sent before the reset, it comes again after it. Sent to a pull
		// still open when the reset applied, before this feed knew, it is
		// the new numbering's: handed back, it comes again at once (and its
		// number, skipped, makes the feed resync once more) rather than
		// after AckWait.
		_ = m.Nak()
		return
	}
	if md, err := m.Metadata(); err == nil {
		if f.seqKnown && md.Sequence.Consumer != f.lastSeq+1 {
			f.log.Warn("journal consumer skipped messages (a pull's answer was lost): delivering what came before, then resetting the consumer to keep order",
				"stream", f.stream, "expected", f.lastSeq+1, "got", md.Sequence.Consumer)
			f.gapAt = time.Now()
			f.want = 0
			signal(f.arrived)
			return
		}
		f.lastSeq, f.seqKnown = md.Sequence.Consumer, true
		f.lastStream = max(f.lastStream, md.Sequence.Stream)
	}
	f.q = append(f.q, pulled{m})
	if f.want > 0 {
		f.want--
		if f.want == 0 {
			signal(f.wake)
		}
	}
	signal(f.arrived)
}

// pullRequest is the body of a JetStream pull request.
type pullRequest struct {
	Batch     int           `json:"batch"`
	MaxBytes  int           `json:"max_bytes,omitempty"`
	Expires   time.Duration `json:"expires"`
	Heartbeat time.Duration `json:"idle_heartbeat,omitempty"`
}

func (f *feed) run() {
	defer close(f.done)
	tick := time.NewTicker(pullHeartbeat / 4)
	defer tick.Stop()
	for {
		now := time.Now()
		f.mu.Lock()
		if f.want > 0 {
			switch {
			case now.Sub(f.heard) > 2*pullHeartbeat:
				// Left on a leader that moved, or the connection
				// dropped: pull again.
				f.want, f.noBeat = 0, true
				signal(f.arrived)
			case now.After(f.ends):
				f.want = 0
			}
		}
		n := 0
		if f.want == 0 && f.gapAt.IsZero() && f.mayPull() {
			n = f.limit - len(f.q)
		}
		if n > 0 {
			f.want, f.heard, f.ends = n, now, now.Add(pullExpiry+time.Second)
		}
		f.mu.Unlock()
		if n > 0 {
			body, _ := json.Marshal(pullRequest{Batch: n, MaxBytes: pullBytes, Expires: pullExpiry, Heartbeat: pullHeartbeat})
			if err := f.nc.PublishRequest(f.subject, f.sub.Subject, body); err != nil {
				f.log.Debug("journal pull failed", "err", err)
				f.mu.Lock()
				f.want = 0
				f.mu.Unlock()
			}
		}
		select {
		case <-f.stop:
			return
		case <-f.wake:
		case <-tick.C:
		}
	}
}

// mayPull reports whether a pull request may be sent now. Not while the
// connection is down: the client would buffer the request and send it on
// reconnecting, when the runner may have lost its lease and stopped, and
// the server would hand the next messages to an inbox nobody reads. Not
// once the runner is fenced, for the same reason (a node woken from a
// pause pulls before it sees its lease ran out). The ticker tries again.
func (f *feed) mayPull() bool {
	if !f.nc.IsConnected() {
		return false
	}
	return f.fenced == nil || !f.fenced()
}

// gapError reports a feed that saw a gap in its consumer's sequence (see
// feed); the runner resyncs it.
type gapError struct{ f *feed }

func (e *gapError) Error() string {
	return fmt.Sprintf("journal consumer %s on %s skipped messages", e.f.consumer, e.f.stream)
}

// resync restarts the consumer of a feed that saw a gap after the last
// message it queued and pulls again. The runner calls it once everything it took is acknowledged.
// If the consumer cannot be reset for AckWait (a server without the reset
// API, or an outage), the feed goes on without: what was skipped comes
// back after AckWait, possibly after newer events, and the log says so.
func (f *feed) resync(ctx context.Context, ackWait time.Duration) error {
	f.mu.Lock()
	after := f.lastStream
	f.mu.Unlock()
	err := f.reset(ctx, after+1)
	if err == nil || errors.Is(err, errFenced) {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.gapAt) < ackWait {
		return err
	}
	f.log.Error("journal consumer could not be reset after a gap: delivering on; the skipped messages come back after AckWait, possibly after newer events",
		"stream", f.stream, "err", err)
	f.seqKnown = false
	f.gapAt = time.Time{}
	signal(f.wake)
	return nil
}

// reset restarts the consumer at journal sequence seq (0 or 1: at its ack
// floor), forgetting what it delivered and was not acknowledged; the next
// message it delivers is number 1.
func (f *feed) reset(ctx context.Context, seq uint64) error {
	if f.fenced != nil && f.fenced() {
		return errFenced
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	if seq > 1 {
		_, err = f.js.ResetConsumerToSequence(ctx, f.stream, f.consumer, seq)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			// Refused (below the consumer's start): the ack floor is safe.
			f.log.Warn("journal consumer refused a reset to a sequence; resetting it to its ack floor", "stream", f.stream, "seq", seq, "err", err)
			_, err = f.js.ResetConsumer(ctx, f.stream, f.consumer)
		}
	} else {
		_, err = f.js.ResetConsumer(ctx, f.stream, f.consumer)
	}
	if err != nil {
		return fmt.Errorf("reset journal consumer %s on %s: %w", f.consumer, f.stream, err)
	}
	f.mu.Lock()
	f.lastSeq, f.seqKnown = 0, true
	f.gapAt = time.Time{}
	f.q = nil // none: the runner resyncs an empty feed; at start, none yet
	f.want = 0
	f.mu.Unlock()
	signal(f.wake)
	return nil
}

// setLimit sets how many messages the feed may hold: the runner keeps it
// to about two batches of events, so that what it holds beyond its batch
// (kept in progress, and counted as dropped if retention purges it) stays
// small whatever the size of the journal's messages.
func (f *feed) setLimit(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limit = max(n, 1)
}

func (f *feed) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.q)
}

// next returns the oldest queued message, waiting at most wait for one. It
// returns context.DeadlineExceeded when none came, and
// jetstream.ErrNoHeartbeat (once) when a pull lost its heartbeats.
func (f *feed) next(ctx context.Context, wait time.Duration) (jetstream.Msg, error) {
	return awaitMsg(ctx, wait, f.arrived, f.take)
}

// awaitMsg returns what take gives (a message or an error), waiting at
// most wait on arrived, then asking again, while it gives neither: the
// wait of feed.next and feedSet.next. It returns
// context.DeadlineExceeded when nothing came.
func awaitMsg(ctx context.Context, wait time.Duration, arrived <-chan struct{}, take func() (jetstream.Msg, error)) (jetstream.Msg, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if m, err := take(); m != nil || err != nil {
			return m, err
		}
		select {
		case <-arrived:
		case <-t.C:
			return nil, context.DeadlineExceeded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// take returns the oldest queued message, or ErrNoHeartbeat (once) when
// a pull lost its heartbeats, or neither, without waiting.
func (f *feed) take() (jetstream.Msg, error) {
	f.mu.Lock()
	if len(f.q) > 0 {
		m := f.q[0]
		f.q[0] = nil
		f.q = f.q[1:]
		f.mu.Unlock()
		signal(f.wake)
		return m, nil
	}
	noBeat, gap := f.noBeat, !f.gapAt.IsZero()
	f.noBeat = false
	f.mu.Unlock()
	if gap {
		return nil, &gapError{f}
	}
	if noBeat {
		return nil, jetstream.ErrNoHeartbeat
	}
	return nil, nil
}

// each calls fn with every queued message (keepAlive marks them in
// progress). fn must not call the feed.
func (f *feed) each(fn func(jetstream.Msg)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.q {
		fn(m)
	}
}

// close stops pulling and returns the messages queued and not taken, in
// order. It does not wait for the pull in flight (the runner may have lost
// its lease): its inbox is drained, and a message that still arrives is
// handed back at once.
func (f *feed) close() []jetstream.Msg {
	close(f.stop)
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	_ = f.sub.Drain()
	q := f.q
	f.q = nil
	return q
}

// pulled is a journal message a feed received, with the jetstream.Msg
// methods the runner uses.
type pulled struct{ m *nats.Msg }

var _ jetstream.Msg = pulled{}

func (p pulled) Metadata() (*jetstream.MsgMetadata, error) {
	md, err := p.m.Metadata()
	if err != nil {
		return nil, err
	}
	return &jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Consumer: md.Sequence.Consumer, Stream: md.Sequence.Stream},
		NumDelivered: md.NumDelivered, NumPending: md.NumPending, Timestamp: md.Timestamp,
		Stream: md.Stream, Consumer: md.Consumer, Domain: md.Domain,
	}, nil
}

func (p pulled) Data() []byte         { return p.m.Data }
func (p pulled) Headers() nats.Header { return p.m.Header }
func (p pulled) Subject() string      { return p.m.Subject }
func (p pulled) Reply() string        { return p.m.Reply }
func (p pulled) Ack() error           { return p.m.Ack() }
func (p pulled) Nak() error           { return p.m.Nak() }
func (p pulled) InProgress() error    { return p.m.InProgress() }
func (p pulled) Term() error          { return p.m.Term() }

func (p pulled) DoubleAck(ctx context.Context) error { return p.m.AckSync(nats.Context(ctx)) }

func (p pulled) NakWithDelay(delay time.Duration) error { return p.m.NakWithDelay(delay) }

func (p pulled) TermWithReason(reason string) error {
	return p.m.Respond([]byte("+TERM " + reason))
}

// msgFeed is what the runner reads the journal through: one feed, or a
// feedSet for a stream of every org on a partitioned journal.
type msgFeed interface {
	next(ctx context.Context, wait time.Duration) (jetstream.Msg, error)
	setLimit(n int)
	len() int
	each(fn func(jetstream.Msg))
	close() []jetstream.Msg
}

// feedSet reads a log stream of every org on a partitioned journal: a
// feed per partition's consumer, sharing one arrival signal. next takes
// from them in turn; an org's events are all in one partition, so its
// order holds.
type feedSet struct {
	fs      []*feed
	arrived chan struct{}
	turn    int
}

// startFeeds starts the feeds of def's consumers: one, or one per
// partition for a stream of every org on a partitioned journal.
func startFeeds(ctx context.Context, j *journal.Journal, def Definition, limit int, log *slog.Logger, fenced func() bool) (msgFeed, error) {
	cfg := feedConfig{nc: j.Conn(), js: j.JetStream(), consumer: def.ConsumerName(), limit: limit, log: log, fenced: fenced}
	parts := j.Partitions()
	if def.JournalOrg() != "" || len(parts) == 1 {
		cfg.stream = j.PartitionFor(def.JournalOrg()).Stream()
		return startFeed(ctx, cfg)
	}
	fs := &feedSet{arrived: make(chan struct{}, 1)}
	for _, p := range parts {
		cfg.stream = p.Stream()
		f, err := startFeedTo(ctx, cfg, fs.arrived)
		if err != nil {
			fs.close()
			return nil, err
		}
		fs.fs = append(fs.fs, f)
	}
	return fs, nil
}

func (s *feedSet) next(ctx context.Context, wait time.Duration) (jetstream.Msg, error) {
	return awaitMsg(ctx, wait, s.arrived, s.take)
}

// take asks the feeds in turn, from the one after the last asked, for a
// message (or an error), without waiting.
func (s *feedSet) take() (jetstream.Msg, error) {
	for range s.fs {
		f := s.fs[s.turn]
		s.turn = (s.turn + 1) % len(s.fs)
		if m, err := f.take(); m != nil || err != nil {
			return m, err
		}
	}
	return nil, nil
}

func (s *feedSet) setLimit(n int) {
	for _, f := range s.fs {
		f.setLimit(n)
	}
}

func (s *feedSet) len() int {
	n := 0
	for _, f := range s.fs {
		n += f.len()
	}
	return n
}

func (s *feedSet) each(fn func(jetstream.Msg)) {
	for _, f := range s.fs {
		f.each(fn)
	}
}

func (s *feedSet) close() []jetstream.Msg {
	var q []jetstream.Msg
	for _, f := range s.fs {
		q = append(q, f.close()...)
	}
	return q
}
