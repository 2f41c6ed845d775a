package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
)

// EnsureConsumer creates the durable consumer of def's epoch if it does not
// exist yet. Creating it when the stream is created pins where delivery
// starts.
func EnsureConsumer(ctx context.Context, j *journal.Journal, def Definition) (jetstream.Consumer, error) {
	return ensureConsumer(ctx, j, def, DefaultAckWait)
}

func ensureConsumer(ctx context.Context, j *journal.Journal, def Definition, ackWait time.Duration) (jetstream.Consumer, error) {
	if def.JournalOrg() == "" && len(j.Partitions()) > 1 {
		return ensureAllPartitions(ctx, j, def, ackWait) // partitions.go
	}
	return ensureOne(ctx, j, j.PartitionFor(def.JournalOrg()), def, ackWait)
}

// ensureOne is ensureConsumer in one journal partition.
func ensureOne(ctx context.Context, j *journal.Journal, p *journal.Partition, def Definition, ackWait time.Duration) (jetstream.Consumer, error) {
	js := j.JetStream()
	subjects := p.Subjects(def.JournalOrg())
	stream := p.Stream()
	c, err := js.Consumer(ctx, stream, def.ConsumerName())
	if err == nil {
		// A consumer made by an older release filters on the version 1
		// subjects only (audit.<org>.>): widen it to both formats. An
		// update keeps the consumer's position.
		if cc := c.CachedInfo().Config; cc.AckWait != ackWait || !slices.Equal(filterSubjects(cc), subjects) {
			cc.AckWait = ackWait
			setFilter(&cc, subjects)
			c, err := js.UpdateConsumer(ctx, stream, cc)
			if err != nil {
				return nil, fmt.Errorf("update consumer %s: %w", def.ConsumerName(), err)
			}
			return c, nil
		}
		return c, nil
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("consumer %s: %w", def.ConsumerName(), err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       def.ConsumerName(),
		Description:   "log stream " + def.ID,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 200000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	setFilter(&cc, subjects)
	switch {
	case def.StartSeq > 0:
		cc.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cc.OptStartSeq = def.StartSeq
	case !def.StartTime.IsZero():
		cc.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := def.StartTime
		cc.OptStartTime = &t
	}
	c, err = js.CreateConsumer(ctx, stream, cc)
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return js.Consumer(ctx, stream, def.ConsumerName())
	}
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", def.ConsumerName(), err)
	}
	return c, nil
}

// filterSubjects returns a consumer's subject filters.
func filterSubjects(cc jetstream.ConsumerConfig) []string {
	if cc.FilterSubject != "" {
		return []string{cc.FilterSubject}
	}
	return cc.FilterSubjects
}

// setFilter sets a consumer's subject filters (one goes in FilterSubject,
// which every server version reads).
func setFilter(cc *jetstream.ConsumerConfig, subjects []string) {
	cc.FilterSubject, cc.FilterSubjects = "", nil
	if len(subjects) == 1 {
		cc.FilterSubject = subjects[0]
	} else {
		cc.FilterSubjects = subjects
	}
}
