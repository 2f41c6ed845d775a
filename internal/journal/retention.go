package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// The journal never lets JetStream delete events on its own to make room:
// the events stream and the dead-letter stream refuse new messages at
// their byte cap (DiscardNew), and the service's retention manager
// (stream.Retention) decides what may be purged, so that events a log
// stream has not delivered are either protected (ingest is refused) or
// dropped with a report per stream. These are the primitives it uses.

// ErrFull matches append failures because the journal reached its byte
// cap (journal.maxBytes; AppendError.CapReached). Those errors also match
// ErrUnavailable, so a caller that only knows "retry later" keeps working;
// they do not match ErrStorageFull, which is a full disk.
var ErrFull = errors.New("journal full")

// ErrDeadLettersFull wraps dead-letter writes refused because the
// dead-letter stream reached its cap (journal.deadLetters.maxBytes).
var ErrDeadLettersFull = errors.New("dead-letter store full")

// jsStoreFailed is JetStream's error code for a message the store refused
// (JSStreamStoreFailedF, 10077). With the limits the journal sets (no
// message count limit, payloads bounded by the ingest limits) it means the
// byte cap was reached.
const jsStoreFailed = 10077

// IsCapReached reports whether err is JetStream refusing a message because
// the stream is at its byte cap (DiscardNew).
func IsCapReached(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jsStoreFailed {
		return false
	}
	// The code is shared by every "store failed" cause; the description
	// is the server's ErrMaxBytes text.
	return strings.Contains(apiErr.Description, "maximum bytes")
}

// signalFull wakes whoever waits on Full.
func (j *Journal) signalFull() {
	select {
	case j.full <- struct{}{}:
	default:
	}
}

// Full delivers a value (coalesced) each time an append is refused because
// the journal reached its byte cap, so retention can free space at once.
func (j *Journal) Full() <-chan struct{} { return j.full }

// Usage is the size of a JetStream stream against its cap.
type Usage struct {
	// Msgs and Bytes are what the stream holds.
	Msgs, Bytes uint64
	// FirstSeq and LastSeq bound the sequences it holds (FirstSeq is
	// LastSeq+1 when it is empty).
	FirstSeq, LastSeq uint64
	// MaxBytes is the stream's cap (0 or less: none).
	MaxBytes int64
}

// Ratio is Bytes over MaxBytes (0 without a cap).
func (u Usage) Ratio() float64 {
	if u.MaxBytes <= 0 {
		return 0
	}
	return float64(u.Bytes) / float64(u.MaxBytes)
}

// Usage reports the events stream's size, sequences and cap. With several
// partitions it sums their sizes and caps, and FirstSeq and LastSeq are 0
// (sequences are per partition: Partition.Usage).
func (j *Journal) Usage(ctx context.Context) (Usage, error) {
	if len(j.parts) == 1 {
		return j.parts[0].Usage(ctx)
	}
	var sum Usage
	for _, p := range j.parts {
		u, err := p.Usage(ctx)
		if err != nil {
			return Usage{}, err
		}
		sum.Msgs += u.Msgs
		sum.Bytes += u.Bytes
		if u.MaxBytes <= 0 || sum.MaxBytes < 0 {
			sum.MaxBytes = -1
		} else {
			sum.MaxBytes += u.MaxBytes
		}
	}
	return sum, nil
}

// Usage reports the partition's stream's size, sequences and cap.
func (p *Partition) Usage(ctx context.Context) (Usage, error) {
	return streamUsage(ctx, p.stream)
}

// DeadLetterUsage reports the dead-letter stream's size and cap.
func (j *Journal) DeadLetterUsage(ctx context.Context) (Usage, error) {
	return streamUsage(ctx, j.dead)
}

func streamUsage(ctx context.Context, s jetstream.Stream) (Usage, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return Usage{}, fmt.Errorf("journal info: %w", err)
	}
	return Usage{Msgs: info.State.Msgs, Bytes: info.State.Bytes, FirstSeq: info.State.FirstSeq,
		LastSeq: info.State.LastSeq, MaxBytes: info.Config.MaxBytes}, nil
}

// Purge removes org's events (every org's when org is "") in messages
// below sequence keepFrom and returns how many events it removed.
// Consumers whose ack floor was below keepFrom skip what was removed, so
// whoever purges must have accounted for it first. keepFrom is a sequence
// of org's partition; every org's events are purged a partition at a time
// (Partition.Purge) when there are several.
func (j *Journal) Purge(ctx context.Context, org string, keepFrom uint64) (uint64, error) {
	return j.PurgeFor(ctx, org, keepFrom, "")
}

