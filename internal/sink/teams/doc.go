// Package teams is the destination of streams of type "teams": a
// Microsoft Teams incoming webhook, either a Workflows (Power Automate)
// "post to a channel when a webhook request is received" URL or a legacy
// Office 365 connector URL. Each event, or each digest of a period's
// events (setting digest), is posted as a message whose one attachment is
// an Adaptive Card (version 1.4): a title with the level, a fact set
// (level, org, group key, count, window, actor, users, client, rule) and
// a small line with the rule's author and licence and the detection id.
// Any other event the stream's filter selects gets a generic summary.
// Cards carry no links or actions.
//
// The webhook URL is the credential (Workflows URLs carry a sig= query):
// it is write-only, encrypted at rest and shown as scheme://host/… in
// errors and logs.
//
// Answers follow the default table of HTTP destinations (sink.StatusClass):
// 200 and 202 delivered, 400 and 413 permanent, 401, 403 and 404 a
// configuration error, 429 throttled (Retry-After honoured), 5xx retried.
// A legacy connector may answer 200 with "Webhook message delivery failed
// with error: Microsoft Teams endpoint returned HTTP error 429": the code
// in that text is classified instead.
package teams
