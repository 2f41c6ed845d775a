package sinktest

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
)

// Behaviour is how a fake destination answers.
type Behaviour int

const (
	// Accept takes every record.
	Accept Behaviour = iota
	// FailRetryable answers with a transient failure (HTTP: 500).
	FailRetryable
	// FailPermanent answers with a failure that retrying cannot fix
	// (HTTP: 400).
	FailPermanent
	// Throttle asks the sink to slow down, with Answer.RetryAfter
	// (HTTP: 429 with Retry-After).
	Throttle
	// Pause answers with something only an operator can fix (a webhook's
	// 410 Gone, a destination directory that is not a directory).
	Pause
	// Hang never answers until the request's context ends or the fake is
	// closed.
	Hang
	// Unreachable behaves like a destination that is down (HTTP: the
	// connection is closed without an answer).
	Unreachable
)

func (b Behaviour) String() string {
	switch b {
	case Accept:
		return "accept"
	case FailRetryable:
		return "fail-retryable"
	case FailPermanent:
		return "fail-permanent"
	case Throttle:
		return "throttle"
	case Pause:
		return "pause"
	case Hang:
		return "hang"
	case Unreachable:
		return "unreachable"
	default:
		return "unknown"
	}
}

// Answer tells a fake how to answer the requests that follow.
type Answer struct {
	Behaviour Behaviour
	// RetryAfter is the delay a Throttle answer asks for.
	RetryAfter time.Duration
	// HTTPDate makes a Throttle answer write Retry-After as an HTTP date
	// (now + RetryAfter) instead of delay-seconds.
	HTTPDate bool
}

// Received is one record as the fake destination got it.
type Received struct {
	// ID is the record's event uuid, as read back from the payload.
	ID string
	// Data is the record's event as the destination received it.
	Data []byte
}

// Request is one delivery attempt seen by the fake: an HTTP request, or for
// a file destination everything found on disk.
type Request struct {
	// Records are the records the request carried, in order.
	Records []Received
	// Bytes is the size of the request body as sent (0 when not
	// meaningful for the destination).
	Bytes int
	// Accepted reports whether the fake answered with success.
	Accepted bool
}

// Fake is a controllable destination.
type Fake interface {
	// Answer sets how the fake answers from now on.
	Answer(a Answer)
	// Requests returns every request received so far, in arrival order.
	Requests() []Request
	// Connections returns how many connections the sink has opened to the
	// fake so far, or -1 when the notion does not apply.
	Connections() int
	// Close shuts the fake down, releasing hung requests, and waits for its
	// goroutines. It may be called more than once.
	Close()
}

// Scenario names one check of the battery, as used in Harness.Unsupported
// and as the name of its subtest.
type Scenario string

// The battery's scenarios.
const (
	ScenarioDeliver           Scenario = "deliver"
	ScenarioLimits            Scenario = "limits"
	ScenarioRetryable         Scenario = "retryable"
	ScenarioPermanent         Scenario = "permanent"
	ScenarioThrottleSeconds   Scenario = "throttle-seconds"
	ScenarioThrottleDate      Scenario = "throttle-date"
	ScenarioPaused            Scenario = "paused"
	ScenarioDrain             Scenario = "drain"
	ScenarioCancelHang        Scenario = "cancel-hang"
	ScenarioCancelled         Scenario = "cancelled"
	ScenarioVerify            Scenario = "verify"
	ScenarioVerifyUnreachable Scenario = "verify-unreachable"
	ScenarioClose             Scenario = "close"
)

// Scenarios lists every scenario in the order Run runs them.
var Scenarios = []Scenario{
	ScenarioDeliver, ScenarioLimits, ScenarioRetryable, ScenarioPermanent,
	ScenarioThrottleSeconds, ScenarioThrottleDate, ScenarioPaused,
	ScenarioDrain, ScenarioCancelHang, ScenarioCancelled, ScenarioVerify,
	ScenarioVerifyUnreachable, ScenarioClose,
}

// Harness is what a destination's test supplies to Run.
type Harness struct {
	// New starts a fresh fake destination and a sink pointed at it. It is
	// called once per scenario; it should register t.Cleanup for both (Run
	// also closes them, and both Close methods must tolerate that).
	New func(t *testing.T) (sink.Sink, Fake)

	// MaxRequestEvents and MaxRequestBytes are what the destination, as
	// the harness configured it, accepts in one request (a fake request's
	// Records and Bytes); zero means not checked. They are the real
	// destination's limits, not the sink's Limits: the battery checks
	// that the sink's Limits and encoding keep requests within them.
	MaxRequestEvents int
	MaxRequestBytes  int

	// DataEqual compares a record's Data with what the fake received. Nil
	// means the bytes must be identical.
	DataEqual func(sent, received []byte) bool

	// Unsupported names scenarios that do not apply to the destination,
	// each with the reason, which Run passes to t.Skip.
	Unsupported map[Scenario]string
}
