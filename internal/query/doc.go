// Package query answers Okta's System Log API, GET /api/v1/logs, from the
// journal, for as long as the journal keeps events.
//
// Two modes, as Okta's (OKTA.md §1.2, §2.3):
//
//   - Polling (no until, ascending): events in journal order (auditstream's
//     persistence time) from the first one persisted at or after since, or
//     after the cursor. Every page has a rel="next" link, even an empty
//     one, and following it returns only events that arrived after. It is
//     complete: every persisted event is eventually returned.
//   - Bounded (until given, or DESCENDING): events published in
//     [since, until), ordered by published, then uuid, then journal
//     position. The last page has no next link. As with Okta, an event
//     appended with a published time inside a range a client already paged
//     past is not returned to that client.
//
// The journal is read through journal.Decode only (record batches, and the
// one-event messages of earlier releases); an event is known by its
// position (journal.Position: message sequence, index in the message).
// Polling reads the journal with batched direct gets of the token's org's
// subjects (journal.OrgSubjects) from the cursor's message, merged in
// sequence order: no consumer is created per request, and any replica of
// the stream answers. It skips, on each record batch's own
// index, events whose org or event type cannot match before reading their
// JSON. Bounded queries use an in-memory Index of the journal by published
// minute, event type, actor.alternateId, actor.id and target.id (a user's
// events as actor or target), rebuilt from the journal at
// start and kept current by following it, so a query reads only events
// that may match; the messages it reads are decoded once and kept in a
// small cache, as the next events of a page are often in the same one.
//
// ServeSlice answers the same way for endpoints that show a slice of the
// System Log (GET /api/v1/activity/users/{id}/events): a filter of the
// caller's ANDed with the request's, links on the caller's path.
//
// The after cursor is opaque and signed (HMAC-SHA256 with a key kept in the
// auditstream_query KV bucket), and bound to the query it was issued for.
// Filters (filter.go) are Okta's SCIM-style expressions; the same parser has a
// detection dialect (filter_detect.go, ParseDetectionFilter) for detection
// rules written as filters (Okta's catalog), which the API never uses; q is keyword search
// (keywords.go). Every response carries Okta's X-Rate-Limit-* headers from a
// per-token token bucket.
package query
