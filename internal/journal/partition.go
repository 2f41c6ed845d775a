package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
)

// Journal partitions (journal.partitions, issue 13). One JetStream stream
// has one Raft leader, so on a cluster every write goes through one
// server. With Options.Partitions N > 1 the journal is N streams, each
// with its own leader, and each org belongs to exactly one of them by a
// stable hash of its name (PartitionOfOrg): an org's events keep their
// order, their uuid de-duplication (the org's partition's writer window),
// replay, retention and queries, all within one stream. Each partition has
// its own writer goroutine, uuid window and Nats-Expected-Last-Msg-Id
// fence, so appends to different partitions proceed in parallel on
// different leaders.
//
// With one partition (the default) nothing differs from a journal before
// partitions: stream Options.Stream (AUDIT), subjects audit.<org>,
// positions, consumers. With N the streams are <Stream>_P0 … _P<N-1> with
// subjects audit_p<k>.<org>, and an event's position carries its
// partition in its top 8 bits (PartitionSeq, PartitionOf).
//
// The count is fixed when the journal is created: it is recorded in the
// status bucket (partitionsKey), and a start with another count is refused
// (re-partitioning would move orgs between streams, breaking their order
// and positions; it is not supported).

// partitionsKey is the status bucket key that records the partition count
// of a partitioned journal (one with a single partition records nothing,
// so an existing data directory stays as it was).
const partitionsKey = "journal.partitions"

// ErrPartitions marks an Open refused because the journal was created with
// another partition count.
var ErrPartitions = errors.New("journal.partitions differs from the journal's")

// Partition is one of the journal's streams.
type Partition struct {
	j     *Journal
	index int
	name  string
	// stream is the partition's JetStream stream.
	stream jetstream.Stream
	// writer appends to this partition (see writer.go); writerDone is
	// closed when it ended.
	writer     *writer
	stopWriter context.CancelFunc
	writerDone chan struct{}
	// state is the record of what the partition held (see state.go).
	state stateKeeper
	// watchers receive what the writer stored (see stored.go).
	watchers storedWatchers
}

// Index is the partition's number (0 … Partitions-1).
func (p *Partition) Index() int { return p.index }

// Stream is the name of the partition's JetStream stream.
func (p *Partition) Stream() string { return p.name }

// Subjects is the subject filter of org's events in this partition (every
// org's when org is "").
func (p *Partition) Subjects(org string) []string {
	return PartitionSubjects(p.index, len(p.j.parts), org)
}

// subject is the subject org's record batches are written to.
func (p *Partition) subject(org string) string {
	return PartitionSubject(p.index, len(p.j.parts), org)
}

// Seq is the message sequence seq of this partition as Position takes it.
func (p *Partition) Seq(seq uint64) uint64 { return PartitionSeq(p.index, seq) }

// Info reports the partition's stream: its leader and replicas on a
// cluster, its state.
func (p *Partition) Info(ctx context.Context) (*jetstream.StreamInfo, error) {
	return p.stream.Info(ctx)
}

// PartitionOfOrg is the partition of org's events in a journal of n
// partitions: FNV-1a of the org name modulo n. It never changes for a
// given n (the count is fixed at creation).
func PartitionOfOrg(org string, n int) int {
	if n <= 1 {
		return 0
	}
	h := uint64(14695981039346656037)
	for i := 0; i < len(org); i++ {
		h ^= uint64(org[i])
		h *= 1099511628211
	}
	return int(h % uint64(n))
}

// Partitions returns the journal's partitions, in order.
func (j *Journal) Partitions() []*Partition { return j.parts }

// PartitionFor returns org's partition.
func (j *Journal) PartitionFor(org string) *Partition {
	return j.parts[PartitionOfOrg(org, len(j.parts))]
}

// Partition returns the partition of the event at position pos (nil if the
// journal has no such partition).
func (j *Journal) Partition(pos uint64) *Partition {
	if i := PartitionOf(pos); i < len(j.parts) {
		return j.parts[i]
	}
	return nil
}

