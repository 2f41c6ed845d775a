// Package notify is what the notification destinations (slack, teams,
// pagerduty) and the http destination's bodyTemplate share: reading an
// event into a Notice (a detection's rule, level, group, count and window,
// or a plain event's summary), summarising a period's notices as a Digest,
// the text/template engine of templated webhook bodies, and a sink that
// posts one rendered message per event or one per digest (Webhook: what
// slack and teams check and post with).
//
// A detection is an ordinary journaled event (eventType
// security.detection.<rule>, envelope source auditstream.detect), so a
// notification is a log stream whose filter selects detection events;
// these packages only add the message bodies. Any other event a stream's
// filter lets through renders as a generic summary (display message,
// actor, outcome, client): a notification never fails because of what it
// was given.
//
// Digest mode is the runner's batching: the sink's Limits ask for a batch
// age equal to the digest period and at most MaxDigestItems events, so the
// runner holds the period's events unacknowledged (in progress in the
// journal) and hands them to one Write. A restart before that Write hands
// the same events to the next runner, which sends them in its next digest:
// nothing is lost and, since nothing was sent, nothing is doubled. A
// graceful stop sends the digest early. As for every destination, a crash
// between a successful post and the journal's ack sends that message again
// (at least once).
package notify
