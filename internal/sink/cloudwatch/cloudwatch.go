package cloudwatch

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// Sink delivers batches to a CloudWatch Logs group. Build it with New.
// Its clock (Deps.Now) decides which events are too old or too new for
// CloudWatch; Retry-After dates are read against the wall clock.
type Sink struct {
	cfg    Config
	client *cloudwatchlogs.Client
	conn   *awsconf.Conn
	log    *slog.Logger
	now    func() time.Time
	closed sink.Closed
}

var _ sink.Sink = (*Sink)(nil)

// Type is the "cloudwatch_logs" row of the stream type table.
func Type() sink.Type {
	return sink.NewType("cloudwatch_logs", prepare, build).WithDestination(awsconf.DestinationPaths()...)
}

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to test the group.
func New(cfg Config, deps sink.Deps) (*Sink, error) { return sink.Build(cfg, deps, prepare, build) }

func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg, err := sink.Checked("cloudwatch_logs", cfg, Config.withDefaults)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.CheckOwner(deps)
}

func build(cfg Config, deps sink.Deps) (*Sink, error) {
	conn, err := awsconf.Open(context.Background(), cfg.Config, deps)
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, conn: conn, log: deps.Logger, now: deps.Now, client: cloudwatchlogs.NewFromConfig(conn.AWS)}, nil
}

// Limits are PutLogEvents' 10,000 events and 1,048,576 bytes (counting 26
// per event), and the configured per-event cap.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: maxEvents, MaxBytes: maxBytes, MaxEventBytes: s.cfg.MaxEventBytes + eventOverhead}
}

// EncodedSize is what PutLogEvents counts: the message's UTF-8 bytes plus
// 26.
func (s *Sink) EncodedSize(r event.Record) int { return len(r.Data) + eventOverhead }

// Write sends b's events, grouped by log stream, sorted by time and cut
// into calls within the service's rules. Events CloudWatch would refuse
// for their age, and events it did refuse in rejectedLogEventsInfo, are
// permanent failures; a failed call fails its events. The outcome is nil,
// the one error of all events, or a *sink.PartialError.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), "cloudwatch_logs"); skip {
		return err
	}
	now := s.now()
	failed := make(map[int]error)
	var streams []string
	byStream := make(map[string][]int)
	for i, r := range b.Records {
		switch ts := timestamp(r, now); {
		case ts.Before(now.Add(-maxAge)):
			failed[i] = sink.Permanent(fmt.Errorf("event published %s is more than 14 days old: CloudWatch Logs does not accept it", ts.Format(time.RFC3339)))
		case ts.After(now.Add(maxAhead)):
			failed[i] = sink.Permanent(fmt.Errorf("event published %s is more than 2 hours ahead: CloudWatch Logs does not accept it", ts.Format(time.RFC3339)))
		case len(r.Data) > s.cfg.MaxEventBytes:
			failed[i] = sink.Permanent(fmt.Errorf("event is %d bytes, over maxEventBytes %d", len(r.Data), s.cfg.MaxEventBytes))
		default:
			name := s.streamName(r, ts)
			if _, ok := byStream[name]; !ok {
				streams = append(streams, name)
			}
			byStream[name] = append(byStream[name], i)
		}
	}
	for _, name := range streams {
		for _, call := range calls(b.Records, byStream[name], now) {
			if err := s.put(ctx, name, b.Records, call, now, failed); err != nil {
				return err
			}
		}
	}
	return outcome(failed, len(b.Records))
}

// outcome is nil when nothing failed, the error itself when every record
// failed for one reason (so the runner can split a batch on a permanent
// error), else a *sink.PartialError.
func outcome(failed map[int]error, n int) error {
	if len(failed) == 0 {
		return nil
	}
	if len(failed) == n {
		first := failed[0]
		same := true
		for _, err := range failed {
			if err != first {
				same = false
				break
			}
		}
		if same {
			return first
		}
	}
	return &sink.PartialError{Failed: failed}
}

func timestamp(r event.Record, now time.Time) time.Time {
	if r.Published.IsZero() {
		return now
	}
	return r.Published
}

func (s *Sink) streamName(r event.Record, ts time.Time) string {
	org := r.Org
	if org == "" {
		org = "default"
	}
	return expand(s.cfg.LogStreamName, org, ts.UTC().Format(time.DateOnly))
}

