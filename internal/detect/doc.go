// Package detect is the detection runtime: it loads rule packs (Sigma rules,
// correlations and filters through package sigma, Okta's catalog through
// package oktarule, native rules made of an EventBridge pattern plus an
// optional Sigma correlation block), each tuned by its overlay (package
// overlay), picks the
// candidate rules of each journal event in one pass with a pattern.Set,
// evaluates their full predicates, feeds the matches to the correlation engine
// (package correlate) and journals what fires as detection events: Okta
// LogEvent-shaped events of eventType security.detection.<rule> with envelope
// source auditstream.detect, in the org they concern, so log streams, replay
// and the query API handle them like any event (docs/detections.md).
//
// # Pieces
//
//   - Registry (registry.go, native.go): the rules of every pack, each with a
//     status: loaded, refused (with file, line and reason) or "no source" (its
//     logsource matches no configured event source) or disabled by the
//     overlay. LoadPack auto-detects the front end per file (a document with
//     a top-level match key is native, one whose detection has okta_systemlog
//     or splunk is Okta's catalog, else Sigma); LoadPackFormat declares it.
//     The overlay's level, enabled and suppress are applied at load, its
//     exceptions and severityWhen by the Matcher.
//   - Matcher (matcher.go): logsource routing (Routes), the prefilter Set,
//     full evaluation, and the correlation engine. Detection events carry the
//     logsource {product: auditstream, service: detections}: only rules that
//     ask for that logsource ever see them, so detections never loop.
//   - Detection events (event.go): deterministic, so replaying the journal
//     yields byte-identical detections and the journal's uuid de-duplication
//     makes a repeat harmless.
//   - Service (service.go, reader.go, checkpoint.go): one durable consumer of
//     the journal for all rules, run by the one node holding the detections
//     lease, with the engine's snapshot and the journal position it covers
//     checkpointed in JetStream KV, so a restart (even kill -9) resumes
//     exactly and raises each detection once.
//   - Store and API (store.go, api.go): detections' triage state
//     (open/acknowledged/closed), uploaded rules and enable/disable per org,
//     the endpoints under /api/v1/detections, and backtests.
package detect