// StreamOf is the name of the stream that holds org's events. Every org's
// events ("") are in one stream only with a single partition; otherwise
// StreamOf("") is "" (read each partition: Partitions).
func (j *Journal) StreamOf(org string) string {
	if org == "" && len(j.parts) > 1 {
		return ""
	}
	return j.PartitionFor(org).name
}

// SubjectsOf is the subject filter of org's events in its partition (every
// org's when org is "", with a single partition).
func (j *Journal) SubjectsOf(org string) []string { return j.PartitionFor(org).Subjects(org) }

// partitionName is the stream of partition i of n.
func partitionName(stream string, i, n int) string {
	if n <= 1 {
		return stream
	}
	return stream + "_P" + strconv.Itoa(i)
}

// checkPartitions compares the configured count with the one the journal
// was created with, records it for a new partitioned journal, and refuses
// a mismatch. A journal without a record has one partition if its
// unpartitioned stream exists.
func (j *Journal) checkPartitions(ctx context.Context) error {
	n := j.opts.Partitions
	var kv jetstream.KeyValue
	var err error
	if n == 1 {
		// Look, but create nothing: a journal of one partition stays as
		// it was before partitions.
		kv, err = j.js.KeyValue(ctx, BucketStatus)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return j.refuseIfPartitioned(ctx)
		}
	} else {
		kv, err = j.KV(ctx, BucketStatus)
	}
	if err != nil {
		return fmt.Errorf("journal: status bucket: %w", err)
	}
	recorded := 0
	e, err := kv.Get(ctx, partitionsKey)
	switch {
	case err == nil:
		recorded, err = strconv.Atoi(string(e.Value()))
		if err != nil {
			return fmt.Errorf("journal: unreadable %s record %q in bucket %s", partitionsKey, e.Value(), BucketStatus)
		}
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if _, err := j.js.Stream(ctx, j.opts.Stream); err == nil {
			recorded = 1
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("journal: look for stream %s: %w", j.opts.Stream, err)
		}
	default:
		return fmt.Errorf("journal: read %s: %w", partitionsKey, err)
	}
	if recorded == 0 && n > 1 {
		if _, err := kv.Create(ctx, partitionsKey, []byte(strconv.Itoa(n))); err != nil {
			if !errors.Is(err, jetstream.ErrKeyExists) {
				return fmt.Errorf("journal: record %s: %w", partitionsKey, err)
			}
			// Another node created the journal at the same time.
			return j.checkPartitions(ctx)
		}
		return nil
	}
	if recorded == 0 && n == 1 {
		return j.refuseIfPartitioned(ctx)
	}
	if recorded != 0 && recorded != n {
		return fmt.Errorf("%w: the journal (stream %s) was created with journal.partitions %d and this node is configured with %d; "+
			"re-partitioning an existing journal is not supported: set journal.partitions back to %d, or start a new journal (new data directory or NATS account) and import the archive",
			ErrPartitions, partitionName(j.opts.Stream, 0, recorded), recorded, n, recorded)
	}
	return nil
}

// refuseIfPartitioned refuses a start with one partition on a journal whose
// partition 0 stream exists (its record was lost).
func (j *Journal) refuseIfPartitioned(ctx context.Context) error {
	name := partitionName(j.opts.Stream, 0, 2)
	_, err := j.js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: look for stream %s: %w", name, err)
	}
	return fmt.Errorf("%w: the journal has a partitioned stream %s but journal.partitions is 1; set journal.partitions to the journal's count (re-partitioning is not supported)",
		ErrPartitions, name)
}

// partAppend is the part of an Append that goes to one partition.
type partAppend struct {
	p   *Partition
	idx []int // into the caller's events
	evs []event.Record
	res Result
	err error
}

