package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// BucketStore is an exportdigest.Store on a bucket: what the sink writes
// its digests with and `auditstream verify s3` reads a prefix with.
type BucketStore struct {
	Client *s3api.Client
	Bucket string
	// Unconditional creates objects with a HEAD then a plain PUT, for
	// servers without conditional writes (conditionalWrites: false); two
	// writers racing for one key could then overwrite each other.
	Unconditional bool
}

var _ exportdigest.Store = BucketStore{}

// Create implements exportdigest.Store with If-None-Match: *.
func (b BucketStore) Create(ctx context.Context, key string, body []byte) error {
	if b.Unconditional {
		_, err := b.Client.HeadObject(ctx, &s3api.HeadObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(key)})
		if err == nil {
			return fmt.Errorf("%s: %w", key, exportdigest.ErrExists)
		}
		if awsconf.Inspect(err).Status != http.StatusNotFound {
			return fmt.Errorf("head %s: %w", key, err)
		}
	}
	in := &s3api.PutObjectInput{
		Bucket:        aws.String(b.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/json"),
		ContentMD5:    aws.String(contentMD5(body)), // Object Lock buckets want one
	}
	if !b.Unconditional {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := b.Client.PutObject(ctx, in)
	if dup, _ := duplicate(err); dup {
		return fmt.Errorf("%s: %w", key, exportdigest.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Read implements exportdigest.Store.
func (b BucketStore) Read(ctx context.Context, key string) ([]byte, error) {
	out, err := b.Client.GetObject(ctx, &s3api.GetObjectInput{Bucket: aws.String(b.Bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) || awsconf.Inspect(err).Status == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", key, exportdigest.ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return body, nil
}

// List implements exportdigest.Store (S3 lists keys in order).
func (b BucketStore) List(ctx context.Context, prefix string) ([]exportdigest.Object, error) {
	var out []exportdigest.Object
	p := s3api.NewListObjectsV2Paginator(b.Client, &s3api.ListObjectsV2Input{Bucket: aws.String(b.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", b.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, exportdigest.Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// IsData reports whether a key is an archive object rather than a digest
// or a verification object: what digests list and verify checks.
func IsData(key string) bool {
	base := path.Base(key)
	return !strings.HasPrefix(base, archive.VerifyPrefix) && !strings.Contains("/"+key, "/"+exportdigest.Dir) && !strings.HasSuffix(key, "/")
}

// Describe reads the events of an archive object read back after a
// restart: their count, journal range (from the name) and published
// times.
func Describe(key string, body []byte) exportdigest.Entry {
	var e exportdigest.Entry
	if first, last, _, ok := archive.ObjectRange(key); ok {
		e.FirstPosition, e.LastPosition = first, last
	}
	decoded, err := archive.Decode(key, body)
	if err != nil {
		return e
	}
	e.Events = len(decoded)
	for _, d := range decoded {
		var ev struct {
			Published time.Time `json:"published"`
		}
		if json.Unmarshal(d.Data, &ev) == nil && !ev.Published.IsZero() {
			widen(&e, ev.Published)
		}
	}
	return e
}

// widen stretches e's published span to t.
func widen(e *exportdigest.Entry, t time.Time) {
	t = t.UTC()
	if e.FirstPublished.IsZero() || t.Before(e.FirstPublished) {
		e.FirstPublished = t
	}
	if t.After(e.LastPublished) {
		e.LastPublished = t
	}
}

// entry is the digest entry of an object the sink wrote.
func entry(key string, body []byte, recs []event.Record) exportdigest.Entry {
	e := exportdigest.Entry{Key: key, SHA256: exportdigest.Hash(body), Size: int64(len(body)), Events: len(recs)}
	if len(recs) > 0 {
		e.FirstPosition, e.LastPosition = recs[0].Seq, recs[len(recs)-1].Seq
	}
	for _, r := range recs {
		widen(&e, r.Published)
	}
	return e
}
