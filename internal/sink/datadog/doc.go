// Package datadog is the destination of streams of type "datadog": the
// Datadog Logs intake API v2 (POST https://http-intake.logs.<site>/api/v2/logs)
// on any of Datadog's sites, or a URL of choice.
//
// A batch goes out as one JSON array, gzip-compressed by default, with
// "DD-API-KEY". Each item is the LogEvent as stored with Datadog's
// reserved members added: ddsource (default "okta"), service (default
// "auditstream"), hostname (the org), ddtags ("org:<org>" and the configured
// tags), timestamp (published: Datadog does not read "published" as the
// date) and message (displayMessage). Batches stay within 1,000 items, the
// request size before compression (default 4,250,000 bytes, at most 5 MB)
// and 1 MB per log.
//
// Answers are classified by the default table of HTTP destinations
// (sink.StatusClass): 2xx delivered; 429 and 503 throttled; 408 and other
// 5xx retried; 401, 403, 404, 407 and redirects hold the stream; 410 pauses
// it; 400 and 413 are permanent (a 413 makes the runner split the batch
// until one event is left, which is dead-lettered).
// Datadog accepts timestamps from 18 hours ago to 2 hours ahead only, so
// replayed older events are stored with the intake time.
//
// Verify checks the API key with GET /api/v1/validate on the site's API.
package datadog
