// Package journal keeps every audit event durably in NATS JetStream and
// holds the service's configuration and state in JetStream key-value
// buckets.
//
// One JetStream stream (AUDIT by default) stores all events, as record
// batches: one message holds up to MaxBatchEvents events of one org, with
// a compact index (uuid, event type, published, source, account) in front
// of their JSON, which is compressed as one S2 block unless
// Options.Compression is CompressNone, on the subject audit.<org>
// (format.go, the only file that knows the wire format; docs/journal.md
// has the design and its measurements). Readers decode messages with
// Decode, which also reads the one-message-per-event format of older
// releases, and address an event by its position (Position: message
// sequence and index); readers of the same messages at about the same
// time (the log streams' runners) use Journal.Decode, which decompresses
// each batch once between them (inflate.go). Readers that follow
// the journal without a latency contract read through a Tail, which stays
// a few message blocks behind a moving head so that the embedded store can
// recycle the cache of the block being written (tail.go).
//
// With Options.Partitions N > 1 the events are in N streams instead
// (<Stream>_P0 …, subjects audit_p<k>.<org>), each org in one of them by a
// hash of its name, each with its own writer and, on a cluster, its own
// leader; positions carry the partition in their top 8 bits (PartitionSeq,
// PartitionOf), so partition 0 and a journal of one partition have the
// same positions as before partitions (partition.go).
//
// One writer goroutine per partition appends (writer.go): it takes every Append queued at
// once, drops events whose (org, uuid) its window saw within
// DuplicateWindow (and the last DuplicateWindowMaxIDs events), and
// publishes the batches pipelined, each expecting the previous one as the
// stream's last message, so that a second writer on the same stream
// fences it instead of interleaving unseen; it then reads what the other
// wrote and retries. The window is rebuilt from the journal's tail at
// Open, so a retried append or an overlapping poll does not store an event
// twice, also across a restart.
//
// The journal runs either embedded (an in-process nats-server with
// JetStream on the data directory, no network listener) or against an
// external NATS server or cluster (Options.URL); the code path above the
// connection is the same.
//
// Durability: Append returns only after JetStream acknowledged every
// message. With the default fsync policy (SyncInterval, JetStream's
// default of two minutes) an acknowledged message survives a process crash
// (it is in the OS page cache) but may be lost if the whole machine loses
// power before the next sync. SyncAlways fsyncs every write before the ack:
// nothing acknowledged is lost even on power failure, at a large cost in
// ingest throughput. In a three-node cluster (R3) an ack means a quorum has
// the message, which is the usual answer to power loss.
//
// Faults (embedded journal): Open takes an exclusive flock on
// <dataDir>/LOCK, so a second process cannot open the same files. The
// JetStream store limit is the sum of the caps, never a share of the free
// disk, so start and restart do not depend on free space (sizing.go).
// Append waits at most Options.AppendTimeout; a full disk or a write error
// that JetStream latched makes appends fail fast (ErrStorageFull,
// ConditionAppend) until a monitor restarts JetStream once there is space
// again (health.go). A record of the stream's sequences and count kept in
// <dataDir>/journal-state.json, outside JetStream's files, lets the next
// start detect events lost to a corrupt or truncated block (state.go).
package journal
