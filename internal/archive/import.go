package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// importBatch is how many events go to the journal in one Append.
const importBatch = 1000

// Appender stores events; *journal.Journal is one.
type Appender interface {
	Append(ctx context.Context, evs []event.Record) (journal.Result, error)
}

// ImportOptions say what to import.
type ImportOptions struct {
	// Bucket and Prefix name the archive (the s3 stream's bucket and
	// prefix).
	Bucket, Prefix string
	// Since and Until bound the events' published time, [Since, Until);
	// zero means unbounded. Objects in Hive-style partitions outside the
	// span are not read.
	Since, Until time.Time
	// Org is the org of events whose object does not say (NDJSON objects
	// outside an org=<name> partition).
	Org string
	// Log receives a line per object; nil discards.
	Log *slog.Logger
}

// ImportResult counts what Import did.
type ImportResult struct {
	// Objects read, and skipped by partition pruning.
	Objects, Pruned int
	// Stored events were new to the journal; Duplicates were already
	// there (same uuid within the journal's de-duplication window) or
	// appeared twice in the archive; OutOfRange were outside
	// [Since, Until); Invalid events did not parse.
	Stored, Duplicates, OutOfRange, Invalid int
}

// Import reads the archive objects under opts.Prefix (any format and
// compression the s3 stream writes) and appends their events to the
// journal, de-duplicated by uuid: within the import by a set of the uuids
// seen, and against the journal by its de-duplication window. Events keep
// their uuid and published time. An import that fails part-way can be run
// again.
func Import(ctx context.Context, client *s3api.Client, j Appender, opts ImportOptions) (ImportResult, error) {
	var res ImportResult
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	seen := map[string]bool{}
	var pending []event.Record
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		r, err := j.Append(ctx, pending)
		if err != nil {
			return fmt.Errorf("append to journal: %w", err)
		}
		res.Stored += r.Stored
		res.Duplicates += r.Duplicates
		pending = pending[:0]
		return nil
	}
	now := time.Now()
	p := s3api.NewListObjectsV2Paginator(client, &s3api.ListObjectsV2Input{
		Bucket: aws.String(opts.Bucket), Prefix: aws.String(opts.Prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return res, fmt.Errorf("list s3://%s/%s: %w", opts.Bucket, opts.Prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.Contains(key, VerifyPrefix) || strings.HasSuffix(key, "/") || hidden(strings.TrimPrefix(key, opts.Prefix)) {
				continue
			}
			if from, to, ok := PartitionSpan(strings.TrimPrefix(key, opts.Prefix)); ok &&
				((!opts.Since.IsZero() && !to.After(opts.Since)) || (!opts.Until.IsZero() && !from.Before(opts.Until))) {
				res.Pruned++
				continue
			}
			decoded, err := getObject(ctx, client, opts.Bucket, key)
			if err != nil {
				return res, err
			}
			res.Objects++
			keyOrg := OrgOf(strings.TrimPrefix(key, opts.Prefix))
			for _, d := range decoded {
				org := d.Org
				if org == "" {
					org = keyOrg
				}
				if org == "" {
					org = opts.Org
				}
				ev, err := event.Parse(d.Data, org, now)
				if err != nil {
					res.Invalid++
					log.Warn("skipping an archived event that does not parse", "key", key, "err", err)
					continue
				}
				if (!opts.Since.IsZero() && ev.Published.Before(opts.Since)) || (!opts.Until.IsZero() && !ev.Published.Before(opts.Until)) {
					res.OutOfRange++
					continue
				}
				if seen[ev.UUID] {
					res.Duplicates++
					continue
				}
				seen[ev.UUID] = true
				pending = append(pending, ev)
				if len(pending) >= importBatch {
					if err := flush(); err != nil {
						return res, err
					}
				}
			}
			log.Info("imported object", "key", key, "events", len(decoded))
		}
	}
	return res, flush()
}

func getObject(ctx context.Context, client *s3api.Client, bucket, key string) ([]Decoded, error) {
	out, err := client.GetObject(ctx, &s3api.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	decoded, err := Decode(key, body)
	if err != nil {
		return nil, err
	}
	return decoded, nil
}

// ParseURL splits s3://bucket/prefix.
func ParseURL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", errors.New("want s3://bucket/prefix")
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", errors.New("want s3://bucket/prefix: no bucket")
	}
	return bucket, prefix, nil
}

// hidden reports whether a key below the prefix is in a directory whose
// name starts with "_" or ".", which query engines skip too: the digests
// of <prefix>_digest/ (package exportdigest) are not events.
func hidden(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, "_") || strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}
