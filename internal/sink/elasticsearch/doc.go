// Package elasticsearch is the destination of streams of type
// "elasticsearch": Elasticsearch or OpenSearch, through the _bulk API.
//
// A batch is one POST /<index>/_bulk with NDJSON: per event a create action
// whose _id is the event's uuid, then the event with @timestamp (its
// published time) added. Create-only with a stable _id means a replay or a
// retried batch never duplicates a document: the cluster answers 409 for it,
// which counts as delivered. Data streams accept only create and require
// @timestamp, so the default target is the data stream
// "logs-okta.system-default". (A replay after a data stream rolls over can
// still duplicate, since _id is unique per backing index.)
//
// _bulk answers 200 even when documents fail: items are classified one by
// one, so only failed documents are retried (429) or dead-lettered (400
// mapping and argument errors); 403/404 items (closed, missing or blocked
// index) hold the stream. A whole request is classified by the default
// table of HTTP destinations (sink.StatusClass): 429 and 503 throttled,
// other 5xx retried, 413 split by the runner, 401/403/404 hold the stream. Requests
// authenticate with basic credentials or an API key; several node URLs can
// be given and a node that cannot be reached is skipped.
package elasticsearch
