package api

import (
	"context"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// eventOrg is the org an event about something in org belongs to: the
// default org for things of every org.
func (s *Server) eventOrg(org string) string { return sysevent.OrgFor(org, s.d.DefaultOrg) }

// record appends a System Log event about a change that has already
// happened: a journal that cannot take the event is logged, not reported
// to the caller.
func (s *Server) record(ctx context.Context, spec sysevent.Spec, what, id string) {
	if err := sysevent.Write(ctx, s.d.Journal, spec, s.d.Now()); err != nil {
		s.d.Log.Warn("record "+what+" change", what, id, "event", spec.Type, "err", err)
	}
}

// recordTokenChange appends system.api_token.create or .revoke to the
// token's org, and logs it.
func (s *Server) recordTokenChange(ctx context.Context, tok auth.Token, eventType string, t auth.Token) {
	msg := "Create API token"
	if eventType == sysevent.TokenRevoke {
		msg = "Revoke API token"
	}
	scopes := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = string(sc)
	}
	s.d.Log.Info(msg, "token", t.ID, "name", t.Name, "org", t.Org, "scopes", scopes, "by", tok.ID)
	s.record(ctx, sysevent.Spec{Type: eventType, Message: msg, Actor: sysevent.Token(tok), Targets: []sysevent.Ref{sysevent.Token(t)},
		Debug: map[string]any{"tokenOrg": t.Org, "scopes": scopes}, Org: s.eventOrg(t.Org)}, "token", t.ID)
}
