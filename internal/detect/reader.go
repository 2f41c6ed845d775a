package detect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// This file is all the runtime knows of how the journal is read. On a
// journal of several partitions (journal.partitions) it reads every
// partition through a durable consumer of its own (all named
// ConsumerName, one per partition stream), each from its own checkpointed
// sequence, and hands their messages on merged as they come: an org lives
// in one partition, so each org's events keep their order, which is what
// correlation needs (it is per org; event-time windows absorb the
// interleaving of different orgs).

// ConsumerName is the durable consumer of the journal every rule is
// evaluated through (one for all rules, not one per rule), in each journal
// partition.
const ConsumerName = "auditstream_detect"

// readerAckWait is the consumer's AckWait: longer than the checkpoint
// interval, which is when the runtime acknowledges (everything up to the
// checkpoint's message, AckAll).
const readerAckWait = 5 * time.Minute

// batch is one journal message's events.
type batch struct {
	// part is the journal partition, seq the message's sequence in it.
	part int
	seq  uint64
	recs []event.Record
	msg  jetstream.Msg
	// pending is how many messages the partition's consumer has after
	// this one.
	pending uint64
}

// reader delivers the journal's messages after a sequence of each
// partition, in order within each partition, through the durable
// consumers.
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

// openReader (re)creates the durable consumer of each partition at the
// message after its sequence in afterSeqs (one per partition) and starts
// reading. The consumers are recreated rather than reused because the
// position that counts is the checkpoint's (the engine state covers exactly
// the messages up to it), not a consumer's ack floor.
func openReader(ctx context.Context, j *journal.Journal, afterSeqs []uint64) (*reader, error) {
	parts := j.Partitions()
	if len(afterSeqs) != len(parts) {
		return nil, fmt.Errorf("%d checkpoint positions for %d journal partitions", len(afterSeqs), len(parts))
	}
	r := &reader{msgs: make(chan batch, 64), errc: make(chan error, len(parts))}
	var tails []*journal.Tail
	for i, p := range parts {
		tail, pending, err := openPartition(ctx, j, p, afterSeqs[i])
		if err != nil {
			r.stop()
			return nil, err
		}
		tails = append(tails, tail)
		r.pending = append(r.pending, pending)
	}
	var wg sync.WaitGroup
	for i, tail := range tails {
		pctx, stop := context.WithCancel(ctx)
		r.stops = append(r.stops, stop)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.forward(pctx, i, tail, afterSeqs[i])
		}()
	}
	go func() {
		wg.Wait()
		close(r.msgs)
	}()
	return r, nil
}

// openPartition (re)creates the durable consumer of partition p after
// sequence afterSeq; it returns a journal.Tail over it (which stays
// behind a moving head: the store's memory) and how many messages it has
// to deliver.
func openPartition(ctx context.Context, j *journal.Journal, p *journal.Partition, afterSeq uint64) (*journal.Tail, uint64, error) {
	js := j.JetStream()
	if err := js.DeleteConsumer(ctx, p.Stream(), ConsumerName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, 0, fmt.Errorf("delete consumer %s of %s: %w", ConsumerName, p.Stream(), err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       readerAckWait,
		MaxAckPending: 1 << 20,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Every org's events of the partition (journal.AllSubjects with
		// one partition).
		FilterSubject: p.Subjects("")[0],
		// Its state is kept in memory, not in a file: the consumer is
		// recreated at every start from the checkpoint, so its state is
		// never read back, and a file-backed consumer rewrites its state
		// file up to ten times a second while messages are delivered.
		MemoryStorage: true,
	}
	if afterSeq > 0 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, afterSeq+1
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, p.Stream(), cc)
	if err != nil {
		return nil, 0, fmt.Errorf("create consumer %s of %s: %w", ConsumerName, p.Stream(), err)
	}
	return journal.NewTail(cons, journal.TailConfig{}), cons.CachedInfo().NumPending, nil
}

// forward hands partition part's messages after afterSeq to r.msgs until
// ctx ends (stop) or reading fails.
func (r *reader) forward(ctx context.Context, part int, tail *journal.Tail, afterSeq uint64) {
	last := afterSeq
	hand := func(m jetstream.Msg, md *jetstream.MsgMetadata) error {
		seq := md.Sequence.Stream
		if seq <= last {
			return nil // a redelivery of what was already handed on
		}
		last = seq
		recs, err := journal.Decode(journal.Message{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Seq: seq}, nil)
		if err != nil {
			// An unreadable message is skipped (the journal logs its own).
			recs = nil
		}
		select {
		case r.msgs <- batch{part: part, seq: seq, recs: recs, msg: m, pending: md.NumPending}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		if err := tail.Read(ctx, hand); err != nil {
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

// ack acknowledges every message of b's partition up to b's (AckAll).
func (b batch) ack() error {
	if b.msg == nil {
		return nil
	}
	return b.msg.Ack()
}
