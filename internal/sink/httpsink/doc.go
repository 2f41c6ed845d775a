// Package httpsink is the destination of streams of type "http": a webhook
// or any HTTP API that takes audit events as JSON.
//
// A batch goes out as one request whose body is a JSON array of the events
// (body "batch", the default) or NDJSON (body "ndjson"), or as one request
// per event (body "event"). Each event is sent exactly as stored. Requests
// can authenticate with HTTP Basic, an API key header, or an OAuth 2.0
// client credentials token that the sink fetches, caches until shortly
// before it expires and fetches again when the endpoint answers 401. They
// can be signed the Standard Webhooks way (webhook-id, webhook-timestamp,
// webhook-signature "v1,<base64 HMAC-SHA256>"); the webhook-id of a batch
// is derived from its record IDs, so a retried batch keeps its id and
// receivers can de-duplicate on it.
//
// With bodyTemplate the body is the operator's own JSON: a Go
// text/template over each event (package notify: a detection's rule,
// level, group key, count and window, or any event's summary, plus the
// decoded event and JSON-escaping helpers), or with digest over the
// events of each period in one request. The template is parsed and tried
// on sample events when the stream is created, so a template that fails
// or does not produce JSON is a 400 then; should it still fail on an event
// at delivery, that event is sent as stored, with a warning. Digest
// without a template sends a batch every period.
//
// Answers are classified for the runner: 2xx delivered; 408, 425 and 5xx
// retried (429 and 503 throttled), honouring Retry-After; 3xx (redirects
// are never followed), 401, 403, 404 and 407 are configuration errors (the
// runner holds the stream and retries slowly, since the endpoint needs an
// operator and the events are fine); 410 pauses the stream; other 4xx are
// permanent: the default table of every HTTP destination,
// sink.StatusClass. Requests go through sink.HTTP, so response bodies are
// always drained and closed, and the start of an error body is quoted in
// the error.
//
// sink.Deps.Egress lets the service refuse targets such as its own admin
// endpoints, or a tenant's loopback address.
package httpsink
