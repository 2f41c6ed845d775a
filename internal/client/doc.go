// Package client is a small typed client for the auditstream HTTP API:
// event ingest (POST /api/v1/events), the System Log query (GET
// /api/v1/logs) and the Okta-shaped collections of log streams
// (/api/v1/logStreams), sources (/api/v1/sources) and API tokens
// (/api/v1/tokens).
//
// Every request carries "Authorization: SSWS <token>". Errors the API
// answers with are returned as *APIError, so callers branch with errors.As
// on the status or Okta error code, never on message text.
//
// Retries: a request answered 429 or 503 is sent again after the server's
// Retry-After (or a capped exponential backoff when there is none), up to
// Client.MaxAttempts sends in all. Requests that are safe to repeat (reads,
// PUT, DELETE, lifecycle calls, replay and event ingest, which the server
// de-duplicates by uuid) are also retried after connection errors; creating
// a stream, a source or a token and redriving dead letters are not, because
// a lost response may hide a request that took effect.
//
// A Client is safe for concurrent use once configured; set its exported
// fields before the first request.
package client
