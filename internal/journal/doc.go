// Package journal keeps every audit event durably in NATS JetStream and
// holds the service's configuration and state in JetStream key-value
// buckets.
//
// One JetStream stream (AUDIT by default) stores all events. An event's
// subject is audit.<org>.<eventType tokens>, so a log stream for one org or
// one event family gets a cheap subject filter. The event's uuid is the
// JetStream message id, so a retried append or an overlapping poll does not
// store an event twice within the de-duplication window.
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
