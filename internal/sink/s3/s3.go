package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// Multipart defaults. AWS suggests multipart from about 100 MB; objects
// are at most maxBytes (64 MiB by default), so multipart starts at 32 MiB
// with 16 MiB parts: a failed part costs less to resend than a whole
// object, and parts stay far above S3's 5 MiB minimum.
const (
	DefaultMultipartThreshold = 32 << 20
	DefaultPartSize           = 16 << 20
	minPartSize               = 5 << 20
)

// Ratio estimates: EncodedSize multiplies an event's raw size by the ratio
// encoded/raw observed on the last batch (times ratioMargin), so batches
// come out near maxBytes once the sink has seen data. Before that it
// assumes priorRatio, a little worse than audit JSON usually compresses.
// Write never lets an object exceed maxBytes by more than its last event:
// an object that does is cut (deterministically) in two.
const (
	priorRatio  = 0.25
	ratioMargin = 1.1
	minRatio    = 0.01
)

// Option changes how a Sink uploads.
type Option func(*Sink)

// Multipart overrides the multipart defaults: objects from threshold bytes
// go up in parts of partSize (at least 5 MiB). Tests use small values.
func Multipart(threshold, partSize int) Option {
	return func(s *Sink) { s.threshold, s.partSize = threshold, partSize }
}

// Sink writes batches to S3 objects. Build it with New.
type Sink struct {
	cfg       Config
	layout    archive.Layout
	codec     *archive.Codec
	client    *s3api.Client
	conn      *awsconf.Conn
	log       *slog.Logger
	now       func() time.Time
	threshold int
	partSize  int
	target    string // s3://bucket/prefix, for messages

	ratio      atomic.Uint64 // float64 bits; see EncodedSize
	exact      bool          // EncodedSize is exact (NDJSON, no compression)
	recovering bool          // see recover.go; only touched by Write
	listOK     bool          // false once listing was refused
	skipHead   bool          // tests: multipart without the HEAD shortcut
	// digests, when the stream is given a signer, lists every object
	// written in signed digests (digests.go, package exportdigest);
	// digestsOn says its first Write recovered and started it.
	digests   *exportdigest.Writer
	digestsOn bool
	// reportDigests, set by ReportDigests before the first Write, is told
	// each digest attempt's outcome.
	reportDigests func(error)
	// fenced, set by FenceDigests before the first Write, stops digests
	// once the stream's lease ran out.
	fenced    func() bool
	closeOnce sync.Once
	closed    atomic.Bool
}

var _ sink.Sink = (*Sink)(nil)

// Type is the "s3" row of the stream type table.
func Type() sink.Type {
	return sink.NewType("s3", prepare, defaultBuild).WithDestination(awsconf.DestinationPaths()...)
}

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: Verify writes the verification object.
func New(cfg Config, deps sink.Deps, opts ...Option) (*Sink, error) {
	return sink.Build(cfg, deps, prepare, func(cfg Config, deps sink.Deps) (*Sink, error) { return build(cfg, deps, opts...) })
}

// prepare checks the endpoint first: a refused endpoint is the answer
// whatever else the settings say.
func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg = cfg.withDefaults()
	if err := cfg.CheckOwner(deps); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("s3 sink config: %w", err)
	}
	return cfg, nil
}

func defaultBuild(cfg Config, deps sink.Deps) (*Sink, error) { return build(cfg, deps) }

