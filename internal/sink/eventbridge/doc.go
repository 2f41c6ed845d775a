// Package eventbridge is the destination of streams of type "eventbridge"
// (any event bus) and "aws_eventbridge" (Okta's EventBridge log stream
// settings: accountId, eventSourceName, region).
//
// Each event becomes one PutEvents entry as Okta's stream sends it:
// detail-type "SystemLog", detail the LogEvent exactly as stored, time its
// published time cut to whole seconds. The source is configurable (default
// "auditstream.<org>", for Okta streams "auditstream.<org>.<eventSourceName>"):
// EventBridge refuses sources starting with "aws.", so Okta's partner source
// cannot be reused and rules written for it must match on detail-type and
// detail, or on the new source.
//
// A batch is at most 10 entries and the request size limit (256 KB by
// default, configurable up to 1 MB), counting what EventBridge counts. An
// entry too large for any request is dead-lettered by the runner with the
// reason. EventBridge answers 200 even when entries fail: failed entries are
// reported per record, so only InternalFailure and ThrottlingException
// entries are sent again, MalformedDetail, InvalidArgument and
// RedactionFailure are dead-lettered, and permission errors hold the
// stream. Requests use the AWS SDK for Go v2 with its retries off (the
// runner retries).
package eventbridge
