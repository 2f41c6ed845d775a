package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
)

// A log stream of one org reads its org's journal partition only. A log
// stream of every org (org "*") on a journal of several partitions
// (journal.partitions) has one durable consumer per partition, all with
// the stream's consumer name, read together: a feedSet (feed.go) reads
// them all, and partConsumer gives the runner one consumer to ask. Each org's events keep their order (one
// org is in one partition); events of orgs in different partitions
// interleave as they arrive. Acknowledgements go to each message's own
// consumer.

// msgKey identifies a journal message across partitions (its partition
// and sequence, as journal.MsgOf gives it for an event's position).
func msgKey(m jetstream.Msg, md *jetstream.MsgMetadata) uint64 {
	return journal.PartitionSeq(journal.PartitionOfSubject(m.Subject()), md.Sequence.Stream)
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
// Info sums their counts; every other method is partition 0's.
type partConsumer struct {
	jetstream.Consumer
	cons []jetstream.Consumer
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
