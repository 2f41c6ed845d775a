package stream_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// These tests run runners as the nodes of a cluster would: each on its own
// journal (its own connection) to one NATS server started in the test,
// all on the stream's one durable consumer.

// runnerNode is one runner on its own journal connection.
type runnerNode struct {
	j       *journal.Journal
	sink    *fakeSink
	status  *stream.Status
	metrics *stream.Metrics
	cancel  context.CancelFunc
	done    chan struct{}
}

// startNode runs a runner of def("s1") with cfg on j until the test ends
// (or stop).
func startNode(t *testing.T, j *journal.Journal, f *fakeSink, cfg stream.RunnerConfig) *runnerNode {
	t.Helper()
	n := &runnerNode{j: j, sink: f, status: &stream.Status{}, metrics: stream.NewMetrics(prometheus.NewRegistry()),
		done: make(chan struct{})}
	cfg.Def, cfg.Sink, cfg.Journal, cfg.Log, cfg.Metrics, cfg.Status = def("s1"), f, j, discard, n.metrics, n.status
	r := stream.NewRunner(cfg)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	n.cancel = cancel
	go func() {
		defer close(n.done)
		_ = r.Run(ctx, ctx)
	}()
	t.Cleanup(n.stop)
	return n
}

func (n *runnerNode) stop() {
	n.cancel()
	<-n.done
}

