// Package splunk is the destination of streams of type "splunk_hec" (any
// Splunk HTTP Event Collector) and "splunk_cloud_logstreaming" (Okta's
// Splunk Cloud log stream settings: edition, host, token).
//
// A batch goes to /services/collector/event as concatenated envelopes,
// gzip-compressed by default, one per event:
// {"time":<published, epoch seconds with ms>,"host":<org>,"source":"okta:im2",
// "sourcetype":"OktaIM2:log","index":…,"event":<LogEvent as stored>}, all
// but event and time configurable. Requests carry "Authorization: Splunk
// <token>". HEC's status codes are mapped to the runner's classes (token,
// index and channel problems hold the stream; malformed events are
// dead-lettered, and with invalid-event-number only that event, the ones
// before it being accepted; busy and unhealthy answers are throttled).
//
// With ack on, the sink uses indexer acknowledgement: a channel GUID per
// sink, sent on every request; Write keeps the ackId Splunk returns and
// polls /services/collector/ack until it is true, so the runner acks the
// journal only once Splunk has indexed the events. An ack that does not come
// within ackTimeout makes the batch go again. Without acks a 200 means only
// "accepted into Splunk's pipeline".
//
// Verify calls /services/collector/health with the token.
package splunk