// calls sorts the records idx names by time and cuts them into
// PutLogEvents calls: a new call when the next event would make the span
// over 24 hours, the events over 10,000 or the bytes over the budget.
func calls(recs []event.Record, idx []int, now time.Time) [][]int {
	idx = slices.Clone(idx)
	slices.SortStableFunc(idx, func(a, b int) int {
		return timestamp(recs[a], now).Compare(timestamp(recs[b], now))
	})
	var out [][]int
	var cur []int
	var first time.Time
	size := 0
	for _, i := range idx {
		ts, n := timestamp(recs[i], now), len(recs[i].Data)+eventOverhead
		if len(cur) > 0 && (ts.Sub(first) > maxSpan || len(cur) == maxEvents || size+n > maxBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		if len(cur) == 0 {
			first = ts
		}
		cur = append(cur, i)
		size += n
	}
	return append(out, cur)
}

// put sends one call and records its failures in failed. It returns only
// ctx's error.
func (s *Sink) put(ctx context.Context, stream string, recs []event.Record, idx []int, now time.Time, failed map[int]error) error {
	events := make([]types.InputLogEvent, len(idx))
	for j, i := range idx {
		events[j] = types.InputLogEvent{
			Message:   aws.String(string(recs[i].Data)),
			Timestamp: aws.Int64(timestamp(recs[i], now).UnixMilli()),
		}
	}
	in := &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String(s.cfg.LogGroupName),
		LogStreamName: aws.String(stream),
		LogEvents:     events,
	}
	out, err := s.putOnce(ctx, in)
	if err != nil && awsconf.Inspect(err).Code == "ResourceNotFoundException" && *s.cfg.AutoCreate {
		if err = s.create(ctx, stream); err == nil {
			out, err = s.putOnce(ctx, in)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		if awsconf.Inspect(err).Code == "DataAlreadyAcceptedException" {
			return nil // an earlier attempt of this call got through
		}
		err = s.classify(fmt.Sprintf("put log events to %s/%s", s.cfg.LogGroupName, stream), err)
		for _, i := range idx {
			failed[i] = err
		}
		return nil
	}
	if rej := out.RejectedLogEventsInfo; rej != nil {
		for j, i := range idx {
			if reason := rejected(rej, j); reason != "" {
				failed[i] = sink.Permanent(fmt.Errorf("CloudWatch Logs rejected the event as %s", reason))
			}
		}
	}
	return nil
}

// rejected says why rejectedLogEventsInfo refuses the j-th event of a
// call, or "". The start index is inclusive, the end indexes exclusive.
func rejected(info *types.RejectedLogEventsInfo, j int) string {
	switch {
	case info.TooNewLogEventStartIndex != nil && j >= int(*info.TooNewLogEventStartIndex):
		return "too new (more than 2 hours ahead)"
	case info.TooOldLogEventEndIndex != nil && j < int(*info.TooOldLogEventEndIndex):
		return "too old (older than 14 days or the group's retention)"
	case info.ExpiredLogEventEndIndex != nil && j < int(*info.ExpiredLogEventEndIndex):
		return "expired (older than the group's retention)"
	}
	return ""
}

func (s *Sink) putOnce(ctx context.Context, in *cloudwatchlogs.PutLogEventsInput) (*cloudwatchlogs.PutLogEventsOutput, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	return s.client.PutLogEvents(rctx, in)
}

// create makes the log stream, and the group first when that is missing
// too. Either already existing is success (another writer won the race).
func (s *Sink) create(ctx context.Context, stream string) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	createStream := func() error {
		_, err := s.client.CreateLogStream(rctx, &cloudwatchlogs.CreateLogStreamInput{
			LogGroupName: aws.String(s.cfg.LogGroupName), LogStreamName: aws.String(stream)})
		if awsconf.Inspect(err).Code == "ResourceAlreadyExistsException" {
			return nil
		}
		return err
	}
	err := createStream()
	if awsconf.Inspect(err).Code == "ResourceNotFoundException" {
		s.log.InfoContext(ctx, "creating log group", "group", s.cfg.LogGroupName)
		_, err = s.client.CreateLogGroup(rctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(s.cfg.LogGroupName)})
		if err == nil || awsconf.Inspect(err).Code == "ResourceAlreadyExistsException" {
			err = createStream()
		}
	}
	if err != nil {
		return fmt.Errorf("create log stream %s/%s: %w", s.cfg.LogGroupName, stream, err)
	}
	s.log.InfoContext(ctx, "created log stream", "group", s.cfg.LogGroupName, "logStream", stream)
	return nil
}

// classify turns a failed call into the runner's classes:
//
//	ThrottlingException, 429                          throttled (Retry-After honoured)
//	auth codes, missing group/stream, 401, 403, 3xx   config
//	InvalidParameterException, other 4xx              permanent (the runner splits)
//	ServiceUnavailableException, 5xx, transport       retryable
func (s *Sink) classify(op string, err error) error {
	// Retry-After dates are the server's wall clock, not event time.
	return awsconf.Classify(op, err, time.Now(), "InvalidSequenceTokenException", "ServiceUnavailableException")
}

// Verify checks that the credentials are accepted and, unless autoCreate
// is on, that the log group exists, with DescribeLogGroups. It creates
// nothing and sends no event.
func (s *Sink) Verify(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	out, err := s.client.DescribeLogGroups(rctx, &cloudwatchlogs.DescribeLogGroupsInput{
		LogGroupNamePrefix: aws.String(s.cfg.LogGroupName), Limit: aws.Int32(50)})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.classify("describe log groups "+s.cfg.LogGroupName, err)
	}
	found := slices.ContainsFunc(out.LogGroups, func(g types.LogGroup) bool {
		return aws.ToString(g.LogGroupName) == s.cfg.LogGroupName
	})
	if !found && out.NextToken == nil && !*s.cfg.AutoCreate {
		return sink.Misconfigured(fmt.Errorf("log group %s does not exist and autoCreate is off", s.cfg.LogGroupName))
	}
	return nil
}

// Close releases idle connections of the sink's own client. It may be
// called more than once.
func (s *Sink) Close(context.Context) error { return s.closed.Close(s.conn.Close) }
