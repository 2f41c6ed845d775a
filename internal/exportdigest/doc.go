// Package exportdigest makes exported audit events provable: every data
// object a stream writes to S3 (or file a file stream finishes) is listed,
// with its SHA-256, size, event count and journal range, in a signed
// digest object written next to the data, and Verify checks a bucket
// prefix or a directory against those digests.
//
// Layout. Digests live under the stream's prefix, in a directory whose
// name starts with "_" so that Athena, Hive, Spark and DuckDB skip it when
// they read the data:
//
//	<prefix>_digest/<yyyy>/<MM>/<dd>/<stream>_<yyyyMMddTHHmmss.SSSZ>.json
//
// named from the digest's end time (UTC), so a stream's digests sort in the
// order they were written.
//
// Contents. A digest is the integrity package's signed JSON envelope,
// {"payload":{...},"keyId":"…","signature":"base64"}, the Ed25519
// signature being over the exact payload bytes. The payload (Digest) names
// the stream, the span of time it covers, the previous digest's key and the
// SHA-256 of its bytes as stored (so the digests form a chain: removing,
// replacing or reordering one breaks the link after it), and the objects
// written in that span.
//
// Writing. A Writer collects the objects its sink wrote and writes a
// digest once Interval has passed since the last one and objects are
// waiting, from a goroutine of its own, so a quiet stream's last objects
// are covered too; Close writes a last digest. Keys are created only if
// absent (S3 If-None-Match: *; O_EXCL on disk): nothing is ever overwritten
// or deleted, so a bucket with S3 Object Lock works. A digest that cannot
// be written is retried at the next tick (its objects wait); each failure
// is logged (ERROR) and handed to Deps.Report, through which a stream
// shows it in its status (lastError), the metric
// auditstream_export_digest_failures_total{stream} and a
// system.log_stream.digest_failed System Log event.
//
// Restarts. Before its first digest, a Writer finds the stream's newest
// digest (the chain goes on from it) and lists the data written since:
// every object modified at or after that digest's write time and listed in
// none of the digests of that second is read, hashed and listed in the next
// digest. So an object written just before a crash, whose digest was never
// written, is listed by the next process. A stream without any digest
// starts its chain with an empty "genesis" digest; objects written before
// it are not vouched for (Verify reports them as written before digests
// began).
package exportdigest
