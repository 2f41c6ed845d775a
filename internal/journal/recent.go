package journal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
)

// ScanFrom says where Scan starts: at a message sequence (FromSeq > 0),
// at an arrival time (Since not zero), or at the first event.
type ScanFrom struct {
	FromSeq uint64
	Since   time.Time
}

// Scan reads org's events (every org's when org is "") from the given
// start up to the journal's last message at the time of the call, a
// message at a time, in order, and calls fn with each message's records
// (valid only during the call), its sequence and arrival time. It stops
// early when fn returns false. Unreadable messages are skipped and
// logged. Sequences are those of org's partition's stream (FromSeq
// too); with several partitions, every org's events are read a partition
// at a time.
func (j *Journal) Scan(ctx context.Context, org string, from ScanFrom,
	fn func(recs []event.Record, seq uint64, arrived time.Time) bool) error {
	return j.eachPartition(org, func(p *Partition, org string) (bool, error) {
		stopped := false
		_, err := p.scan(ctx, org, from, func(recs []event.Record, seq uint64, arrived time.Time) bool {
			stopped = !fn(recs, seq, arrived)
			return !stopped
		})
		return stopped, err
	})
}

// eachPartition runs read for org's partition, or, for every org (org "")
// with several partitions, for each partition in turn (with org "") until
// one reports stopped or an error.
func (j *Journal) eachPartition(org string, read func(p *Partition, org string) (stopped bool, err error)) error {
	if org != "" || len(j.parts) == 1 {
		_, err := read(j.PartitionFor(org), org)
		return err
	}
	for _, p := range j.parts {
		stopped, err := read(p, "")
		if err != nil || stopped {
			return err
		}
	}
	return nil
}

// scan is Scan in one partition: scanMessages with each message decoded.
// It also returns the stream's last sequence it read up to.
func (p *Partition) scan(ctx context.Context, org string, from ScanFrom,
	fn func(recs []event.Record, seq uint64, arrived time.Time) bool) (uint64, error) {
	var recs []event.Record
	return p.scanMessages(ctx, org, from, func(m Message, arrived time.Time) bool {
		var err error
		recs, err = Decode(m, recs[:0])
		if err != nil {
			p.j.log.Warn("journal: skipping an unreadable message", "stream", p.name, "err", err)
			return true
		}
		return fn(recs, m.Seq, arrived)
	})
}

// ScanMessages reads org's journal messages (every org's when org is "")
// like Scan, handing fn each message itself, undecoded (Decode reads it;
// ChainedBatch its chain head): integrity checks must see unreadable
// messages too, and the bytes as stored.
func (j *Journal) ScanMessages(ctx context.Context, org string, from ScanFrom,
	fn func(m Message, arrived time.Time) bool) error {
	return j.eachPartition(org, func(p *Partition, org string) (bool, error) {
		stopped := false
		_, err := p.scanMessages(ctx, org, from, func(m Message, arrived time.Time) bool {
			stopped = !fn(m, arrived)
			return !stopped
		})
		return stopped, err
	})
}

// scanMessages is ScanMessages in one partition; it also returns the
// stream's last sequence it read up to.
func (p *Partition) scanMessages(ctx context.Context, org string, from ScanFrom,
	fn func(m Message, arrived time.Time) bool) (uint64, error) {
	info, err := p.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("journal info: %w", err)
	}
	last := info.State.LastSeq
	if last == 0 || from.FromSeq > last {
		return last, nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: p.Subjects(org)}
	switch {
	case from.FromSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.FromSeq
	case !from.Since.IsZero():
		since := from.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	return last, p.readMessages(ctx, cfg, last, func(m jetstream.Msg, md *jetstream.MsgMetadata) bool {
		return fn(Message{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Seq: md.Sequence.Stream}, md.Timestamp)
	})
}

