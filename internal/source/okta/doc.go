// Package okta pulls an Okta org's System Log (GET /api/v1/logs) into the
// journal, as OKTA.md §1 prescribes.
//
// The poller asks for limit=1000 in ascending order without until (Okta's
// polling mode, which filters on persistence time so late-written events
// are not skipped) and follows the rel="next" link it is given, never a
// URL it builds. A page's events go to the journal first; only once the
// journal has acknowledged all of them is the page's next link saved as the
// checkpoint in the KV bucket source.BucketCheckpoints. A page shorter than
// the limit means "caught up": the poller sleeps pollInterval and asks for
// the same next link again. A stop at any point may fetch a page again,
// never skip one; the copies are dropped by uuid in the journal (and by an
// in-memory set of recent uuids). If the org rejects a stored cursor, the
// poller restarts from the newest published time it has seen minus an
// overlap (default 5 minutes).
//
// Rate limits: every response's X-Rate-Limit-Limit, -Remaining and -Reset
// headers are read; the poller uses at most rateLimitShare of each window's
// limit (default 50%, Okta's default share for one client) and never takes
// the last 20% of the bucket unless the share is 1. On 429 it waits until
// the reset (server clock: Reset − Date + 1 s, at most 60 s), or backs off
// exponentially when the org reports a concurrency limit (Limit 0). 5xx,
// timeouts and network errors back off from 1 s doubling to 60 s with
// jitter. 401/403 mark the source "error" and are retried every minute, so
// polling resumes once the credential is fixed.
//
// Authentication is an API token (Authorization: SSWS) or an OAuth 2.0
// service app: client credentials with a private_key_jwt client assertion
// (RS256, signed here with crypto/rsa), scope okta.logs.read, the access
// token cached and refreshed at eleven twelfths of its lifetime (55 minutes
// for Okta's one hour) or on the first 401.
package okta
