// Package stream runs log streams: each is a durable JetStream consumer on
// the journal, a filter (an EventBridge event pattern) and a sink, driven by
// a Runner that owns everything destinations have in common — fetching,
// filtering, batching by count, encoded bytes and age, retries with capped
// exponential backoff and jitter, Retry-After, dead letters, acks, status
// and metrics.
//
// Delivery is at least once. The runner reads the journal's messages (a
// record batch holds up to 100 events) through journal.Decode and filters
// and batches their events; a message is acknowledged only once every one
// of its events was delivered, dead-lettered or filtered out (after the
// flush that completes it, when it straddles two sink batches), so an
// ungraceful stop may deliver a batch again but never drops one.
//
// Each stream has one reader, its owner (see below), which keeps the
// stream's order: its feed checks the consumer's delivery numbers, and a
// number skipped (a pull's answer lost in a NATS fault, or a previous
// owner's late pull) makes the runner deliver and acknowledge what it took
// before the gap and restart the consumer right after it; a new owner
// finding messages delivered and not acknowledged resets the consumer to
// its ack floor (feed.go). The consumer's AckWait is seconds
// (DefaultAckWait), kept alive with in-progress acks for every message a
// runner holds; a runner that stops hands back what it holds with a Nak.
// A batch's messages are acknowledged with confirmed acks, and its events
// count as delivered (status, metrics) only once the server confirmed
// them; an ack not confirmed (a NATS fault) is sent again with the next
// batches' for up to AckWait, since it would otherwise hold the consumer's
// ack floor and a next owner's reset to that floor would deliver
// everything acknowledged since again.
//
// A watchdog recreates a runner's journal reader when the consumer has
// events pending and nothing arrived for a few pull heartbeats (pull
// requests lost with a consumer leader), counts it (a stalls metric),
// and after DefaultStallError says so in the stream's status.
//
// Definitions live in a JetStream KV bucket (Store); a Supervisor on every
// node watches it and starts, restarts and stops runners as streams are
// created, changed, replayed, deactivated and deleted. When several nodes
// share the journal, each stream runs on one of them: the node holding its
// lease (package lease), spread by rendezvous hashing over the live nodes,
// fenced so that a node that lost its lease stops at once, and only that
// owner saves the stream's status (ownership.go). It is the
// supervise.Core that sources use too, with the stream's own hooks: a
// replay's new epoch retires the old consumer, a runner stops softly then
// hard, and a deleted stream's consumer and dead letters go.
// The Service is what the API calls to make those changes: it pins a new
// stream's consumer, starts a replay's epoch, lists and redrives dead
// letters, and writes the System Log event of each change.
//
// Retention keeps the journal under its byte cap by purging the oldest
// events, and decides what that means for streams behind: with
// journal.whenFull protect it purges only what every active stream has
// delivered and refuses ingest (507) while it cannot; with dropOldest it
// purges anyway. Either way, every event a stream loses (also to maxAge)
// is reported on that stream: status droppedByRetention, a metric, a WARN
// and a system.log_stream.gap event.
package stream
