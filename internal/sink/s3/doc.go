// Package s3 is the destination of streams of type "s3": an archive of
// audit events in an S3 bucket (AWS or any S3-compatible server), in files
// that Athena, Spark or DuckDB read directly.
//
// Layout. Each batch becomes one object per partition:
//
//	<prefix>year=YYYY/month=MM/day=DD/hour=HH/<first-seq>-<last-seq>-<tag>.jsonl.gz
//
// partitioned by the events' published time (UTC; the partition path is
// the keyTemplate setting), named from the journal sequence range it holds
// and a tag of its events' ids. The name depends only on the batch, and
// objects are created with If-None-Match: *, so a retried batch writes the
// same key and a 412 means "already written": success. After a crash the
// runner rebuilds batches that need not end where the lost one did; a
// fresh sink therefore lists the partitions of its first batches and
// leaves out events an object already holds (recover.go), so a crash in
// mid-upload archives nothing twice (this needs s3:ListBucket; without it,
// duplicates are possible and are logged).
//
// Formats (package archive): NDJSON, CSV (free column list or the flat
// audit-export schema) or Parquet, compressed with gzip, zstd or not.
//
// Batching. Limits asks the runner for batches of up to batch.maxEvents
// events, held up to batch.maxAge (default 5 minutes), and up to
// batch.maxBytes encoded bytes (default 64 MiB). Compressed sizes are only
// known after encoding, so EncodedSize is the event's raw size times the
// compression ratio of the last batch plus 10% (a conservative 0.25 before
// the first). If an encoded object still comes out larger than maxBytes,
// Write cuts it into several (deterministically, so retries keep their
// keys): no object exceeds maxBytes unless it holds a single event.
// Objects above 32 MiB go up as multipart uploads of 16 MiB parts,
// completed with If-None-Match: * as well (AWS and versitygw honour it on
// CompleteMultipartUpload).
//
// Requests are plain PutObject calls with a bytes.Reader body, SDK retries
// off (the runner retries) and checksums only where S3 requires them, so
// S3-compatible servers accept them over HTTP and HTTPS alike.
//
// Errors: 412 (and MinIO's old 304) are success; 409, 5xx, RequestTimeout,
// ExpiredToken and network errors are retried; 503 SlowDown is throttling;
// missing bucket, access denied, wrong region, rejected checksums and
// missing conditional-write support are configuration problems (the stream
// is held, events are not dead-lettered); other 4xx are permanent. Errors
// say what is wrong in plain words ("no such bucket", "access denied",
// "wrong region"), which the API shows when Verify fails.
//
// Verify writes <prefix>auditstream-verify-test-<timestamp>, as S3 exports
// do when a bucket is set up.
//
// Digests (digests.go). Given a signer (sink.Deps.Signer), the sink lists
// every object it writes in signed, chained digest objects under
// <prefix>_digest/ (package exportdigest; docs/integrity-exports.md):
// every digests.interval while objects are written, and at Close. Its first
// Write finds the stream's newest digest and lists objects written since
// that no digest names, so a crash between an object and its digest loses
// nothing. BucketStore and IsData are what `auditstream verify s3` reads a
// prefix with.
package s3
