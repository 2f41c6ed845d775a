// Package api is auditstream's REST control and data plane: event ingest,
// tokens and log streams, with Okta's shapes and error bodies where Okta
// has an equivalent API.
//
// Every endpoint but /healthz and /readyz needs a token, sent as
// "Authorization: SSWS <token>" or "Authorization: Bearer <token>". Tokens
// carry scopes and are bound to one org (or all orgs, for admins); a token
// sees and changes only its org's events and streams.
//
// Handlers decode the request, check the token's org, call the package
// that owns the use case (the log-stream handlers call stream.Service) and
// render the answer. They return errors; one renderer (httpapi.WriteError)
// turns them into Okta's error body, so every failure has errorCode,
// errorSummary and errorCauses. Other packages contribute endpoints as
// httpapi.Route values (Deps.Routes).
package api
