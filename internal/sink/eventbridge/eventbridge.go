package eventbridge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// Sink delivers batches to an EventBridge bus with PutEvents. Build it
// with New or NewOkta.
type Sink struct {
	cfg    Config
	client *eventbridge.Client
	conn   *awsconf.Conn
	deps   sink.Deps
	closed sink.Closed
}

var _ sink.Sink = (*Sink)(nil)

// Type is the "eventbridge" row of the stream type table.
func Type() sink.Type {
	return sink.NewType("eventbridge", prepare, build).WithDestination(awsconf.DestinationPaths()...)
}

// OktaType is the "aws_eventbridge" row: Okta's type name with Okta's
// settings. Okta's rule (OKTA.md §3.2): the bus is sent on create, never
// modifiable.
func OktaType() sink.Type {
	return sink.NewType("aws_eventbridge", prepareOkta, build).WithDestination(awsconf.DestinationPaths()...).
		WithWriteOnce("accountId", "eventSourceName", "region")
}

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to test the bus.
func New(cfg Config, deps sink.Deps) (*Sink, error) { return sink.Build(cfg, deps, prepare, build) }

// NewOkta returns a sink for an "aws_eventbridge" stream. Its config
// errors are Okta's messages, unwrapped, so the API can return them as
// error causes as they are.
func NewOkta(cfg OktaConfig, deps sink.Deps) (*Sink, error) {
	return sink.Build(cfg, deps, prepareOkta, build)
}

func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg, err := sink.Checked("eventbridge", cfg, Config.withDefaults)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.CheckOwner(deps)
}

func prepareOkta(cfg OktaConfig, deps sink.Deps) (Config, error) {
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	g := cfg.Generic().withDefaults()
	return g, g.CheckOwner(deps)
}

func build(cfg Config, deps sink.Deps) (*Sink, error) {
	conn, err := awsconf.Open(context.Background(), cfg.Config, deps)
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, deps: deps, conn: conn, client: eventbridge.NewFromConfig(conn.AWS)}, nil
}

// Limits are PutEvents' 10 entries and the request size limit; an entry
// larger than the whole request limit can never be sent and is
// dead-lettered by the runner.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: maxEntries, MaxBytes: s.cfg.MaxBytes, MaxEventBytes: s.cfg.MaxBytes}
}

// EncodedSize is the entry's size as EventBridge counts it: Source,
// DetailType and Detail in UTF-8 bytes plus 14 for Time.
func (s *Sink) EncodedSize(r event.Record) int {
	return len(s.source(r)) + len(s.cfg.DetailType) + len(r.Data) + 14
}

func (s *Sink) source(r event.Record) string {
	org := r.Org
	if org == "" {
		org = "default"
	}
	return strings.ReplaceAll(s.cfg.Source, "{org}", org)
}

func (s *Sink) entry(r event.Record) types.PutEventsRequestEntry {
	e := types.PutEventsRequestEntry{
		Source:       aws.String(s.source(r)),
		DetailType:   aws.String(s.cfg.DetailType),
		Detail:       aws.String(string(r.Data)),
		EventBusName: aws.String(s.cfg.EventBusName),
		Resources:    []string{},
	}
	if !r.Published.IsZero() {
		// Okta's stream sets time to published cut to whole seconds.
		e.Time = aws.Time(r.Published.UTC().Truncate(time.Second))
	}
	return e
}

// Write sends b with one PutEvents call (the runner keeps batches within
// Limits). EventBridge answers per entry: failed entries are reported in a
// *sink.PartialError by their error code, so only they are retried or
// dead-lettered.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), "eventbridge"); skip {
		return err
	}
	if len(b.Records) > maxEntries {
		return sink.Permanent(fmt.Errorf("batch of %d events: PutEvents takes at most %d", len(b.Records), maxEntries))
	}
	entries := make([]types.PutEventsRequestEntry, len(b.Records))
	total := 0
	for i, r := range b.Records {
		entries[i] = s.entry(r)
		total += s.EncodedSize(r)
	}
	if total > s.cfg.MaxBytes {
		return sink.Permanent(fmt.Errorf("batch of %d bytes: over the PutEvents limit of %d", total, s.cfg.MaxBytes))
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	out, err := s.client.PutEvents(rctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.classify("put events", err)
	}
	if out.FailedEntryCount == 0 {
		return nil
	}
	if len(out.Entries) != len(entries) {
		return fmt.Errorf("put events: %d entries failed, but the answer has %d results for %d entries",
			out.FailedEntryCount, len(out.Entries), len(entries))
	}
	failed := make(map[int]error)
	for i, res := range out.Entries {
		if res.ErrorCode == nil || *res.ErrorCode == "" {
			continue
		}
		failed[i] = entryError(*res.ErrorCode, aws.ToString(res.ErrorMessage))
	}
	if len(failed) == 0 {
		return fmt.Errorf("put events: %d entries failed, but no result says which", out.FailedEntryCount)
	}
	return &sink.PartialError{Failed: failed}
}

// EntryError is one PutEvents entry that EventBridge refused.
type EntryError struct {
	Code    string
	Message string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("eventbridge refused the event: %s: %s", e.Code, e.Message)
}

// entryError classifies a failed entry (DESTINATIONS.md §3).
func entryError(code, msg string) error {
	err := &EntryError{Code: code, Message: msg}
	switch {
	case code == "ThrottlingException":
		return sink.Throttled(err, 0)
	case code == "MalformedDetail", code == "InvalidArgument", code == "RedactionFailure":
		return sink.Permanent(err)
	case code == "AccessDeniedException", code == "InvalidAccountIdException", awsconf.IsAuth(code):
		return sink.Misconfigured(err)
	default: // InternalFailure and codes added later
		return err
	}
}

// classify turns a failed call into the runner's classes:
//
//	throttling codes, 429                      throttled (Retry-After honoured)
//	auth codes, 401, 403, missing bus, 3xx     config
//	other 4xx (ValidationException, …)         permanent
//	5xx, InternalException, transport errors   retryable
func (s *Sink) classify(op string, err error) error {
	return awsconf.Classify(op, err, s.deps.Now(), "InternalException", "InternalFailure")
}

// Verify checks that the credentials are accepted and the bus exists with
// DescribeEventBus. A role allowed PutEvents but not DescribeEventBus is
// common: AccessDeniedException still proves the credentials valid, so it
// passes (logged), while unknown credentials and a missing bus fail.
func (s *Sink) Verify(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	_, err := s.client.DescribeEventBus(rctx, &eventbridge.DescribeEventBusInput{Name: aws.String(s.cfg.EventBusName)})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if code := awsconf.Inspect(err).Code; code == "AccessDeniedException" {
		s.deps.Logger.InfoContext(ctx, "eventbridge verify: not allowed to describe the bus; credentials are valid", "bus", s.cfg.EventBusName)
		return nil
	}
	return s.classify("describe event bus "+s.cfg.EventBusName, err)
}

// Close releases idle connections of the sink's own client. It may be
// called more than once.
func (s *Sink) Close(context.Context) error { return s.closed.Close(s.conn.Close) }
