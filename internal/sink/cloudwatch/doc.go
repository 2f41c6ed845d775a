// Package cloudwatch is the destination of streams of type
// "cloudwatch_logs": Amazon CloudWatch Logs, through PutLogEvents with the
// AWS SDK for Go v2 (its retries off: the runner retries).
//
// Each event becomes one log event whose message is the LogEvent exactly as
// stored and whose timestamp is its published time. The log stream name is
// a template ({org}, {date}); a batch's events are grouped by stream,
// sorted by time and cut into calls that keep PutLogEvents' rules: 10,000
// events, 1,048,576 bytes counting 26 per event, and 24 hours between the
// first and last event. A missing group or stream is created (an existing
// one is fine) and the call sent again.
//
// CloudWatch rejects events older than 14 days or more than 2 hours ahead
// one by one: the sink does not send them but reports them as permanent
// failures (the runner dead-letters them with the reason), and events the
// service still rejects in rejectedLogEventsInfo are reported the same way.
// Throttling is retried after the delay asked for; permission problems hold
// the stream. CloudWatch Logs does not de-duplicate: a retried call may
// store events twice, and consumers de-duplicate on uuid.
package cloudwatch
