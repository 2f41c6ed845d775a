// Package filesink is the destination of streams of type "file": NDJSON
// files in a local directory, one event per line, exactly as stored.
//
// Events go to a file named <prefix>-<UTC time>-<seq>.ndjson.part, where
// the time is when the file was started and seq is the journal sequence
// number of its first event (zero-padded, so names sort in journal order).
// The sink starts a new file when the next event would take the current one
// past maxBytes, or once the current file is maxAge old (checked at each
// Write, so an idle stream's file is finished at its next Write or at
// Close). Finishing a file flushes it, fsyncs it and renames it to drop
// ".part": a file named .ndjson is complete NDJSON and will not change,
// which is what consumers should pick up.
//
// With fsync on (the default) every Write ends with an fsync, so a nil
// error means the events are on disk; with it off they are in the page
// cache. A Write that fails truncates the current file back to where the
// batch started, so a retried batch is not written twice into one file
// (events already rotated into a finished file may be; delivery is
// at-least-once).
//
// A crash can leave a .part file behind, possibly ending in a partial line.
// The first Write of a new sink finishes such files of its prefix: it cuts
// them after their last complete line and renames them. Only one sink may
// therefore write a given directory and prefix at a time: give each stream
// its own directory or prefix.
//
// The directory is opened once, when first needed, and every file is
// created, renamed and removed relative to that open directory (os.Root):
// moving it away and putting a symbolic link in its place afterwards
// redirects nothing. Given a base directory (placed by
// sink.Deps.Egress: a tenant's directory under fileRoots), Dir is relative to it and is created and
// opened one component at a time, refusing symbolic links (ErrLink).
//
// Digests (digests.go). Given a signer (sink.Deps.Signer), every finished
// file is listed with its SHA-256 in signed, chained digests under
// <dir>/_digest/ (package exportdigest; docs/integrity-exports.md), written
// through a handle of the directory of their own; files finished by the
// crash recovery above are listed too. `auditstream verify dir` checks them.
//
// Errors are retryable, except those an operator must fix (permission
// denied, read-only file system, a path that is not a directory), which
// are configuration errors: the runner holds the stream and retries slowly.
package filesink