func build(cfg Config, deps sink.Deps, opts ...Option) (*Sink, error) {
	layout, _ := archive.NewLayout(cfg.Prefix, cfg.KeyTemplate)            // Validate checked
	codec, _ := archive.NewCodec(cfg.Format, cfg.Compression, cfg.Columns) // Validate checked
	s := &Sink{
		cfg: cfg, layout: layout, codec: codec, log: deps.Logger, now: deps.Now,
		target:     "s3://" + cfg.Bucket + "/" + layout.Prefix,
		recovering: true, listOK: true,
		exact: cfg.Format == archive.NDJSON && cfg.Compression == archive.None,
	}
	for _, o := range opts {
		o(s)
	}
	if s.threshold <= 0 {
		s.threshold = DefaultMultipartThreshold
	}
	if s.partSize <= 0 {
		s.partSize = DefaultPartSize
	}
	s.partSize = max(s.partSize, minPartSize)
	conn, err := awsconf.Open(context.Background(), cfg.Config, deps)
	if err != nil {
		return nil, err
	}
	s.conn, s.client = conn, newClient(conn.AWS, cfg)
	if deps.Signer != nil && !cfg.Digests.Off {
		s.digests = exportdigest.NewWriter(
			exportdigest.Config{Stream: deps.Stream, Prefix: layout.Prefix, Interval: cfg.Digests.IntervalOrDefault()},
			exportdigest.Deps{
				Store:  BucketStore{Client: s.client, Bucket: cfg.Bucket, Unconditional: !*cfg.ConditionalWrites},
				Signer: deps.Signer, Data: IsData, Describe: Describe, Logger: deps.Logger, Now: deps.Now,
				Report: func(err error) {
					if s.reportDigests != nil {
						s.reportDigests(err)
					}
				},
				Fenced: func() bool { return s.fenced != nil && s.fenced() },
			})
	}
	prior := priorRatio
	if s.exact {
		prior = 1
	}
	s.ratio.Store(math.Float64bits(prior))
	return s, nil
}

// NewClient returns an S3 client for cfg's region, endpoint, credentials
// and path style, with SDK retries off (the runner retries) and checksums
// only where S3 requires them (see DESTINATIONS.md §1.4). httpClient sends
// the requests; it must not follow redirects.
func NewClient(ctx context.Context, cfg Config, httpClient *http.Client) (*s3api.Client, error) {
	if httpClient != nil && httpClient.CheckRedirect == nil {
		c := *httpClient
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		httpClient = &c
	}
	awsCfg, err := awsconf.Load(ctx, cfg.Config, httpClient)
	if err != nil {
		return nil, err
	}
	return newClient(awsCfg, cfg), nil
}

func newClient(awsCfg aws.Config, cfg Config) *s3api.Client {
	return s3api.NewFromConfig(awsCfg, func(o *s3api.Options) {
		o.UsePathStyle = cfg.ForcePathStyle
	})
}

// Limits reports the batch settings: MaxAge asks the runner to hold events
// for minutes rather than milliseconds.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{
		MaxEvents: s.cfg.Batch.MaxEvents,
		MaxBytes:  s.cfg.Batch.MaxBytes,
		MaxAge:    s.cfg.Batch.MaxAge.D(),
	}
}

// EncodedSize estimates what r adds to an object as stored. For NDJSON
// without compression it is exact (the event and a newline). Otherwise the
// encoded size is only known after encoding, so it is the raw size times
// the ratio encoded/raw of the last batch written, plus 10%; see Write for
// how an underestimate is caught.
func (s *Sink) EncodedSize(r event.Record) int {
	raw := archive.RawSize(r)
	if s.exact {
		return raw
	}
	return max(1, int(math.Ceil(float64(raw)*math.Float64frombits(s.ratio.Load()))))
}

// object is one encoded object ready to upload.
type object struct {
	key  string
	body []byte
	recs []event.Record
}

// Write stores b as one object per partition (more when an object would
// exceed maxBytes), each named from its journal range and created only if
// absent, so that a retried batch writes the same keys and an object that
// already exists counts as written.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), "s3"); skip {
		return err
	}
	groups := s.layout.Split(b.Records)
	if s.digests != nil && !s.digestsOn {
		// The chain goes on from the newest digest, and objects written
		// before a crash but in no digest are found, before anything new.
		if err := s.digests.Recover(ctx); err != nil {
			s.log.Error("cannot find where the stream's digests stand; retrying before the next digest", "err", err)
		}
		s.digests.Start()
		s.digestsOn = true
	}
	if s.recovering {
		var err error
		if groups, err = s.recover(ctx, groups); err != nil {
			return err
		}
	}
	raw, encoded := 0, 0
	for _, g := range groups {
		objs, err := s.encode(g.Dir, g.Records)
		if err != nil {
			return sink.Permanent(fmt.Errorf("encode: %w", err))
		}
		for _, r := range g.Records {
			raw += archive.RawSize(r)
		}
		for _, o := range objs {
			encoded += len(o.body)
			if err := s.put(ctx, o.key, o.body); err != nil {
				return err
			}
			if s.digests != nil {
				s.digests.Add(entry(o.key, o.body, o.recs))
			}
		}
	}
	if raw > 0 && !s.exact {
		ratio := max(minRatio, float64(encoded)/float64(raw)*ratioMargin)
		s.ratio.Store(math.Float64bits(ratio))
	}
	return nil
}

