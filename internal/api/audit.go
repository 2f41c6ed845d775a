package api

import (
	"context"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// Lifecycle event types, Okta's names for log stream changes (OKTA.md §3.4).
const (
	evStreamCreate     = "system.log_stream.lifecycle.create"
	evStreamUpdate     = "system.log_stream.lifecycle.update"
	evStreamActivate   = "system.log_stream.lifecycle.activate"
	evStreamDeactivate = "system.log_stream.lifecycle.deactivate"
	evStreamDelete     = "system.log_stream.lifecycle.delete"
)

// Token event types, Okta's names for API token changes.
const (
	EvTokenCreate = "system.api_token.create"
	EvTokenRevoke = "system.api_token.revoke"
	// EvTokenRotate is written when the token from AUDITSTREAM_ADMIN_TOKEN
	// is replaced by a new value (Okta has no such event: its tokens are
	// never set from outside).
	EvTokenRotate = "system.api_token.rotate"
)

var streamMessages = map[string]string{
	evStreamCreate:     "Create log stream",
	evStreamUpdate:     "Update log stream",
	evStreamActivate:   "Activate log stream",
	evStreamDeactivate: "Deactivate log stream",
	evStreamDelete:     "Delete log stream",
}

// Target names what a change was made to, in a lifecycle event.
type Target struct {
	ID, Type, AlternateID, DisplayName string
}

// TokenActor is the actor of an event about a change an API caller made:
// the token it authenticated with (never its secret).
func TokenActor(tok auth.Token) sysevent.Ref {
	return sysevent.Ref{ID: tok.ID, Type: "Token", AlternateID: tok.Name, DisplayName: tok.Name}
}

// TokenTarget is the target of an event about a token.
func TokenTarget(t auth.Token) sysevent.Ref {
	return sysevent.Ref{ID: t.ID, Type: "Token", AlternateID: t.Name, DisplayName: t.Name}
}

// LifecycleEvent builds the System Log event auditstream writes about a
// change an API caller made (Okta's shape: actor the token, one target).
func LifecycleEvent(tok auth.Token, eventType, message string, target Target, org string, now time.Time) (event.Event, error) {
	return sysevent.New(sysevent.Spec{Type: eventType, Message: message, Actor: TokenActor(tok),
		Targets: []sysevent.Ref{{ID: target.ID, Type: target.Type, AlternateID: target.AlternateID, DisplayName: target.DisplayName}},
		Org:     org}, now)
}

// eventOrg is the org an event about something in org belongs to: the
// default org for things of every org.
func (s *Server) eventOrg(org string) string {
	if org == auth.AllOrgs || org == "" {
		return s.d.DefaultOrg
	}
	return org
}

// record appends a System Log event about a change that has already
// happened: a journal that cannot take the event is logged, not reported
// to the caller.
func (s *Server) record(ctx context.Context, spec sysevent.Spec, what, id string) {
	ev, err := sysevent.New(spec, s.d.Now())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, err = s.d.Journal.Append(ctx, []event.Event{ev})
	}
	if err != nil {
		s.d.Log.Warn("record "+what+" change", what, id, "event", spec.Type, "err", err)
	}
}

// recordStreamChange appends a System Log event about a log stream change,
// as Okta does, to the stream's org.
func (s *Server) recordStreamChange(ctx context.Context, tok auth.Token, eventType string, d stream.Definition) {
	s.record(ctx, sysevent.Spec{Type: eventType, Message: streamMessages[eventType], Actor: TokenActor(tok),
		Targets: []sysevent.Ref{{ID: d.ID, Type: "LogStream", AlternateID: d.Type, DisplayName: d.Name}},
		Org:     s.eventOrg(d.Org)}, "stream", d.ID)
}

// recordTokenChange appends system.api_token.create or .revoke to the
// token's org, and logs it.
func (s *Server) recordTokenChange(ctx context.Context, tok auth.Token, eventType string, t auth.Token) {
	msg := "Create API token"
	if eventType == EvTokenRevoke {
		msg = "Revoke API token"
	}
	scopes := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = string(sc)
	}
	s.d.Log.Info(msg, "token", t.ID, "name", t.Name, "org", t.Org, "scopes", scopes, "by", tok.ID)
	s.record(ctx, sysevent.Spec{Type: eventType, Message: msg, Actor: TokenActor(tok), Targets: []sysevent.Ref{TokenTarget(t)},
		Debug: map[string]any{"tokenOrg": t.Org, "scopes": scopes}, Org: s.eventOrg(t.Org)}, "token", t.ID)
}
