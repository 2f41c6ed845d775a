package source

import (
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// Event types of the health events a source raises about itself, routable
// like any event (Okta-style names; Okta has none for this).
const (
	EventFailing   = "system.log_source.health.failing"
	EventSilent    = "system.log_source.health.silent"
	EventRecovered = "system.log_source.health.recovered"
)

// HealthEvent describes the LogEvent a source raises when its health
// changes (health is one of HealthFailing, HealthSilent, HealthRecovered),
// for sysevent to build: the actor is the source, the outcome FAILURE
// (SUCCESS on recovery) with detail as its reason, severity WARN (INFO on
// recovery). It belongs to the source's org.
func HealthEvent(d Definition, health, detail string, snap Snapshot) sysevent.Spec {
	typ, msg, sev, failure := EventFailing, "Log source is failing", sysevent.SeverityWarn, true
	switch health {
	case HealthSilent:
		typ, msg = EventSilent, "Log source has been silent"
	case HealthRecovered:
		typ, msg, sev, failure = EventRecovered, "Log source recovered", sysevent.SeverityInfo, false
	}
	self := sysevent.Ref{ID: d.ID, Type: "LogSource", AlternateID: d.Type, DisplayName: d.Name}
	debug := map[string]any{"detail": detail, "lastError": snap.LastError, "lastErrorKind": snap.LastErrorKind,
		"eventsPulled": snap.Events}
	if !snap.LastSuccessAt.IsZero() {
		debug["lastSuccessAt"] = snap.LastSuccessAt.UTC().Format(event.TimeFormat)
	}
	if !snap.LastEventPublished.IsZero() {
		debug["lastEventPublished"] = snap.LastEventPublished.UTC().Format(event.TimeFormat)
	}
	return sysevent.Spec{Type: typ, Severity: sev, Message: msg, Actor: self, Targets: []sysevent.Ref{self},
		Failure: failure, Reason: detail, Debug: debug, Org: d.Org}
}
