// Package api is auditstream's REST control and data plane: event ingest,
// tokens and log streams, with Okta's shapes and error bodies where Okta
// has an equivalent API.
//
// Every endpoint but /healthz and /readyz needs a token, sent as
// "Authorization: SSWS <token>" or "Authorization: Bearer <token>". Tokens
// carry scopes and are bound to one org (or all orgs, for admins); a token
// sees and changes only its org's events and streams.
//
// Handlers return errors; one renderer (WriteError) turns them into Okta's
// error body, so every failure has errorCode, errorSummary and errorCauses.
package api
