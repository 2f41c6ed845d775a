// Package slack is the destination of streams of type "slack": a Slack
// incoming webhook (https://hooks.slack.com/services/…), posted a message
// per event, or a digest of a period's events (setting digest).
//
// A detection's message has a header (level and rule title), the fields
// people triage with (level, org, group key, count, window, actor, users,
// client, rule) and a context line with the rule's author and licence
// (the Detection Rule License requires the author in every alert raised
// from a Sigma rule) and the detection id; "text" carries the headline
// for notifications. Messages carry no links, and every value from an
// event is escaped, so an event cannot mention @channel or add a link.
// Any other event the stream's filter selects gets a generic summary.
//
// The webhook URL is the credential: it is write-only, encrypted at rest,
// and shown as https://hooks.slack.com/… in errors and logs.
//
// Slack's answers map onto the default table of HTTP destinations
// (sink.StatusClass): 200 "ok" delivered; 400 invalid_payload and its
// kind permanent (dead-lettered); 403 invalid_token or action_prohibited
// and 404 no_service or channel_not_found hold the stream as a
// configuration error; 410 channel_is_archived pauses it; 429 is
// throttled for its Retry-After; 5xx are retried.
//
// Verify posts an empty message ({}), which Slack refuses with 400
// no_text without posting anything: that proves the webhook exists and
// its token is valid (a revoked one answers 403 or 404).
package slack
