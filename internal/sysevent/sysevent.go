// Package sysevent builds the System Log events auditstream writes about
// itself (lifecycle changes made through the API, token changes, source
// health, journal and retention problems), in Okta's LogEvent shape, so
// they are stored, queried, filtered and streamed like any other event.
// It is the one place that knows that shape.
package sysevent

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// Severities, Okta's.
const (
	SeverityInfo  = "INFO"
	SeverityWarn  = "WARN"
	SeverityError = "ERROR"
)

// Ref is an actor or target of a LogEvent.
type Ref struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// Service is the actor of events the service raises on its own (no caller).
var Service = Ref{ID: "auditstream", Type: "SystemPrincipal", AlternateID: "system@auditstream", DisplayName: "auditstream"}

// Token event types, Okta's names for API token changes.
const (
	TokenCreate = "system.api_token.create"
	TokenRevoke = "system.api_token.revoke"
	// TokenRotate is written when the token from AUDITSTREAM_ADMIN_TOKEN
	// is replaced by a new value (Okta has no such event: its tokens are
	// never set from outside).
	TokenRotate = "system.api_token.rotate"
)

// Token is the Ref of an API token (never its secret): the actor of a
// change an API caller made, or the target of an event about a token.
func Token(t auth.Token) Ref {
	if strings.HasPrefix(t.ID, "sso:") { // a person signed in to the console through OIDC
		return Ref{ID: t.ID, Type: "User", AlternateID: t.Name, DisplayName: t.Name}
	}
	return Ref{ID: t.ID, Type: "Token", AlternateID: t.Name, DisplayName: t.Name}
}

// OrgFor is the org an event about something of org goes to: org itself,
// or systemOrg (the default org) for something of every org (auth.AllOrgs)
// or of none, so that no tenant reads about what is not theirs.
func OrgFor(org, systemOrg string) string {
	if org == "" || org == auth.AllOrgs {
		return systemOrg
	}
	return org
}

// Spec describes one event.
type Spec struct {
	// Type is the event type, e.g. system.api_token.create.
	Type string
	// Severity is SeverityInfo (default), SeverityWarn or SeverityError.
	Severity string
	// Message is the displayMessage.
	Message string
	// Actor did it; the zero Ref means Service.
	Actor Ref
	// Targets are what it was done to.
	Targets []Ref
	// Failure sets outcome.result FAILURE (default SUCCESS).
	Failure bool
	// Reason is outcome.reason, when set.
	Reason string
	// Debug, when set, becomes debugContext.debugData.
	Debug map[string]any
	// Org is the org the event belongs to.
	Org string
}

type logEvent struct {
	UUID           string            `json:"uuid"`
	Published      string            `json:"published"`
	EventType      string            `json:"eventType"`
	Version        string            `json:"version"`
	Severity       string            `json:"severity"`
	DisplayMessage string            `json:"displayMessage"`
	Actor          Ref               `json:"actor"`
	Outcome        map[string]string `json:"outcome"`
	Target         []Ref             `json:"target"`
	DebugContext   map[string]any    `json:"debugContext,omitempty"`
}

// New builds the event, published now.
func New(s Spec, now time.Time) (event.Record, error) {
	sev := s.Severity
	if sev == "" {
		sev = SeverityInfo
	}
	actor := s.Actor
	if actor == (Ref{}) {
		actor = Service
	}
	outcome := map[string]string{"result": "SUCCESS"}
	if s.Failure {
		outcome["result"] = "FAILURE"
	}
	if s.Reason != "" {
		outcome["reason"] = s.Reason
	}
	targets := s.Targets
	if targets == nil {
		targets = []Ref{}
	}
	ev := logEvent{UUID: uuid.NewString(), Published: now.UTC().Format(event.TimeFormat), EventType: s.Type,
		Version: "0", Severity: sev, DisplayMessage: s.Message, Actor: actor, Outcome: outcome, Target: targets}
	if s.Debug != nil {
		ev.DebugContext = map[string]any{"debugData": s.Debug}
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return event.Record{}, err
	}
	return event.Parse(raw, s.Org, now)
}

// Appender stores events; *journal.Journal is one.
type Appender interface {
	Append(ctx context.Context, evs []event.Record) (journal.Result, error)
}

// appendTimeout bounds the append of one event, which goes on when the
// request or run that raised it is cancelled: the change has happened.
const appendTimeout = 10 * time.Second

// Write builds the event, published now, and appends it to j, even when
// ctx is cancelled (within appendTimeout). The error is for the caller to
// log: an event about a change that has already happened is not undone.
func Write(ctx context.Context, j Appender, s Spec, now time.Time) error {
	ev, err := New(s, now)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), appendTimeout)
	defer cancel()
	_, err = j.Append(ctx, []event.Record{ev})
	return err
}
