package detect

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// This file is all the runtime knows of how the journal is read. It reads
// every partition of the journal (journal.partitions) through the
// followers' shared reader (journal.Fanout, also read by the query index
// and the activity fold) or, when it is behind it (a start from an older
// checkpoint, a lease taken over), a Tail of its own, each partition from
// its own checkpointed sequence, and hands their messages on merged as
// they come: an org lives in one partition, so each org's events keep
// their order, which is what correlation needs (it is per org; event-time
// windows absorb the interleaving of different orgs).

// ConsumerName is the durable consumer earlier releases evaluated the
// journal through (one per partition stream); a start removes it.
const ConsumerName = "auditstream_detect"

// batch is one journal message's events.
type batch struct {
	// part is the journal partition, seq the message's sequence in it.
	part int
	seq  uint64
	recs []event.Record
	// pending is how many messages the partition's consumer has after
	// this one.
	pending uint64
}

// reader delivers the journal's messages after a sequence of each
// partition, in order within each partition.
type reader struct {
	msgs  chan batch
	errc  chan error
	stops []func()
	// pending is how many messages each partition's consumer had to
	// deliver when created.
	pending []uint64
}

// stop stops every partition's reading.
func (r *reader) stop() {
	for _, stop := range r.stops {
		stop()
	}
}

// openReader starts reading each partition at the message after its
// sequence in afterSeqs (one per partition), through fo (nil: readers of
// its own).
func openReader(ctx context.Context, j *journal.Journal, fo *journal.Fanout, afterSeqs []uint64) (*reader, error) {
	parts := j.Partitions()
	if len(afterSeqs) != len(parts) {
		return nil, fmt.Errorf("%d checkpoint positions for %d journal partitions", len(afterSeqs), len(parts))
	}
	if fo == nil {
		fo = journal.NewFanout(j, journal.FanoutConfig{}) // never run: readers of its own
	}
	r := &reader{msgs: make(chan batch, 64), errc: make(chan error, len(parts))}
	var subs []*journal.Sub
	for i, p := range parts {
		sub, err := openPartition(ctx, j, fo, p, afterSeqs[i])
		if err != nil {
			for _, sub := range subs {
				sub.Close(ctx)
			}
			return nil, err
		}
		subs = append(subs, sub)
		r.pending = append(r.pending, sub.Pending())
	}
	var wg sync.WaitGroup
	for i, sub := range subs {
		pctx, stop := context.WithCancel(ctx)
		r.stops = append(r.stops, stop)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer sub.Close(pctx)
			r.forward(pctx, i, sub, afterSeqs[i])
		}()
	}
	go func() {
		wg.Wait()
		close(r.msgs)
	}()
	return r, nil
}

// openPartition subscribes to partition p after sequence afterSeq. It
// first removes the durable consumer of earlier releases, if any.
func openPartition(ctx context.Context, j *journal.Journal, fo *journal.Fanout, p *journal.Partition, afterSeq uint64) (*journal.Sub, error) {
	js := j.JetStream()
	if err := js.DeleteConsumer(ctx, p.Stream(), ConsumerName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("delete consumer %s of %s: %w", ConsumerName, p.Stream(), err)
	}
	sub, err := fo.Subscribe(ctx, p.Index(), afterSeq, journal.SubConfig{})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p.Stream(), err)
	}
	return sub, nil
}

// forward hands partition part's messages after afterSeq to r.msgs until
// ctx ends (stop) or reading fails.
func (r *reader) forward(ctx context.Context, part int, sub *journal.Sub, afterSeq uint64) {
	last := afterSeq
	hand := func(m journal.Message, pending uint64) error {
		if m.Seq <= last {
			return nil // a redelivery of what was already handed on
		}
		last = m.Seq
		recs, err := journal.Decode(m, nil)
		if err != nil {
			// An unreadable message is skipped (the journal logs its own).
			recs = nil
		}
		select {
		case r.msgs <- batch{part: part, seq: m.Seq, recs: recs, pending: pending}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		if err := sub.Read(ctx, hand); err != nil {
			if ctx.Err() == nil {
				select {
				case r.errc <- err:
				default:
				}
			}
			return
		}
	}
}
