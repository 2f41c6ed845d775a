// Package pagerduty is the destination of streams of type "pagerduty":
// PagerDuty's Events API v2 (POST https://events.pagerduty.com/v2/enqueue,
// or the EU endpoint, or a URL of choice). Every event becomes a trigger
// event whose dedup_key is the detection id (debugData.detectionId, which
// is also transaction.id), so a detection delivered twice, or raised again
// for the same rule, group and window, adds to one incident instead of
// opening another. The payload's severity follows the rule's level
// (critical → critical, high → error, medium → warning, low and
// informational → info), summary is the level and rule title, source the
// org (or the setting source), class the rule, group the org, and
// custom_details hold the group key, count, window, actor, users, client,
// the rule's author and licence and the contributing events' uuids. Any
// other event the stream's filter selects is triggered with its own uuid
// as dedup_key and a generic summary.
//
// With digest set, one trigger summarises each period's events, with a
// dedup_key derived from their ids (a retry keeps it).
//
// The routing key (the integration key) is write-only, encrypted at rest,
// and never in errors or logs.
//
// Answers: 202 {"status":"success"} delivered; 400 invalid event
// permanent (dead-lettered), except one that names the routing key, which
// is a configuration error; 429 throttled (PagerDuty's rate limit per
// routing key), with Retry-After when given; 5xx retried; the rest per the
// default table of HTTP destinations.
//
// Verify posts a trigger without payload, which the Events API refuses
// with 400 without opening an incident: it proves the endpoint answers, and
// fails when the answer names the routing key.
package pagerduty
