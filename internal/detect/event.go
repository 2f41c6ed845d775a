package detect

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/event"
)

// EventTypePrefix starts the eventType of every detection event.
const EventTypePrefix = "security.detection."

// maxRefs bounds the contributing events a detection event references
// (rsigma's default cap is 10): the full events are one query away.
const maxRefs = 10

type ref struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	AlternateID string            `json:"alternateId,omitempty"`
	DisplayName string            `json:"displayName,omitempty"`
	DetailEntry map[string]string `json:"detailEntry,omitempty"`
}

type detectionEvent struct {
	UUID                  string            `json:"uuid"`
	Published             string            `json:"published"`
	EventType             string            `json:"eventType"`
	Version               string            `json:"version"`
	Severity              string            `json:"severity"`
	LegacyEventType       *string           `json:"legacyEventType"`
	DisplayMessage        string            `json:"displayMessage"`
	Actor                 json.RawMessage   `json:"actor"`
	Client                json.RawMessage   `json:"client,omitempty"`
	SecurityContext       json.RawMessage   `json:"securityContext,omitempty"`
	AuthenticationContext json.RawMessage   `json:"authenticationContext,omitempty"`
	Request               json.RawMessage   `json:"request,omitempty"`
	Outcome               map[string]string `json:"outcome"`
	Target                []ref             `json:"target"`
	Transaction           map[string]any    `json:"transaction"`
	DebugContext          map[string]any    `json:"debugContext"`
}

// parts of the completing event copied into the detection.
type sourceParts struct {
	Actor                 json.RawMessage `json:"actor"`
	Client                json.RawMessage `json:"client"`
	SecurityContext       json.RawMessage `json:"securityContext"`
	AuthenticationContext json.RawMessage `json:"authenticationContext"`
	Request               json.RawMessage `json:"request"`
}

var systemActor = json.RawMessage(`{"id":"auditstream","type":"SystemPrincipal","alternateId":"system@auditstream","displayName":"auditstream"}`)

// Severity maps a Sigma level onto LogEvent severity (DETECTIONS.md §6.1).
func Severity(level string) string {
	switch strings.ToLower(level) {
	case "informational", "low":
		return "INFO"
	case "high", "critical":
		return "ERROR"
	}
	return "WARN"
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// buildDetection makes the detection event of d. last is the event that
// completed the match (nil when the detection was decided at a window's
// close): its client, security context and request are copied, and its
// actor becomes the detection's when the rule is about one actor. depth is
// the length of the chain of detections it ends (1: raised from a
// non-detection event). Everything
// comes from d, the rule and last, so replaying the journal builds the same
// bytes.
func buildDetection(d correlate.Detection, info Info, corrType string, last *event.Record, depth int) (event.Record, error) {
	var src sourceParts
	if last != nil {
		_ = json.Unmarshal(last.Data, &src) // a malformed event was not matched
	}
	level := cmpOr(info.Level, "medium")
	ev := detectionEvent{
		UUID: d.ID, Published: rfc3339(d.Time), EventType: EventTypePrefix + info.Slug, Version: "0",
		Severity: Severity(level), DisplayMessage: info.Title,
		Client: nonNull(src.Client), SecurityContext: nonNull(src.SecurityContext),
		AuthenticationContext: nonNull(src.AuthenticationContext), Request: nonNull(src.Request),
		Outcome: map[string]string{"result": "UNKNOWN", "reason": level + ": " + info.Title},
	}
	byActor := corrType == string(correlate.Single)
	var groupBy []string
	for _, g := range d.Group {
		v := g.Value
		if g.Null {
			v = "null"
		}
		groupBy = append(groupBy, g.Field+"="+v)
		if strings.HasPrefix(g.Field, "actor.") && !g.Null {
			byActor = true
		}
	}
	ev.Actor = systemActor
	if byActor && len(nonNull(src.Actor)) > 0 {
		ev.Actor = src.Actor
	}
	detail := map[string]string{"ruleFormat": info.Format, "pack": info.Pack, "level": level, "status": info.RuleStatus,
		"author": info.Author, "license": info.License, "tags": strings.Join(info.Tags, " "),
		"references": strings.Join(info.References, " "), "falsePositives": strings.Join(info.FalsePositives, " ")}
	for k, v := range detail {
		if v == "" && k != "author" {
			delete(detail, k)
		}
	}
	ev.Target = append(ev.Target, ref{ID: info.ID, Type: "DetectionRule", AlternateID: info.Slug, DisplayName: info.Title, DetailEntry: detail})
	if !byActor && len(nonNull(src.Actor)) > 0 {
		var u ref
		if json.Unmarshal(src.Actor, &u) == nil && u.ID != "" {
			ev.Target = append(ev.Target, ref{ID: u.ID, Type: cmpOr(u.Type, "User"), AlternateID: u.AlternateID, DisplayName: u.DisplayName})
		}
	}
	refs := d.Events
	if len(refs) > maxRefs {
		refs = slices.Concat(refs[:maxRefs/2], refs[len(refs)-maxRefs/2:])
	}
	for _, u := range refs {
		ev.Target = append(ev.Target, ref{ID: u, Type: "LogEvent"})
	}
	first, lastUUID := "", ""
	if len(d.Events) > 0 {
		first, lastUUID = d.Events[0], d.Events[len(d.Events)-1]
	}
	ev.Transaction = map[string]any{"type": "JOB", "id": d.ID, "detail": map[string]any{}}
	debug := map[string]string{
		"detectionId": d.ID, "ruleId": info.ID, "ruleFormat": info.Format, "level": level, "correlationType": corrType,
		"groupBy": strings.Join(groupBy, ","), "count": strconv.Itoa(d.Count),
		"value": strconv.FormatFloat(d.Value, 'g', -1, 64), "windowStart": rfc3339(d.WindowStart),
		"windowEnd": rfc3339(d.WindowEnd), "firstEventUuid": first, "lastEventUuid": lastUUID,
		"suppressedCount": strconv.Itoa(d.SuppressedBefore), "author": info.Author, "license": info.License,
		"chainDepth": strconv.Itoa(depth),
	}
	if d.SummaryOf != "" {
		// A suppression summary: the firings suppressed after detection
		// SummaryOf, in [windowStart, windowEnd).
		debug["summaryOf"] = d.SummaryOf
		debug["suppressedCount"] = strconv.Itoa(d.Count)
		ev.DisplayMessage = info.Title + " (" + strconv.Itoa(d.Count) + " suppressed)"
	}
	ev.DebugContext = map[string]any{"debugData": debug}
	data, err := json.Marshal(ev)
	if err != nil {
		return event.Record{}, err
	}
	return event.Record{UUID: d.ID, Org: d.Org, EventType: ev.EventType, Published: d.Time, Source: DetectSource, Data: data}, nil
}

func nonNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return raw
}
