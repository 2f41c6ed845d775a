package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/stream"
)

// Lifecycle event types, Okta's names for log stream changes (OKTA.md §3.4).
const (
	evStreamCreate     = "system.log_stream.lifecycle.create"
	evStreamUpdate     = "system.log_stream.lifecycle.update"
	evStreamActivate   = "system.log_stream.lifecycle.activate"
	evStreamDeactivate = "system.log_stream.lifecycle.deactivate"
	evStreamDelete     = "system.log_stream.lifecycle.delete"
)

var streamMessages = map[string]string{
	evStreamCreate:     "Create log stream",
	evStreamUpdate:     "Update log stream",
	evStreamActivate:   "Activate log stream",
	evStreamDeactivate: "Deactivate log stream",
	evStreamDelete:     "Delete log stream",
}

type auditRef struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// auditEvent is the LogEvent auditstream writes about its own changes.
type auditEvent struct {
	UUID           string            `json:"uuid"`
	Published      string            `json:"published"`
	EventType      string            `json:"eventType"`
	Version        string            `json:"version"`
	Severity       string            `json:"severity"`
	DisplayMessage string            `json:"displayMessage"`
	Actor          auditRef          `json:"actor"`
	Outcome        map[string]string `json:"outcome"`
	Target         []auditRef        `json:"target"`
}

// Target names what a change was made to, in a lifecycle event.
type Target struct {
	ID, Type, AlternateID, DisplayName string
}

// LifecycleEvent builds the System Log event auditstream writes about a
// change an API caller made (Okta's shape: actor the token, one target).
func LifecycleEvent(tok auth.Token, eventType, message string, target Target, org string, now time.Time) (event.Event, error) {
	ev := auditEvent{
		UUID: uuid.NewString(), Published: now.UTC().Format(event.TimeFormat), EventType: eventType, Version: "0",
		Severity: "INFO", DisplayMessage: message,
		Actor:   auditRef{ID: tok.ID, Type: "Token", AlternateID: tok.Name, DisplayName: tok.Name},
		Outcome: map[string]string{"result": "SUCCESS"},
		Target:  []auditRef{{ID: target.ID, Type: target.Type, AlternateID: target.AlternateID, DisplayName: target.DisplayName}},
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return event.Event{}, err
	}
	return event.Parse(raw, org, now)
}

// recordStreamChange appends a System Log event about a log stream change,
// as Okta does, to the stream's org. The change has already happened: a
// journal that cannot take the event is logged, not reported to the caller.
func (s *Server) recordStreamChange(ctx context.Context, tok auth.Token, eventType string, d stream.Definition) {
	org := d.Org
	if org == auth.AllOrgs || org == "" {
		org = s.d.DefaultOrg
	}
	ev, err := LifecycleEvent(tok, eventType, streamMessages[eventType],
		Target{ID: d.ID, Type: "LogStream", AlternateID: d.Type, DisplayName: d.Name}, org, s.d.Now())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, err = s.d.Journal.Append(ctx, []event.Event{ev})
	}
	if err != nil {
		s.d.Log.Warn("record log stream change", "stream", d.ID, "event", eventType, "err", err)
	}
}
