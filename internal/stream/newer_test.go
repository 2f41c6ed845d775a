package stream

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// newerMsg is a journal message a newer release wrote (a record batch
// with a flag this release does not know), counting what the runner does
// with it.
type newerMsg struct {
	*memMsg
	acks, naks, kept atomic.Int32
}

func (m *newerMsg) Data() []byte                    { return []byte{'A', 'R', 2, 0x04, 4, 'a', 'c', 'm', 'e', 1} }
func (m *newerMsg) Ack() error                      { m.acks.Add(1); return nil }
func (m *newerMsg) DoubleAck(context.Context) error { m.acks.Add(1); return nil }
func (m *newerMsg) Nak() error                      { m.naks.Add(1); return nil }
func (m *newerMsg) InProgress() error               { m.kept.Add(1); return nil }

// TestNewerMessageWaitsForUpgrade: a journal message of a newer release
// (another node of a cluster being upgraded) is not skipped, which would
// lose its events for the stream. The runner delivers what came before
// it, keeps it in progress, delivers nothing after it, says why in the
// status, and hands it back at stop for an upgraded runner.
func TestNewerMessageWaitsForUpgrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &batchSink{max: 10}
		st := &Status{}
		_, it, stop := stepOnMem(t, RunnerConfig{Sink: s, Metrics: NewMetrics(prometheus.NewRegistry()), Status: st,
			MaxAge: time.Hour, AckWait: 30 * time.Second})
		synctest.Wait()
		it.push(memEvent("before"))
		var newer *newerMsg
		it.pushWith(memEvent("newer"), func(m *memMsg) jetstream.Msg {
			newer = &newerMsg{memMsg: m}
			return newer
		})
		it.push(memEvent("after"))
		time.Sleep(2 * time.Minute)

		s.mu.Lock()
		sizes := append([]int(nil), s.sizes...)
		s.mu.Unlock()
		if len(sizes) != 1 || sizes[0] != 1 {
			t.Errorf("writes: got batches of %v events, want one of 1 (the event before the newer message)", sizes)
		}
		snap := st.Snapshot()
		if snap.State != StateError || !strings.Contains(snap.LastError, "newer release") || !strings.Contains(snap.LastError, "upgrade") {
			t.Errorf("status: got %s %q, want error naming the newer release and the upgrade", snap.State, snap.LastError)
		}
		if newer.acks.Load() != 0 || newer.kept.Load() < 3 {
			t.Errorf("newer message: %d acks, kept in progress %d times; want none, and kept every AckWait/3", newer.acks.Load(), newer.kept.Load())
		}
		if err := stop(); err != nil && err != context.Canceled {
			t.Fatal(err)
		}
		if newer.naks.Load() != 1 || newer.acks.Load() != 0 {
			t.Errorf("at stop: newer message naked %d times, acked %d; want handed back once, never acked", newer.naks.Load(), newer.acks.Load())
		}
	})
}
