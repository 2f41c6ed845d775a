package s3

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// recover drops from groups the records an earlier sink already archived.
//
// Keys are deterministic, so a batch retried by the same runner writes the
// same keys and a 412 says "already there". After a crash, though, the
// runner rebuilds batches from the journal's ack floor and they need not
// end where the lost batch ended: more events may be waiting, so the first
// new batch usually starts with the lost batch's events and runs past it,
// and its key differs. So a fresh sink, before its first write, lists each
// partition the batch touches and looks for objects whose journal range
// overlaps the batch; when the batch's records in that range carry the
// object's tag (the same ids and sequences), they are already archived and
// are left out. Recovery continues with the next batch for as long as it
// finds such objects. Listing needs s3:ListBucket; without it the sink
// logs a warning once and may archive a re-sent batch twice.
func (s *Sink) recover(ctx context.Context, groups []archive.Group) ([]archive.Group, error) {
	if !s.listOK {
		s.recovering = false
		return groups, nil
	}
	found := false
	out := groups[:0:0]
	for _, g := range groups {
		first, last := g.Records[0].Seq, g.Records[len(g.Records)-1].Seq
		ranges, err := s.listRanges(ctx, g.Dir, last)
		if err != nil {
			if info := awsconf.Inspect(err); info.Status == http.StatusForbidden || awsconf.IsAuth(info.Code) {
				s.log.Warn("cannot list the bucket (s3:ListBucket): after a crash, a re-sent batch may be archived twice", "err", err)
				s.listOK, s.recovering = false, false
				return groups, nil
			}
			return nil, s.classify(ctx, "list "+s.keyString(g.Dir), err)
		}
		recs := g.Records
		for _, r := range ranges {
			if r.last < first || r.first > last {
				continue
			}
			found = true
			kept := recs[:0:0]
			var inRange []event.Record
			for _, rec := range recs {
				if rec.Seq >= r.first && rec.Seq <= r.last {
					inRange = append(inRange, rec)
				} else {
					kept = append(kept, rec)
				}
			}
			if len(inRange) == 0 {
				continue
			}
			if inRange[0].Seq == r.first && inRange[len(inRange)-1].Seq == r.last && archive.Tag(inRange) == r.tag {
				s.log.Info("events already archived before a restart; not writing them again",
					"key", r.key, "events", len(inRange))
				recs = kept
				continue
			}
			// The batch covers only part of the object's range (some of
			// its events were acknowledged before the crash, others not),
			// or the object is another stream's: read it and leave out
			// the events it holds.
			ids, err := s.objectIDs(ctx, r.key)
			if err != nil {
				s.log.Warn("cannot read an archived object to check for events written before a restart; they may be archived twice",
					"key", r.key, "err", err)
				continue
			}
			kept = recs[:0:0]
			for _, rec := range recs {
				if !ids[rec.UUID] || rec.Seq < r.first || rec.Seq > r.last {
					kept = append(kept, rec)
				}
			}
			if n := len(recs) - len(kept); n > 0 {
				s.log.Info("events already archived before a restart; not writing them again", "key", r.key, "events", n)
			}
			recs = kept
		}
		if len(recs) > 0 {
			out = append(out, archive.Group{Dir: g.Dir, Records: recs})
		}
	}
	s.recovering = found
	return out, nil
}

// objectIDs reads an archived object and returns the uuids it holds.
func (s *Sink) objectIDs(ctx context.Context, key string) (map[string]bool, error) {
	out, err := s.client.GetObject(ctx, &s3api.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, err
	}
	decoded, err := archive.Decode(key, body)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(decoded))
	for _, d := range decoded {
		var ev struct {
			UUID string `json:"uuid"`
		}
		if json.Unmarshal(d.Data, &ev) == nil && ev.UUID != "" {
			ids[ev.UUID] = true
		}
	}
	return ids, nil
}

type objectRange struct {
	key         string
	first, last uint64
	tag         string
}

// listRanges lists the archive objects directly in dir whose first
// sequence is at most until (names sort by first sequence).
func (s *Sink) listRanges(ctx context.Context, dir string, until uint64) ([]objectRange, error) {
	var out []objectRange
	p := s3api.NewListObjectsV2Paginator(s.client, &s3api.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(dir), Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			first, last, tag, ok := archive.ObjectRange(strings.TrimPrefix(key, dir))
			if !ok {
				continue
			}
			if first > until {
				return out, nil
			}
			out = append(out, objectRange{key: key, first: first, last: last, tag: tag})
		}
	}
	return out, nil
}