// appendOneByOne appends events e-<from> … e-<to-1>, one journal message
// each.
func appendOneByOne(t *testing.T, j *journal.Journal, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := j.Append(t.Context(), []event.Record{mkEvent(t, "acme", "x", idOf(i), 0)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// deliveries counts how often each event was delivered by the sinks.
func deliveries(sinks ...*fakeSink) map[string]int {
	seen := map[string]int{}
	for _, f := range sinks {
		for _, id := range f.deliveredIDs() {
			seen[id]++
		}
	}
	return seen
}

func total(seen map[string]int) int {
	n := 0
	for _, c := range seen {
		n += c
	}
	return n
}

// blockFirst is a sink answer whose first write waits until release is
// closed or the runner stops hard (a slow destination: the batch stays in
// flight).
func blockFirst(release <-chan struct{}) answerFunc {
	var once sync.Once
	return func(ctx context.Context, n int, b sink.Batch) error {
		first := false
		once.Do(func() { first = true })
		if first {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
}

// TestRunnerStartDoesNotRedeliverAboveAckFloor: node A holds its first
// batch in flight (a slow destination), so the consumer's ack floor stays
// below it while node B delivers and acknowledges everything after it. A
// third runner starting (a node restart) must not hand all of that out
// again: the deliveries beyond one per event are at most what A held.
// Then A either finishes its batch or is stopped. AckWait is short: the
// client library drops a message that finds its iterator's buffer full of
// heartbeats (a slow consumer), and such a message comes back only after
// AckWait (TestHardStopRedeliversPromptly checks that a stopped runner
// hands back what it holds at once).
func TestRunnerStartDoesNotRedeliverAboveAckFloor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop bool // stop node A rather than let its write finish
	}{
		{"node A finishes its batch", false},
		{"node A is stopped", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const events, maxEvents = 100, 5
			srv := journaltest.StartNATS(t, nil)
			jA := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
			jB := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
			jC := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
			cfg := fast
			cfg.AckWait = 3 * time.Second
			release := make(chan struct{})
			a := startNode(t, jA, newFakeSink(sink.Limits{MaxEvents: maxEvents}, blockFirst(release)), cfg)
			wait.Eventually(t, "node A pulling", func() bool {
				info, err := consumerInfo(t, jA)
				return err == nil && info.NumWaiting == 1
			})
			b := startNode(t, jB, newFakeSink(sink.Limits{MaxEvents: maxEvents}, nil), cfg)
			wait.Eventually(t, "nodes A and B pulling", func() bool {
				info, err := consumerInfo(t, jA)
				return err == nil && info.NumWaiting == 2
			})
			appendOneByOne(t, jA, 0, events)
			wait.Eventually(t, "node A's first write in flight", func() bool { return a.sink.numCalls() == 1 })
			// A holds its open batch and what its iterator prefetched
			// (two batches' worth): B delivers the rest.
			const held = 3 * maxEvents
			wait.Eventually(t, "node B delivering all A does not hold", func() bool {
				return len(b.sink.deliveredIDs()) >= events-held
			}, wait.Within(15*time.Second))
			c := startNode(t, jC, newFakeSink(sink.Limits{MaxEvents: maxEvents}, nil), cfg)
			wait.Never(t, "a redelivery storm", time.Second, func() bool {
				return total(deliveries(a.sink, b.sink, c.sink)) > events+held
			})
			if tt.stop {
				a.stop()
			} else {
				close(release)
			}
			wait.Eventually(t, "every event delivered", func() bool {
				return len(deliveries(a.sink, b.sink, c.sink)) == events
			}, wait.Within(15*time.Second), wait.Seen(func() string {
				info, _ := consumerInfo(t, jB)
				seen := deliveries(a.sink, b.sink, c.sink)
				var missing []string
				for i := range events {
					if seen[idOf(i)] == 0 {
						missing = append(missing, idOf(i))
					}
				}
				return fmt.Sprintf("missing %v, A attempts %v, consumer %+v", missing, a.sink.attemptIDs(), info)
			}))
			seen := deliveries(a.sink, b.sink, c.sink)
			if dup := total(seen) - events; dup > held {
				t.Errorf("got %d duplicate deliveries, want at most the %d events node A held", dup, held)
			}
		})
	}
}

// TestDeadRunnerEventsComeBackAfterAckWait: node A dies (its connection
// drops) with a batch written but not acknowledged. Node B gets A's
// events after the consumer's short AckWait, and A, whose
// acknowledgements cannot be confirmed, counts nothing delivered and
// reports the failed acknowledgements.
func TestDeadRunnerEventsComeBackAfterAckWait(t *testing.T) {
	t.Parallel()
	const events, maxEvents = 30, 10
	srv := journaltest.StartNATS(t, nil)
	jA := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	jB := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	appendOneByOne(t, jA, 0, events)
	cfg := fast
	cfg.AckWait = 2 * time.Second
	release := make(chan struct{})
	a := startNode(t, jA, newFakeSink(sink.Limits{MaxEvents: maxEvents}, blockFirst(release)), cfg)
	wait.Eventually(t, "node A's first write in flight", func() bool { return a.sink.numCalls() == 1 })
	jA.Conn().Close() // node A is gone: no in-progress, ack or nak any more
	start := time.Now()
	b := startNode(t, jB, newFakeSink(sink.Limits{MaxEvents: maxEvents}, nil), cfg)
	wait.Eventually(t, "node B delivering every event", func() bool {
		return len(deliveries(b.sink)) == events
	}, wait.Within(20*time.Second))
	if took := time.Since(start); took > 5*cfg.AckWait {
		t.Errorf("node A's events came back after %v, want about the AckWait of %v", took, cfg.AckWait)
	}
	if n := total(deliveries(b.sink)); n != events {
		t.Errorf("node B: got %d deliveries, want %d (each event once)", n, events)
	}
	close(release) // node A's write "succeeds"; its acks cannot
	a.stop()
	if got := a.status.Snapshot().Delivered; got != 0 {
		t.Errorf("node A status: got %d delivered, want 0 (nothing acknowledged)", got)
	}
	if got := counterValue(a.metrics.Delivered.WithLabelValues("s1")); got != 0 {
		t.Errorf("node A delivered metric: got %v, want 0", got)
	}
	if got := counterValue(a.metrics.AckFailures.WithLabelValues("s1")); got == 0 {
		t.Error("node A ack failures metric: got 0, want the unconfirmed acks counted")
	}
	// B counts a batch once its acknowledgement is confirmed, just after
	// the sink saw it.
	wait.Eventually(t, "node B status counting every event", func() bool {
		return b.status.Snapshot().Delivered == uint64(events)
	}, wait.Seen(func() string { return fmt.Sprintf("delivered %d, want %d", b.status.Snapshot().Delivered, events) }))
}

// TestEnsureConsumerShortensAckWait: a consumer made by a release with the
// 10-minute AckWait is updated to the default, keeping its position.
func TestEnsureConsumerShortensAckWait(t *testing.T) {
	t.Parallel()
	j := journaltest.Open(t)
	d := def("s1")
	cc := jetstream.ConsumerConfig{Durable: d.ConsumerName(), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 10 * time.Minute, MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy}
	if subj := d.FilterSubjects(); len(subj) == 1 {
		cc.FilterSubject = subj[0]
	} else {
		cc.FilterSubjects = subj
	}
	if _, err := j.JetStream().CreateConsumer(t.Context(), j.StreamName(), cc); err != nil {
		t.Fatal(err)
	}
	c, err := stream.EnsureConsumer(t.Context(), j, d)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Config.AckWait; got != stream.DefaultAckWait || got > time.Minute {
		t.Errorf("got AckWait %v, want %v (seconds, not minutes)", got, stream.DefaultAckWait)
	}
}

// TestRunnerResumesAfterLostPullRequests restarts JetStream on the server
// under a running runner: its pull requests vanish with no answer and no
// reconnect. The watchdog finds events pending with nothing arriving and
// recreates the reader, so delivery resumes within seconds, each event
// once, and the stall is counted.
func TestRunnerResumesAfterLostPullRequests(t *testing.T) {
	t.Parallel()
	srv := journaltest.StartNATS(t, nil)
	j := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	cfg := fast
	cfg.StallAfter = time.Second
	n := startNode(t, j, newFakeSink(sink.Limits{}, nil), cfg)
	appendOneByOne(t, j, 0, 5)
	n.sink.waitDelivered(t, 5)
	wait.Eventually(t, "the runner idle, its acks in", func() bool {
		info, err := consumerInfo(t, j)
		return err == nil && info.NumAckPending == 0 && info.NumWaiting > 0
	})

	jsCfg := *srv.JetStreamConfig()
	// EnableJetStream adds "jetstream" to the directory it is given.
	if filepath.Base(jsCfg.StoreDir) == "jetstream" {
		jsCfg.StoreDir = filepath.Dir(jsCfg.StoreDir)
	}
	if err := srv.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	if err := srv.EnableJetStream(&jsCfg); err != nil {
		t.Fatal(err)
	}
	// A node that starts now writes the next events (this journal's
	// writer is not what is tested).
	w := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	appendOneByOne(t, w, 5, 10)
	restarted := time.Now()
	wait.Eventually(t, "delivery resumed", func() bool { return len(n.sink.deliveredIDs()) >= 10 },
		wait.Within(15*time.Second))
	if took := time.Since(restarted); took > 10*time.Second {
		t.Errorf("delivery resumed after %v, want within seconds", took)
	}
	seen := deliveries(n.sink)
	for i := range 10 {
		if seen[idOf(i)] != 1 {
			t.Errorf("event %s: got %d deliveries, want 1", idOf(i), seen[idOf(i)])
		}
	}
	if got := counterValue(n.metrics.Stalls.WithLabelValues("s1")); got < 1 {
		t.Errorf("stalls metric: got %v, want at least 1", got)
	}
}

func consumerInfo(t *testing.T, j *journal.Journal) (*jetstream.ConsumerInfo, error) {
	c, err := j.JetStream().Consumer(t.Context(), j.StreamName(), def("s1").ConsumerName())
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	return c.Info(t.Context())
}

// TestLongStallShowsInStatus: while the runner pulls nothing (its lease
// about to run out), a pull it never sees takes the one message the
// consumer lets out at a time (MaxAckPending 1), so events are pending but
// none reach the runner. The watchdog keeps it pulling, counts the stall
// once, and after StallError the status says the stream cannot make
// progress; once the message is acknowledged, delivery goes on.
func TestLongStallShowsInStatus(t *testing.T) {
	t.Parallel()
	j := journaltest.Open(t)
	c, err := stream.EnsureConsumer(t.Context(), j, def("s1"))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.CachedInfo().Config
	cc.MaxAckPending = 1
	if c, err = j.JetStream().UpdateConsumer(t.Context(), j.StreamName(), cc); err != nil {
		t.Fatal(err)
	}
	cfg := fast
	cfg.StallAfter, cfg.StallError = time.Second, 2*time.Second
	var noPulls, asked atomic.Bool
	noPulls.Store(true)
	// Nothing is pending yet, so the first to ask is the runner's feed,
	// deciding whether to pull: it started on a consumer with nothing
	// delivered. (A feed starting after the fetch below would reset the
	// consumer to its ack floor, as a new owner does, and never stall.)
	cfg.Fenced = func() bool {
		asked.Store(true)
		return noPulls.Load()
	}
	n := startNode(t, j, newFakeSink(sink.Limits{}, nil), cfg)
	wait.Eventually(t, "the runner's feed started", asked.Load)
	wait.Eventually(t, "no pull waiting", func() bool {
		info, err := c.Info(t.Context())
		return err == nil && info.NumWaiting == 0
	})
	appendOneByOne(t, j, 0, 3)
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var holding jetstream.Msg
	for m := range batch.Messages() {
		holding = m
	}
	if holding == nil {
		t.Fatalf("fetch: got no message (%v), want one", batch.Error())
	}
	noPulls.Store(false)
	wait.Eventually(t, "the status saying the stream makes no progress", func() bool {
		return strings.Contains(n.status.Snapshot().LastError, "no progress")
	}, wait.Within(15*time.Second))
	if got := counterValue(n.metrics.Stalls.WithLabelValues("s1")); got != 1 {
		t.Errorf("stalls metric: got %v, want 1 (one stall, however many retries)", got)
	}
	if err := holding.DoubleAck(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := n.sink.waitDelivered(t, 2)
	if want := ids(1, 3); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestSlowWriteAndRetryKeepOrder: a destination that is slow to answer
// (for less or more than AckWait/3), then fails once (a retry), while
// events keep coming. Every event the runner pulled meanwhile stays its
// own: the events arrive promptly (long before AckWait) and in journal
// order, each once. Before, a reader released during a long write or a
// retry left messages to pull requests nobody read, and a reader whose
// buffer was full dropped what kept arriving: those came back only after
// AckWait, out of order.
func TestSlowWriteAndRetryKeepOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		maxEvents int
		slow      time.Duration // the first write's
		quiet     time.Duration // from the first write to the next events
		cluster   bool          // three NATS servers, the runner and the writer on different ones
	}{
		// Heartbeats fill a reader's buffer while the runner writes; the
		// events that follow find it full.
		{"write shorter than AckWait/3, heartbeats then a burst", 2, 3500 * time.Millisecond, 1400 * time.Millisecond, false},
		{"write shorter than AckWait/3, heartbeats then a later burst", 2, 3500 * time.Millisecond, 1700 * time.Millisecond, false},
		// Events come after the runner would have released its reader.
		{"write longer than AckWait/3", 5, 6 * time.Second, 4100 * time.Millisecond, false},
		{"write longer than AckWait/3, on a cluster", 5, 6 * time.Second, 4100 * time.Millisecond, true},
		{"write shorter than AckWait/3, heartbeats then a burst, on a cluster", 2, 3500 * time.Millisecond, 2500 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const events = 40
			var rURL, wURL string
			replicas := 1
			if tt.cluster {
				urls, _ := startNATSCluster(t)
				rURL, wURL, replicas = urls[0], urls[1], 3
			} else {
				srv := journaltest.StartNATS(t, nil)
				rURL, wURL = srv.ClientURL(), srv.ClientURL()
			}
			w := journaltest.OpenWith(t, journal.Options{URL: wURL, Replicas: replicas})
			j := journaltest.OpenWith(t, journal.Options{URL: rURL, Replicas: replicas})
			cfg := fast
			cfg.AckWait = 12 * time.Second
			f := newFakeSink(sink.Limits{MaxEvents: tt.maxEvents}, func(ctx context.Context, n int, b sink.Batch) error {
				switch n {
				case 0:
					time.Sleep(tt.slow)
				case 2:
					return errors.New("try again") // unmarked: retryable
				}
				return nil
			})
			n := startNode(t, j, f, cfg)
			start := time.Now()
			appendOneByOne(t, w, 0, 1)
			wait.Eventually(t, "the first write in flight", func() bool { return f.numCalls() == 1 })
			time.Sleep(tt.quiet)
			for i := 1; i < events; i++ {
				appendOneByOne(t, w, i, i+1)
				time.Sleep(40 * time.Millisecond)
			}
			wait.Eventually(t, "every event delivered", func() bool { return len(n.sink.deliveredIDs()) >= events },
				wait.Within(20*time.Second))
			if took := time.Since(start); took >= cfg.AckWait {
				t.Errorf("all delivered after %v, want before AckWait (%v): some waited for redelivery", took, cfg.AckWait)
			}
			if got, want := n.sink.deliveredIDs(), ids(0, events); !equalIDs(got, want) {
				t.Errorf("got %v, want %v (in order, each once)", got, want)
			}
		})
	}
}

// TestInheritedStreamKeepsOrder: node A dies (its connection drops) while
// it holds the stream's first events, unacknowledged. Node B takes the
// stream over while more events arrive: its feed finds A's messages
// delivered and not acknowledged and resets the consumer to its ack floor,
// so B delivers everything in journal order, without waiting the 5
// minutes of AckWait after which A's messages would come back (after the
// newer ones).
func TestInheritedStreamKeepsOrder(t *testing.T) {
	t.Parallel()
	srv := journaltest.StartNATS(t, nil)
	jA := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	jB := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	cfg := fast
	cfg.AckWait = 5 * time.Minute
	release := make(chan struct{})
	defer close(release)
	a := startNode(t, jA, newFakeSink(sink.Limits{MaxEvents: 5}, blockFirst(release)), cfg)
	appendOneByOne(t, jB, 0, 10)
	wait.Eventually(t, "node A's first write in flight", func() bool { return a.sink.numCalls() == 1 })
	jA.Conn().Close() // node A dies holding its messages
	b := startNode(t, jB, newFakeSink(sink.Limits{MaxEvents: 5}, nil), cfg)
	appendOneByOne(t, jB, 10, 15)
	got := b.sink.waitDelivered(t, 15)
	if want := ids(0, 15); !equalIDs(got, want) {
		t.Errorf("got %v, want %v (journal order)", got, want)
	}
}

// TestFencedRunnerWritesNothing: once its lease has run out (Fenced), a
// runner writes nothing more, whatever it holds, and stops.
func TestFencedRunnerWritesNothing(t *testing.T) {
	t.Parallel()
	j := journaltest.Open(t)
	var fenced atomic.Bool
	cfg := fast
	cfg.Fenced = fenced.Load
	n := startNode(t, j, newFakeSink(sink.Limits{MaxEvents: 5}, nil), cfg)
	appendOneByOne(t, j, 0, 5)
	n.sink.waitDelivered(t, 5)
	fenced.Store(true) // the process slept past its lease
	appendOneByOne(t, j, 5, 10)
	wait.Eventually(t, "the runner stopped", func() bool {
		select {
		case <-n.done:
			return true
		default:
			return false
		}
	})
	if got := n.sink.deliveredIDs(); len(got) != 5 {
		t.Errorf("got %v delivered, want only the 5 before the lease ran out", got)
	}
}