// PurgeFor is Purge for a stated reason, which the purge hook records
// (package integrity: "purge" for an operator's, "" for retention).
func (j *Journal) PurgeFor(ctx context.Context, org string, keepFrom uint64, reason string) (uint64, error) {
	if org == "" && len(j.parts) > 1 {
		return 0, errors.New("purge every org's events of a partitioned journal: purge each partition")
	}
	return j.PartitionFor(org).PurgeFor(ctx, org, keepFrom, reason)
}

// Purge is Journal.Purge in this partition.
func (p *Partition) Purge(ctx context.Context, org string, keepFrom uint64) (uint64, error) {
	return p.PurgeFor(ctx, org, keepFrom, "")
}

// PurgeFor is Journal.PurgeFor in this partition.
func (p *Partition) PurgeFor(ctx context.Context, org string, keepFrom uint64, reason string) (uint64, error) {
	events, perOrg, err := p.countEvents(ctx, org, keepFrom)
	if err != nil {
		return 0, err
	}
	hook := p.j.purgeHook.Load()
	var cuts []Cut
	if hook != nil {
		// The heads at the cut are read before it: an org's last batch
		// may be among what goes.
		for o, n := range perOrg {
			h, err := p.j.HeadAt(ctx, o, keepFrom)
			if err != nil {
				return 0, err
			}
			cuts = append(cuts, Cut{Org: o, Partition: p.index, KeepFrom: keepFrom, Events: n, HeadAtCut: h, Reason: reason})
		}
	}
	subjects := []string{""}
	if org != "" {
		subjects = p.Subjects(org)
	}
	for _, subject := range subjects {
		if err := p.purge(ctx, subject, keepFrom); err != nil {
			return 0, err
		}
	}
	if len(cuts) > 0 {
		(*hook)(ctx, cuts)
	}
	return events, nil
}

// Cut is what a Purge removed of one org: its events in messages below
// KeepFrom, and the org's chain head after the last of them (the head the
// org's next record batch stores).
type Cut struct {
	Org string
	// Partition is the org's journal partition; KeepFrom is a sequence
	// of it (PartitionSeq makes it a journal-wide one).
	Partition int
	KeepFrom  uint64
	Events    uint64
	HeadAtCut Head
	// Reason is PurgeFor's ("" from Purge: retention).
	Reason string
	// After is the position of the org's last event before a gap in the
	// middle of the journal (a loss), 0 for a cut at the start.
	After uint64
}

// PurgeHook is told of the orgs a Purge removed events of, one Cut each,
// after the purge (package integrity records them in signed truncation
// digests).
type PurgeHook func(ctx context.Context, cuts []Cut)

// SetPurgeHook sets the hook every Purge calls; nil removes it.
func (j *Journal) SetPurgeHook(h PurgeHook) {
	if h == nil {
		j.purgeHook.Store(nil)
		return
	}
	j.purgeHook.Store(&h)
}

// HeadAt is org's chain head before its first record batch at or after
// seq: the head that batch stores, or, when the org has none there, the
// head after its last batch.
func (j *Journal) HeadAt(ctx context.Context, org string, seq uint64) (Head, error) {
	p := j.PartitionFor(org)
	m, err := p.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(p.subject(org)))
	if err == nil {
		h, _ := ChainedBatch(m.Data)
		return h, nil
	}
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return Head{}, fmt.Errorf("chain head of org %s at %d: %w", org, seq, err)
	}
	m, err = p.stream.GetLastMsgForSubject(ctx, p.subject(org))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("chain head of org %s: %w", org, err)
	}
	var hs Hasher
	return batchHeadAfter(&hs, RawMessage(m))
}

// countEvents counts org's events in messages below keepFrom, in all and
// per org, from the messages' ids (a record batch's id ends with its
// event count) without reading their data.
func (p *Partition) countEvents(ctx context.Context, org string, keepFrom uint64) (uint64, map[string]uint64, error) {
	u, err := p.Usage(ctx)
	if err != nil || u.Msgs == 0 || keepFrom <= u.FirstSeq {
		return 0, nil, err
	}
	var events uint64
	perOrg := map[string]uint64{}
	err = p.readMessages(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: p.Subjects(org), HeadersOnly: true}, keepFrom-1,
		func(m jetstream.Msg, _ *jetstream.MsgMetadata) bool {
			n := uint64(eventsInMsgID(m.Headers().Get(jetstream.MsgIDHeader)))
			events += n
			if o := OrgOfSubject(m.Subject()); o != "" {
				perOrg[o] += n
			}
			return true
		})
	if err != nil {
		return 0, nil, fmt.Errorf("count events to purge: %w", err)
	}
	return events, perOrg, nil
}

