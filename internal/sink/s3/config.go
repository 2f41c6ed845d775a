package s3

import (
	"cmp"
	"regexp"
	"time"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// Defaults for the settings a stream leaves out.
const (
	// DefaultMaxAge is how long the oldest event may wait before its batch
	// is written: five minutes, as the S3 exports people use today, so a
	// quiet stream makes at most 12 objects an hour per partition.
	DefaultMaxAge = 5 * time.Minute
	// DefaultMaxBytes is the largest object, counted encoded (compressed),
	// 64 MiB: large enough that query engines read efficiently, small
	// enough to upload in seconds.
	DefaultMaxBytes = 64 << 20
	// DefaultMaxEvents bounds a batch by count. The runner holds a batch
	// uncompressed in memory until it is written, so this also bounds
	// memory (100,000 Okta events are about 140 MB); it stays below the
	// journal consumer's 200,000 unacknowledged messages.
	DefaultMaxEvents = 100000

	minMaxAge    = time.Second
	maxMaxAge    = 24 * time.Hour
	minMaxBytes  = 1024
	maxMaxBytes  = 5 << 30 // S3's largest single PUT; multipart goes beyond, we do not need to
	maxMaxEvents = 200000
)

// Config is the settings of a stream of type "s3".
type Config struct {
	// Config holds region, endpoint and credentials (inline: the settings
	// "region", "endpoint" and "credentials").
	awsconf.Config
	// Bucket receives the objects. Required.
	Bucket string `json:"bucket"`
	// Prefix goes in front of every key, e.g. "audit/" (a missing
	// trailing "/" is added).
	Prefix string `json:"prefix,omitempty"`
	// ForcePathStyle addresses the bucket in the path (endpoint/bucket/key)
	// instead of the host name, as most S3-compatible servers need.
	ForcePathStyle bool `json:"forcePathStyle,omitempty"`
	// Format is ndjson (default), csv or parquet.
	Format archive.Format `json:"format,omitempty"`
	// Compression is gzip (default), zstd or none. For parquet it is the
	// codec inside the file.
	Compression archive.Compression `json:"compression,omitempty"`
	// Columns are the CSV columns: names of the flat audit-export schema
	// (EVENT_ID, EVENT_TIME, USER_ID, ...), "event" for the whole event as
	// JSON, or dotted paths into the event ("actor.alternateId"). Empty
	// means the whole audit-export schema.
	Columns []string `json:"columns,omitempty"`
	// KeyTemplate is the partition path below the prefix; default
	// "year={yyyy}/month={MM}/day={dd}/hour={HH}/". Placeholders: {org},
	// {yyyy}, {MM}, {dd}, {HH}, from the event's published time in UTC.
	KeyTemplate string `json:"keyTemplate,omitempty"`
	// Batch says when an object is written.
	Batch Batch `json:"batch,omitzero"`
	// ConditionalWrites sends If-None-Match: * so that an object is never
	// overwritten and a re-sent batch is recognised (default true). Turn
	// it off only for servers without conditional writes; a batch re-sent
	// after a crash may then be archived twice.
	ConditionalWrites *bool `json:"conditionalWrites,omitempty"`
	// Digests lists every object written, with its SHA-256, in signed
	// digest objects under <prefix>_digest/ every interval (default "1h")
	// while objects are written; "off": true turns them off. See
	// docs/integrity-exports.md.
	Digests exportdigest.Settings `json:"digests,omitzero"`
}

// Batch says when the buffered events are written as an object: when the
// oldest is MaxAge old, or the objects would exceed MaxBytes encoded, or
// MaxEvents are buffered, whichever comes first.
type Batch struct {
	// MaxAge, e.g. "5m" (the default).
	MaxAge sink.Duration `json:"maxAge,omitempty"`
	// MaxBytes is the largest object in bytes as stored (compressed);
	// default 64 MiB.
	MaxBytes int `json:"maxBytes,omitempty"`
	// MaxEvents is the most events in one batch; default 100,000.
	MaxEvents int `json:"maxEvents,omitempty"`
}

func (c Config) withDefaults() Config {
	c.Format = cmp.Or(c.Format, archive.NDJSON)
	c.Compression = cmp.Or(c.Compression, archive.Gzip)
	c.Batch.MaxAge = cmp.Or(c.Batch.MaxAge, sink.Duration(DefaultMaxAge))
	c.Batch.MaxBytes = cmp.Or(c.Batch.MaxBytes, DefaultMaxBytes)
	c.Batch.MaxEvents = cmp.Or(c.Batch.MaxEvents, DefaultMaxEvents)
	c.ConditionalWrites = cmp.Or(c.ConditionalWrites, new(true))
	return c
}

// bucketRE is AWS's rule for bucket names (general purpose buckets).
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Validate reports every problem with c at once. Unset settings are valid
// where they have defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems
	if c.Bucket == "" {
		errs.Addf("bucket: required")
	} else if !bucketRE.MatchString(c.Bucket) {
		errs.Addf("bucket %q: want 3 to 63 lower-case letters, digits, dots and hyphens", c.Bucket)
	}
	errs.Add(c.Config.Validate())
	if _, err := archive.NewLayout(c.Prefix, c.KeyTemplate); err != nil {
		errs.Add(err)
	}
	if _, err := archive.NewCodec(c.Format, c.Compression, c.Columns); err != nil {
		errs.Add(err)
	}
	if d := c.Batch.MaxAge.D(); d < minMaxAge || d > maxMaxAge {
		errs.Addf("batch.maxAge %v: want between %v and %v", d, minMaxAge, maxMaxAge)
	}
	errs.Add(sink.CheckBetween("batch.maxBytes", c.Batch.MaxBytes, minMaxBytes, maxMaxBytes),
		sink.CheckBetween("batch.maxEvents", c.Batch.MaxEvents, 1, maxMaxEvents), c.Digests.Validate())
	return errs.Err()
}
