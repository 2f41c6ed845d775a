package detect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// This file is all the runtime knows of how the journal is read, so that it
// can become a reader per partition when the journal is partitioned.

// ConsumerName is the durable consumer of the journal every rule is
// evaluated through (one for all rules, not one per rule).
const ConsumerName = "auditstream_detect"

// readerAckWait is the consumer's AckWait: longer than the checkpoint
// interval, which is when the runtime acknowledges (everything up to the
// checkpoint's message, AckAll).
const readerAckWait = 5 * time.Minute

// batch is one journal message's events.
type batch struct {
	seq  uint64
	recs []event.Record
	msg  jetstream.Msg
	// pending is how many messages the consumer has after this one.
	pending uint64
}

// reader delivers the journal's messages after a sequence, in order,
// through the durable consumer.
type reader struct {
	msgs chan batch
	errc chan error
	stop func()
	// pending is how many messages the consumer had to deliver when created.
	pending uint64
}

// openReader (re)creates the durable consumer at the message after
// afterSeq and starts reading. The consumer is recreated rather than reused
// because the position that counts is the checkpoint's (the engine state
// covers exactly the messages up to it), not the consumer's ack floor.
func openReader(ctx context.Context, j *journal.Journal, afterSeq uint64) (*reader, error) {
	js := j.JetStream()
	if err := js.DeleteConsumer(ctx, j.StreamName(), ConsumerName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("delete consumer %s: %w", ConsumerName, err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       ConsumerName,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       readerAckWait,
		MaxAckPending: 1 << 20,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: journal.AllSubjects,
	}
	if afterSeq > 0 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, afterSeq+1
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, j.StreamName(), cc)
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", ConsumerName, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(1000, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", ConsumerName, err)
	}
	r := &reader{msgs: make(chan batch, 64), errc: make(chan error, 1), stop: it.Stop, pending: cons.CachedInfo().NumPending}
	go func() {
		defer close(r.msgs)
		var last uint64 = afterSeq
		for {
			m, err := it.Next()
			if err != nil {
				if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					r.errc <- err
				}
				return
			}
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			seq := md.Sequence.Stream
			if seq <= last {
				continue // a redelivery of what was already handed on
			}
			last = seq
			recs, err := journal.Decode(journal.Message{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Seq: seq}, nil)
			if err != nil {
				// An unreadable message is skipped (the journal logs its own).
				recs = nil
			}
			select {
			case r.msgs <- batch{seq: seq, recs: recs, msg: m, pending: md.NumPending}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return r, nil
}

// ack acknowledges every message up to b's (AckAll).
func (b batch) ack() error {
	if b.msg == nil {
		return nil
	}
	return b.msg.Ack()
}