// purge removes the messages below keepFrom on subject ("" for all).
func (p *Partition) purge(ctx context.Context, subject string, keepFrom uint64) error {
	req := struct {
		Subject  string `json:"filter,omitempty"`
		Sequence uint64 `json:"seq"`
	}{Subject: subject, Sequence: keepFrom}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	// The raw API call: jetstream.Stream.Purge hides the error's code.
	msg, err := p.j.nc.RequestWithContext(ctx, "$JS.API.STREAM.PURGE."+p.name, body)
	if err != nil {
		return fmt.Errorf("purge journal: %w", err)
	}
	var resp struct {
		Success bool                `json:"success"`
		Error   *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("purge journal: %w", err)
	}
	if resp.Error != nil {
		return fmt.Errorf("purge journal: %w", resp.Error)
	}
	return nil
}

// ConsumerFloor is where a durable consumer of the events stands.
type ConsumerFloor struct {
	// Acked is the stream sequence below which it acknowledged everything.
	// For a consumer with a subject filter it stays at its last matching
	// event while other subjects' events go on: it is not where the
	// consumer's undelivered events begin (see NextSeq).
	Acked uint64
	// Pending counts its events not yet delivered or not yet acknowledged.
	Pending uint64
	// Org is the org whose events it reads ("" for every org's).
	Org string
	// Partition is the journal partition the consumer reads.
	Partition int
}

// AckFloors returns where every durable consumer of the events streams
// stands, by consumer name, in one listing per partition. A log stream of
// every org on a partitioned journal has a consumer of the same name in
// each partition: the map holds the last partition's (ConsumerFloor.Partition);
// Partition.AckFloors lists one partition's.
func (j *Journal) AckFloors(ctx context.Context) (map[string]ConsumerFloor, error) {
	out := map[string]ConsumerFloor{}
	for _, p := range j.parts {
		if err := p.ackFloors(ctx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AckFloors is Journal.AckFloors for this partition's consumers.
func (p *Partition) AckFloors(ctx context.Context) (map[string]ConsumerFloor, error) {
	out := map[string]ConsumerFloor{}
	if err := p.ackFloors(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Partition) ackFloors(ctx context.Context, out map[string]ConsumerFloor) error {
	list := p.stream.ListConsumers(ctx)
	for info := range list.Info() {
		if info.Config.Durable == "" {
			continue
		}
		f := ConsumerFloor{Acked: info.AckFloor.Stream, Pending: info.NumPending + uint64(info.NumAckPending), Partition: p.index}
		if s := info.Config.FilterSubject; s != "" {
			f.Org = OrgOfSubject(s)
		} else if len(info.Config.FilterSubjects) > 0 {
			f.Org = OrgOfSubject(info.Config.FilterSubjects[0])
		}
		if f.Org == ">" {
			f.Org = ""
		}
		out[info.Name] = f
	}
	if err := list.Err(); err != nil {
		return fmt.Errorf("list consumers: %w", err)
	}
	return nil
}

// NextSeq returns the sequence of the first message at or after from that
// holds org's events (any org's when org is ""), and false when there is
// none. Sequences are those of org's partition (partition 0 for org "").
func (j *Journal) NextSeq(ctx context.Context, org string, from uint64) (uint64, bool, error) {
	return j.PartitionFor(org).NextSeq(ctx, org, from)
}

// NextSeq is Journal.NextSeq in this partition.
func (p *Partition) NextSeq(ctx context.Context, org string, from uint64) (uint64, bool, error) {
	var next uint64
	found := false
	for _, subject := range p.Subjects(org) {
		m, err := p.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("next message of %q from %d: %w", org, from, err)
		}
		if !found || m.Sequence < next {
			next, found = m.Sequence, true
		}
	}
	return next, found, nil
}

// AckFloor returns the stream sequence below which the durable consumer
// name has acknowledged everything, and whether the consumer exists (in
// any partition).
func (j *Journal) AckFloor(ctx context.Context, name string) (uint64, bool, error) {
	for _, p := range j.parts {
		c, err := j.js.Consumer(ctx, p.name, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("consumer %s: %w", name, err)
		}
		return c.CachedInfo().AckFloor.Stream, true, nil
	}
	return 0, false, nil
}
