package stream

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// flakyAckMsg is a journal message whose first fail acknowledgements are
// not confirmed (a NATS fault: "no responders").
type flakyAckMsg struct {
	*memMsg
	fail  int32
	calls atomic.Int32
}

func (m *flakyAckMsg) DoubleAck(context.Context) error {
	if m.calls.Add(1) <= m.fail {
		return errors.New("nats: no responders available for request")
	}
	return nil
}

// TestUnconfirmedAckIsSentAgain: a delivered message whose ack the journal
// did not confirm is acknowledged again with the next batch, and its
// events are counted delivered then. Left unacknowledged, it would hold
// the consumer's ack floor, and a next owner resetting the consumer to
// that floor would deliver everything acknowledged since again (the
// cluster suite saw 1340 duplicates so).
func TestUnconfirmedAckIsSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &scriptedSink{}
		metrics := NewMetrics(prometheus.NewRegistry())
		st := &Status{}
		r, it, stop := stepOnMem(t, RunnerConfig{Sink: s, Metrics: metrics, Status: st, MaxAge: 200 * time.Millisecond})
		synctest.Wait()
		var first *flakyAckMsg
		it.pushWith(memEvent("a"), func(m *memMsg) jetstream.Msg {
			first = &flakyAckMsg{memMsg: m, fail: 1}
			return first
		})
		time.Sleep(time.Second) // batch 1 written; its ack not confirmed
		if got := first.calls.Load(); got != 1 {
			t.Fatalf("acks of the first message after its batch: got %d, want 1", got)
		}
		it.push(memEvent("b"))
		time.Sleep(time.Second) // batch 2 written and acked, with the first again
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := first.calls.Load(); got != 2 {
			t.Errorf("acks of the first message: got %d, want 2 (sent again with the next batch)", got)
		}
		st.mu.Lock()
		delivered := st.delivered
		st.mu.Unlock()
		if delivered != 2 {
			t.Errorf("delivered: got %d, want 2 (the first counted once its ack was confirmed)", delivered)
		}
		if got := ackFailures(metrics); got != 1 {
			t.Errorf("ack failures metric: got %v, want 1", got)
		}
		if len(r.ackRetry) != 0 {
			t.Errorf("acks still to retry: got %d, want 0", len(r.ackRetry))
		}
	})
}

// ackFailures reads the runner's ack failures counter (its stream id is
// empty here).
func ackFailures(m *Metrics) float64 {
	var d dto.Metric
	if err := m.AckFailures.WithLabelValues("").Write(&d); err != nil {
		panic(err)
	}
	return d.GetCounter().GetValue()
}

// slowAckMsg is a journal message whose acknowledgement the journal
// confirms only once release is closed.
type slowAckMsg struct {
	*memMsg
	release chan struct{}
}

func (m *slowAckMsg) DoubleAck(ctx context.Context) error {
	select {
	case <-m.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestAckConfirmationDoesNotHoldTheNextBatch: the runner writes the next
// batch while the journal has not yet confirmed the acks of the previous
// one, and counts the previous batch's events once it does (waiting for
// each batch's confirmations in turn was a third of a runner's time under
// load).
func TestAckConfirmationDoesNotHoldTheNextBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &scriptedSink{}
		st := &Status{}
		_, it, stop := stepOnMem(t, RunnerConfig{Sink: s, Metrics: NewMetrics(prometheus.NewRegistry()), Status: st,
			MaxAge: 200 * time.Millisecond})
		synctest.Wait()
		release := make(chan struct{})
		it.pushWith(memEvent("a"), func(m *memMsg) jetstream.Msg { return &slowAckMsg{memMsg: m, release: release} })
		time.Sleep(time.Second) // batch 1 written; its ack waits
		it.push(memEvent("b"))
		time.Sleep(time.Second)
		s.mu.Lock()
		writes := len(s.times)
		s.mu.Unlock()
		if writes != 2 {
			t.Fatalf("batches written while the first batch's ack waits: got %d, want 2", writes)
		}
		if got := delivered(st); got != 0 {
			t.Errorf("delivered before the first ack is confirmed: got %d, want 0", got)
		}
		close(release)
		time.Sleep(time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := delivered(st); got != 2 {
			t.Errorf("delivered: got %d, want 2", got)
		}
	})
}

// delivered is the events st counts delivered.
func delivered(st *Status) uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.delivered
}
