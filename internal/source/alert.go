package source

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/event"
)

// Event types of the health events a source raises about itself, routable
// like any event (Okta-style names; Okta has none for this).
const (
	EventFailing   = "system.log_source.health.failing"
	EventSilent    = "system.log_source.health.silent"
	EventRecovered = "system.log_source.health.recovered"
)

type ref struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

type healthEvent struct {
	UUID           string            `json:"uuid"`
	Published      string            `json:"published"`
	EventType      string            `json:"eventType"`
	Version        string            `json:"version"`
	Severity       string            `json:"severity"`
	DisplayMessage string            `json:"displayMessage"`
	Actor          ref               `json:"actor"`
	Outcome        map[string]string `json:"outcome"`
	Target         []ref             `json:"target"`
	DebugContext   map[string]any    `json:"debugContext"`
}

// HealthEvent builds the LogEvent a source raises when its health changes
// (health is one of HealthFailing, HealthSilent, HealthRecovered): the
// actor is the source, the outcome FAILURE (SUCCESS on recovery), severity
// WARN (INFO on recovery). It belongs to the source's org.
func HealthEvent(d Definition, health, detail string, snap Snapshot, now time.Time) (event.Event, error) {
	typ, msg, sev, result := EventFailing, "Log source is failing", "WARN", "FAILURE"
	switch health {
	case HealthSilent:
		typ, msg = EventSilent, "Log source has been silent"
	case HealthRecovered:
		typ, msg, sev, result = EventRecovered, "Log source recovered", "INFO", "SUCCESS"
	}
	self := ref{ID: d.ID, Type: "LogSource", AlternateID: d.Type, DisplayName: d.Name}
	debug := map[string]any{"detail": detail, "lastError": snap.LastError, "lastErrorKind": snap.LastErrorKind,
		"eventsPulled": snap.Events}
	if !snap.LastSuccessAt.IsZero() {
		debug["lastSuccessAt"] = snap.LastSuccessAt.UTC().Format(event.TimeFormat)
	}
	if !snap.LastEventPublished.IsZero() {
		debug["lastEventPublished"] = snap.LastEventPublished.UTC().Format(event.TimeFormat)
	}
	ev := healthEvent{UUID: uuid.NewString(), Published: now.UTC().Format(event.TimeFormat), EventType: typ,
		Version: "0", Severity: sev, DisplayMessage: msg, Actor: self,
		Outcome:      map[string]string{"result": result, "reason": detail},
		Target:       []ref{self},
		DebugContext: map[string]any{"debugData": debug}}
	raw, err := json.Marshal(ev)
	if err != nil {
		return event.Event{}, err
	}
	return event.Parse(raw, d.Org, now)
}
