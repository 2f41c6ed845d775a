// Package httpapi is the HTTP vocabulary every part of auditstream's API
// shares: Okta's error codes and error body (Error, WriteError), the
// Route and HandlerFunc an endpoint is contributed as, JSON writing,
// strict body decoding for the control plane, and the one body reader of
// the push-ingest endpoints (ReadPush, or Buffers.ReadPush to reuse the
// body buffers and gzip readers of busy endpoints) with its Limits.
//
// It is a leaf: it imports auth, the standard library and a gzip reader
// (klauspost/compress) only, so the packages that contribute endpoints
// (source, query, stream) share the vocabulary without depending on each
// other or on the server.
package httpapi
