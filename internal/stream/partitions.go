package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
)

// A log stream of one org reads its org's journal partition only. A log
// stream of every org (org "*") on a journal of several partitions
// (journal.partitions) has one durable consumer per partition, all with
// the stream's consumer name, read together: partConsumer merges them, so
// the runner sees one consumer. Each org's events keep their order (one
// org is in one partition); events of orgs in different partitions
// interleave as they arrive. Acknowledgements go to each message's own
// consumer.

// msgKey identifies a journal message across partitions (its partition
// and sequence, as journal.MsgOf gives it for an event's position).
func msgKey(m jetstream.Msg, md *jetstream.MsgMetadata) uint64 {
	return journal.PartitionSeq(journal.PartitionOfSubject(m.Subject()), md.Sequence.Stream)
}

// nextMsg waits for the iterator's next message until ctx ends.
func nextMsg(it jetstream.MessagesContext, ctx context.Context) (jetstream.Msg, error) {
	if mi, ok := it.(*mergedIter); ok {
		return mi.next(ctx)
	}
	return it.Next(jetstream.NextContext(ctx))
}

// ensureAllPartitions ensures the consumer of def, a stream of every org,
// in every partition. A position (StartSeq) belongs to one partition, so
// a new such stream starts at a time (Service.Create sets StartTime).
func ensureAllPartitions(ctx context.Context, j *journal.Journal, def Definition, ackWait time.Duration) (jetstream.Consumer, error) {
	if def.StartSeq > 0 && def.StartTime.IsZero() {
		return nil, fmt.Errorf("log stream %s: a start sequence cannot place a stream of every org on %d journal partitions; give a start time",
			def.ID, len(j.Partitions()))
	}
	d := def
	d.StartSeq = 0
	pc := &partConsumer{}
	for _, p := range j.Partitions() {
		c, err := ensureOne(ctx, j, p, d, ackWait)
		if err != nil {
			return nil, err
		}
		pc.cons = append(pc.cons, c)
	}
	pc.Consumer = pc.cons[0]
	return pc, nil
}

// partConsumer is the consumers of one log stream in every partition. Its
// Messages merges theirs and Info sums their counts; every other method
// is partition 0's.
type partConsumer struct {
	jetstream.Consumer
	cons []jetstream.Consumer
}

// Messages starts an iterator on every partition's consumer.
func (pc *partConsumer) Messages(opts ...jetstream.PullMessagesOpt) (jetstream.MessagesContext, error) {
	mi := &mergedIter{ch: make(chan iterItem), stop: make(chan struct{})}
	for _, c := range pc.cons {
		it, err := c.Messages(opts...)
		if err != nil {
			mi.Stop()
			return nil, err
		}
		mi.its = append(mi.its, it)
	}
	for _, it := range mi.its {
		mi.wg.Add(1)
		go mi.forward(it)
	}
	go func() {
		mi.wg.Wait()
		close(mi.ch)
	}()
	return mi, nil
}

// Info sums the partitions' pending, ack pending and waiting counts into
// partition 0's info.
func (pc *partConsumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	var sum *jetstream.ConsumerInfo
	for _, c := range pc.cons {
		info, err := c.Info(ctx)
		if err != nil {
			return nil, err
		}
		if sum == nil {
			cp := *info
			sum = &cp
			continue
		}
		sum.NumPending += info.NumPending
		sum.NumAckPending += info.NumAckPending
		sum.NumWaiting += info.NumWaiting
		sum.NumRedelivered += info.NumRedelivered
	}
	return sum, nil
}

type iterItem struct {
	m   jetstream.Msg
	err error
}

// mergedIter hands out the messages of several iterators as they come.
type mergedIter struct {
	its      []jetstream.MessagesContext
	ch       chan iterItem
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// forward moves it's messages (and its heartbeat errors) to the merged
// channel until it is closed.
func (mi *mergedIter) forward(it jetstream.MessagesContext) {
	defer mi.wg.Done()
	for {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		select {
		case mi.ch <- iterItem{m: m, err: err}:
		case <-mi.stop:
			if m != nil {
				_ = m.Nak()
			}
			return
		}
	}
}

func (mi *mergedIter) next(ctx context.Context) (jetstream.Msg, error) {
	select {
	case it, ok := <-mi.ch:
		if !ok {
			return nil, jetstream.ErrMsgIteratorClosed
		}
		return it.m, it.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Next waits for the next message of any partition (opts are ignored:
// use nextMsg for a deadline).
func (mi *mergedIter) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	return mi.next(context.Background())
}

// Stop stops every iterator; what they hold is dropped (and comes back
// after AckWait, as with one iterator).
func (mi *mergedIter) Stop() {
	mi.stopOnce.Do(func() { close(mi.stop) })
	for _, it := range mi.its {
		it.Stop()
	}
}

// Drain drains every iterator: Next returns what they hold, then
// ErrMsgIteratorClosed.
func (mi *mergedIter) Drain() {
	for _, it := range mi.its {
		it.Drain()
	}
}

// consumerInfos returns d's consumer in each partition it reads.
func consumerInfos(ctx context.Context, j *journal.Journal, d Definition) ([]*journal.Partition, []*jetstream.ConsumerInfo, error) {
	parts := []*journal.Partition{j.PartitionFor(d.JournalOrg())}
	if d.JournalOrg() == "" {
		parts = j.Partitions()
	}
	var infos []*jetstream.ConsumerInfo
	for _, p := range parts {
		c, err := j.JetStream().Consumer(ctx, p.Stream(), d.ConsumerName())
		if err != nil {
			return nil, nil, err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, nil, err
		}
		infos = append(infos, info)
	}
	return parts, infos, nil
}