// appendSplit stores events of orgs in several partitions: each
// partition's writer takes its orgs' events at the same time; the results
// are merged, the stored indexes mapped back to the caller's.
func (j *Journal) appendSplit(ctx context.Context, evs []event.Record) (Result, error) {
	parts := map[int]*partAppend{}
	order := []int{}
	for i := range evs {
		k := PartitionOfOrg(evs[i].Org, len(j.parts))
		pa := parts[k]
		if pa == nil {
			pa = &partAppend{p: j.parts[k]}
			parts[k] = pa
			order = append(order, k)
		}
		pa.idx = append(pa.idx, i)
		pa.evs = append(pa.evs, evs[i])
	}
	var wg sync.WaitGroup
	for _, k := range order {
		pa := parts[k]
		wg.Add(1)
		go func() {
			defer wg.Done()
			pa.res, pa.err = pa.p.append(ctx, pa.evs)
		}()
	}
	wg.Wait()
	var res Result
	var failed *AppendError
	var stored []int
	for _, k := range order {
		pa := parts[k]
		res.Stored += pa.res.Stored
		res.Duplicates += pa.res.Duplicates
		if pa.err == nil {
			stored = append(stored, pa.idx...)
			continue
		}
		var ae *AppendError
		if !errors.As(pa.err, &ae) {
			ae = &AppendError{Err: pa.err}
		}
		for _, s := range ae.Stored {
			stored = append(stored, pa.idx[s])
		}
		if failed == nil {
			failed = &AppendError{Err: ae.Err}
		}
		failed.Full = failed.Full || ae.Full
		failed.CapReached = failed.CapReached || ae.CapReached
	}
	if failed == nil {
		return res, nil
	}
	slices.Sort(stored)
	failed.Stored = stored
	return res, failed
}

// spreadLeaders moves the partitions' stream leaders onto different
// servers of a NATS cluster, once at Open: JetStream elects each
// stream's leader among its replicas at random, so three partitions on
// three servers share a leader more often than not, and writes would
// again go through fewer servers than there are partitions. Partition i
// asks for the i-th of the replicas' servers (sorted by name) through a
// leader step-down with a preferred server, where that server holds one
// of its replicas. Best effort: a failure is logged and changes nothing
// else; leaders also move later (server restarts), and the next start of
// a node spreads them again.
func (j *Journal) spreadLeaders(ctx context.Context) {
	if len(j.parts) < 2 || j.srv != nil || j.opts.Replicas < 2 {
		return
	}
	type placed struct {
		leader string
		peers  map[string]bool
	}
	all := map[string]bool{}
	var ps []placed
	for _, p := range j.parts {
		info, err := p.stream.Info(ctx)
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
			return
		}
		pl := placed{leader: info.Cluster.Leader, peers: map[string]bool{info.Cluster.Leader: true}}
		for _, r := range info.Cluster.Replicas {
			pl.peers[r.Name] = true
		}
		for s := range pl.peers {
			all[s] = true
		}
		ps = append(ps, pl)
	}
	servers := slices.Sorted(maps.Keys(all))
	var moved []*Partition
	for i, p := range j.parts {
		want := servers[i%len(servers)]
		if ps[i].leader == want || !ps[i].peers[want] {
			continue
		}
		body := []byte(`{"placement":{"preferred":` + strconv.Quote(want) + `}}`)
		msg, err := j.nc.RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+p.name, body)
		if err == nil {
			var resp struct {
				Error *jetstream.APIError `json:"error"`
			}
			if json.Unmarshal(msg.Data, &resp) == nil && resp.Error != nil {
				err = resp.Error
			}
		}
		if err != nil {
			j.log.Warn("journal: could not move a partition's leader to spread the partitions over the servers",
				"stream", p.name, "leader", ps[i].leader, "preferred", want, "err", err)
			continue
		}
		j.log.Info("journal: partition leader moved to spread the partitions over the servers",
			"stream", p.name, "from", ps[i].leader, "to", want)
		moved = append(moved, p)
	}
	// The moved streams answer again once their new leader is elected.
	deadline := time.Now().Add(leaderWait)
	for _, p := range moved {
		for time.Now().Before(deadline) && ctx.Err() == nil {
			ictx, cancel := context.WithTimeout(ctx, time.Second)
			info, err := p.stream.Info(ictx)
			cancel()
			if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// leaderWait bounds how long Open waits for moved partition leaders.
const leaderWait = 15 * time.Second