// readMessages reads the messages an ordered consumer with cfg delivers,
// in order, up to sequence last, and calls fn with each until it returns
// false.
func (p *Partition) readMessages(ctx context.Context, cfg jetstream.OrderedConsumerConfig, last uint64,
	fn func(m jetstream.Msg, md *jetstream.MsgMetadata) bool) error {
	c, err := p.j.js.OrderedConsumer(ctx, p.name, cfg)
	if err != nil {
		return fmt.Errorf("read the journal: %w", err)
	}
	// Later messages have higher sequences: last ends the read.
	return ReadConsumer(ctx, c, 500, func(m jetstream.Msg, md *jetstream.MsgMetadata) bool {
		return md.Sequence.Stream <= last && fn(m, md) && md.Sequence.Stream != last
	})
}

// ReadConsumer reads, in order, the messages c (an ordered consumer just
// created) had pending when it was created, batch at a time, and calls fn
// with each until it returns false. A fetch that brings nothing ends the
// read only when c has nothing left pending (messages removed since): a
// busy server (a block loaded from disk, a loaded machine) answers an
// empty fetch too, and ending there read part of the range as if it were
// all of it (a backtest ended early as succeeded). It fails after
// scanStall without a message.
func ReadConsumer(ctx context.Context, c jetstream.Consumer, batch int,
	fn func(m jetstream.Msg, md *jetstream.MsgMetadata) bool) error {
	pending := c.CachedInfo().NumPending
	read := uint64(0)
	heard := time.Now()
	for read < pending {
		msgs, err := c.Fetch(int(min(uint64(batch), pending-read)), jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return fmt.Errorf("read the journal: %w", err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			read++
			md, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read the journal: %w", err)
			}
			if !fn(m, md) {
				return nil
			}
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("read the journal: %w", err)
		}
		if n > 0 {
			heard = time.Now()
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// An error asking is the cluster's passing state (a leader
		// moving) as much as the empty fetch was: try again.
		ci, err := c.Info(ctx)
		if err == nil && ci.NumPending == 0 {
			return nil
		}
		if time.Since(heard) > scanStall {
			if err != nil {
				return fmt.Errorf("read the journal: no message for %s: %w", scanStall, err)
			}
			return fmt.Errorf("read the journal: no message for %s with %d still pending", scanStall, ci.NumPending)
		}
	}
	return nil
}

// scanStall is how long ReadConsumer waits for the next message the
// consumer says is pending before it fails.
const scanStall = 30 * time.Second

// RecentUUIDs returns the uuids of org's events that arrived since the
// given time with the given envelope source, oldest first, at most max of
// the newest. Sources use it after a restart to drop events they read
// again, also when the restart came later than the de-duplication window.
func (j *Journal) RecentUUIDs(ctx context.Context, org, source string, since time.Time, max int) ([]string, error) {
	var out []string
	err := j.Scan(ctx, org, ScanFrom{Since: since}, func(recs []event.Record, _ uint64, _ time.Time) bool {
		for i := range recs {
			if recs[i].Source == source {
				out = append(out, recs[i].UUID)
			}
		}
		if len(out) > 2*max {
			out = append(out[:0], out[len(out)-max:]...)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("read recent events: %w", err)
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out, nil
}

// Scan is Journal.Scan in this partition only: every org's events when
// org is "", from a sequence of this partition's stream. A reader that
// keeps a position per partition (a checkpoint) reads each from its own.
func (p *Partition) Scan(ctx context.Context, org string, from ScanFrom,
	fn func(recs []event.Record, seq uint64, arrived time.Time) bool) error {
	_, err := p.scan(ctx, org, from, fn)
	return err
}

// ScanMessages is Journal.ScanMessages in this partition only (see Scan).
func (p *Partition) ScanMessages(ctx context.Context, org string, from ScanFrom,
	fn func(m Message, arrived time.Time) bool) error {
	_, err := p.scanMessages(ctx, org, from, fn)
	return err
}
