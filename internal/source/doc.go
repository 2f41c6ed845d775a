// Package source keeps the definitions of event sources (the Okta System
// Log poller and the EventBridge API destination receiver), runs the
// pollers, reports their status and metrics, and serves /api/v1/sources.
//
// The design mirrors package stream: definitions live in a JetStream KV
// bucket (plus read-only ones from the config file) and every node follows
// changes through a watch; a Supervisor (the supervise.Core that log
// streams use too) keeps one Runner per active polling source in step with
// the store, on the one node that holds the source's lease. What a type means (its settings, secrets,
// runner) is given by an explicit Types table built by package app, so this
// package knows no source type itself.
//
// Lifecycle: NewStore loads and follows definitions; Supervisor.Run starts
// runners and returns after stopping them once its ctx ends. A runner that
// is stopped mid-page loses nothing: it checkpoints only after the journal
// has the page, so the next run fetches the page again and the journal's
// uuid de-duplication drops the copies ("an ungraceful stop may duplicate,
// never drop").
package source
