// Package archive is the shared part of auditstream's S3 archive: how
// events are laid out in a bucket (Layout: Hive-style time partitions below
// a prefix, objects named from the journal range they hold), how a batch is
// encoded into an object (Codec: NDJSON, CSV or Parquet; gzip, zstd or
// none) and decoded again (Decode), and the rehydration of archived objects
// back into the journal (Import).
//
// The s3 log stream, the Lambda handler and `auditstream import` all use
// it, so what one writes the others read.
package archive