// encode turns one partition's records into objects of at most maxBytes
// each (a single event larger than that gets an object of its own). The
// cuts depend only on the records, so a retry produces the same keys.
func (s *Sink) encode(dir string, recs []event.Record) ([]object, error) {
	body, err := s.codec.Encode(recs)
	if err != nil {
		return nil, err
	}
	if len(body) <= s.cfg.Batch.MaxBytes || len(recs) == 1 {
		return []object{{key: dir + archive.ObjectName(recs, s.codec.Ext()), body: body, recs: recs}}, nil
	}
	n := int(float64(len(recs)) * float64(s.cfg.Batch.MaxBytes) / float64(len(body)) * 0.95)
	n = min(max(n, 1), len(recs)-1)
	head, err := s.encode(dir, recs[:n])
	if err != nil {
		return nil, err
	}
	tail, err := s.encode(dir, recs[n:])
	if err != nil {
		return nil, err
	}
	return append(head, tail...), nil
}

// Verify writes the verification object <prefix>auditstream-verify-test-
// <timestamp>, as S3 exports do when a bucket is set up: it proves the
// bucket exists in the region and the credentials may write to the prefix
// (s3:PutObject is the only permission delivery needs). With conditional
// writes on, it also checks that the server supports them.
func (s *Sink) Verify(ctx context.Context) error {
	now := s.now().UTC()
	key := s.layout.Prefix + archive.VerifyPrefix + now.Format("20060102T150405.000Z")
	body := fmt.Appendf(nil, "auditstream verification object, written %s; safe to delete.\n", now.Format(time.RFC3339))
	in := &s3api.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("text/plain"),
	}
	if *s.cfg.ConditionalWrites {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := s.client.PutObject(ctx, in)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if ok, _ := duplicate(err); ok {
		return nil
	}
	return fmt.Errorf("write %s%s: %w", "s3://"+s.cfg.Bucket+"/", key, s.plain(err))
}

// ReportDigests implements sink.DigestReporter; call it before the first
// Write.
func (s *Sink) ReportDigests(report func(error)) { s.reportDigests = report }

// FenceDigests implements sink.DigestFencer; call it before the first
// Write.
func (s *Sink) FenceDigests(fenced func() bool) { s.fenced = fenced }

// Close writes a last digest of the objects written since the previous
// one (when digests are on) and releases the sink's idle connections. It
// may be called more than once.
func (s *Sink) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.digests != nil && s.digestsOn {
			if err = s.digests.Close(ctx); errors.Is(err, exportdigest.ErrFenced) {
				s.log.Warn("last digest not written: the stream's lease ran out; its next owner's digest lists the objects")
				err = nil
			} else if err != nil {
				err = fmt.Errorf("last digest: %w", err)
				s.log.Error("last digest not written: the objects since the previous digest are in none until the stream writes again", "err", err)
			}
		}
		s.conn.Close()
	})
	return err
}

// keyString is key as messages show it: s3://bucket/key.
func (s *Sink) keyString(key string) string {
	return "s3://" + s.cfg.Bucket + "/" + strings.TrimPrefix(key, "/")
}

// WriteEvent stores one event as an object of its own, named from its
// uuid in its partition (the Lambda handler's layout: it has no journal
// sequence). Like Write, it creates the object only if absent, so a
// redelivered event is written once. It returns the object's key.
func (s *Sink) WriteEvent(ctx context.Context, r event.Record) (string, error) {
	body, err := s.codec.Encode([]event.Record{r})
	if err != nil {
		return "", sink.Permanent(fmt.Errorf("encode: %w", err))
	}
	key := s.layout.Dir(r.Org, r.Published) + archive.EventName(r.UUID, s.codec.Ext())
	return key, s.put(ctx, key, body)
}

// Bucket is the bucket the sink writes to.
func (s *Sink) Bucket() string { return s.cfg.Bucket }
