package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/jsonmap"
)

// DetectionPrefix starts the eventType of every detection event.
const DetectionPrefix = "security.detection."

// DetectionSource is the envelope source of detection events.
const DetectionSource = "auditstream.detect"

// maxText bounds each string of a Notice: a notification is read by
// people, and a hostile producer must not make it exceed a destination's
// message limit.
const maxText = 500

// Principal is an actor or a target of an event.
type Principal struct {
	ID          string `json:"id,omitempty"`
	Type        string `json:"type,omitempty"`
	AlternateID string `json:"alternateId,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Name is how the principal reads in a message: its display name and
// alternate id, or whichever it has.
func (p Principal) Name() string {
	switch {
	case p.DisplayName != "" && p.AlternateID != "" && p.DisplayName != p.AlternateID:
		return p.DisplayName + " (" + p.AlternateID + ")"
	case p.AlternateID != "":
		return p.AlternateID
	case p.DisplayName != "":
		return p.DisplayName
	default:
		return p.ID
	}
}

// Notice is what a notification says about one event. For a detection
// event (Detection true) the rule, group, count and window fields are set
// from its rule target and debugData (DETECTIONS.md §6.1); for any other
// event they are empty and Title is its display message.
type Notice struct {
	// Detection reports whether the event is a detection.
	Detection bool
	// ID names the notification: the detection id (debugData.detectionId,
	// else transaction.id) of a detection, the uuid of another event.
	// PagerDuty's dedup_key.
	ID string
	// UUID, Org, EventType, Published and Severity are the event's.
	UUID, Org, EventType, Published, Severity string
	// Title is the rule's title, or the event's display message (its
	// eventType when it has none).
	Title string
	// Level is the rule's level (informational, low, medium, high,
	// critical); for another event it is derived from Severity.
	Level string
	// Rule fields of a detection.
	RuleID, RuleName, RuleFormat, Pack, Author, License string
	Tags                                                []string
	// GroupBy is the group key ("actor.id=00u1,client.ipAddress=…").
	GroupBy string
	// Count is how many events matched; Value the correlation's value
	// (value_count, value_sum) when it has one.
	Count, Value string
	// CorrelationType is event_count, value_count, temporal… ("" for a
	// single-event rule).
	CorrelationType string
	// WindowStart and WindowEnd bound the matched events' time.
	WindowStart, WindowEnd string
	// SuppressedCount counts matches suppressed before this detection.
	SuppressedCount string
	// Actor is the event's actor; Users are its targets of type User.
	Actor Principal
	Users []Principal
	// Events are the uuids of the contributing events a detection
	// references.
	Events []string
	// Outcome and Reason are the event's outcome.
	Outcome, Reason string
	// IP, Country, City, ASN and UserAgent describe the client.
	IP, Country, City, ASN, UserAgent string

	// Event is the whole event, decoded, for templates.
	Event map[string]any
}

type logEvent struct {
	UUID           string    `json:"uuid"`
	Published      string    `json:"published"`
	EventType      string    `json:"eventType"`
	Severity       string    `json:"severity"`
	DisplayMessage string    `json:"displayMessage"`
	Actor          Principal `json:"actor"`
	Client         struct {
		IPAddress string `json:"ipAddress"`
		UserAgent struct {
			RawUserAgent string `json:"rawUserAgent"`
		} `json:"userAgent"`
		GeographicalContext struct {
			Country string `json:"country"`
			City    string `json:"city"`
		} `json:"geographicalContext"`
	} `json:"client"`
	SecurityContext struct {
		ASNumber any    `json:"asNumber"`
		ASOrg    string `json:"asOrg"`
	} `json:"securityContext"`
	Outcome struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
	Target []struct {
		Principal
		DetailEntry map[string]any `json:"detailEntry"`
	} `json:"target"`
	Transaction struct {
		ID string `json:"id"`
	} `json:"transaction"`
	DebugContext struct {
		DebugData map[string]any `json:"debugData"`
	} `json:"debugContext"`
}

// Parse reads r into a Notice. It never fails: an event that is not a
// JSON object (which the journal does not store) gives a Notice with the
// record's own uuid, type and time.
func Parse(r event.Record) Notice {
	n := Notice{UUID: r.UUID, Org: r.Org, EventType: r.EventType}
	if !r.Published.IsZero() {
		n.Published = r.Published.UTC().Format(event.TimeFormat)
	}
	var ev logEvent
	if err := json.Unmarshal(r.Data, &ev); err != nil {
		ev = logEvent{}
	}
	_ = json.Unmarshal(r.Data, &n.Event)
	n.UUID = clip(cmpOr(ev.UUID, n.UUID))
	n.EventType = clip(cmpOr(ev.EventType, n.EventType))
	n.Published = clip(cmpOr(ev.Published, n.Published))
	n.Severity = clip(ev.Severity)
	n.Title = clip(cmpOr(ev.DisplayMessage, n.EventType, "event"))
	n.Actor = clipPrincipal(ev.Actor)
	n.Outcome, n.Reason = clip(ev.Outcome.Result), clip(ev.Outcome.Reason)
	n.IP = clip(ev.Client.IPAddress)
	n.Country, n.City = clip(ev.Client.GeographicalContext.Country), clip(ev.Client.GeographicalContext.City)
	n.UserAgent = clip(ev.Client.UserAgent.RawUserAgent)
	if asn := jsonmap.Scalar(ev.SecurityContext.ASNumber); asn != "" {
		n.ASN = clip(strings.TrimSpace("AS" + asn + " " + ev.SecurityContext.ASOrg))
	}
	n.ID = n.UUID
	n.Detection = strings.HasPrefix(n.EventType, DetectionPrefix) || r.Source == DetectionSource
	debug := func(k string) string { return clip(jsonmap.Scalar(ev.DebugContext.DebugData[k])) }
	for _, t := range ev.Target {
		switch t.Type {
		case "DetectionRule":
			if !n.Detection || n.RuleID != "" {
				continue
			}
			n.RuleID, n.RuleName = clip(t.ID), clip(t.AlternateID)
			n.Title = clip(cmpOr(t.DisplayName, n.Title))
			d := func(k string) string { return clip(jsonmap.Scalar(t.DetailEntry[k])) }
			n.Level, n.RuleFormat, n.Pack = d("level"), d("ruleFormat"), d("pack")
			n.Author, n.License = d("author"), d("license")
			n.Tags = strings.Fields(d("tags"))
		case "LogEvent":
			if n.Detection && len(n.Events) < 50 {
				n.Events = append(n.Events, clip(t.ID))
			}
		case "User":
			if len(n.Users) < 10 {
				n.Users = append(n.Users, clipPrincipal(t.Principal))
			}
		}
	}
	if n.Detection {
		n.ID = clip(cmpOr(debug("detectionId"), ev.Transaction.ID, n.UUID))
		n.RuleID = cmpOr(n.RuleID, debug("ruleId"))
		n.RuleFormat = cmpOr(n.RuleFormat, debug("ruleFormat"))
		n.Level = cmpOr(n.Level, debug("level"))
		n.Author = cmpOr(n.Author, debug("author"))
		n.License = cmpOr(n.License, debug("license"))
		n.RuleName = cmpOr(n.RuleName, strings.TrimPrefix(n.EventType, DetectionPrefix))
		n.GroupBy, n.Count, n.CorrelationType = debug("groupBy"), debug("count"), debug("correlationType")
		if v := debug("value"); v != "" && v != "0" {
			n.Value = v
		}
		n.WindowStart, n.WindowEnd, n.SuppressedCount = debug("windowStart"), debug("windowEnd"), debug("suppressedCount")
	}
	n.Level = strings.ToLower(cmpOr(n.Level, levelOf(n.Severity)))
	return n
}

// levelOf maps a LogEvent severity to a Sigma level, the reverse of the
// detection engine's mapping (DETECTIONS.md §6.1).
func levelOf(severity string) string {
	switch strings.ToUpper(severity) {
	case "ERROR":
		return "high"
	case "WARN":
		return "medium"
	case "DEBUG":
		return "informational"
	default:
		return "low"
	}
}

// Headline is the first line of a notification: the level in capitals
// and the title for a detection, the event type and title for another
// event.
func (n Notice) Headline() string {
	if n.Detection {
		return strings.ToUpper(n.Level) + ": " + n.Title
	}
	if n.Title == n.EventType {
		return n.EventType
	}
	return n.EventType + ": " + n.Title
}

// Fact is one labelled value of a notification.
type Fact struct {
	Name, Value string
}

// Facts are the labelled values a notification shows, in order, without
// empty ones: for a detection its level, org, group, count, window, actor,
// users, client and rule; for another event its org, time, actor,
// outcome, client and targets. The rule's author and licence are in
// Attribution.
func (n Notice) Facts() []Fact {
	var out []Fact
	add := func(name, value string) {
		if value != "" {
			out = append(out, Fact{name, value})
		}
	}
	client := joinNonEmpty(", ", n.IP, joinNonEmpty(", ", n.City, n.Country), n.ASN)
	var users []string
	for _, u := range n.Users {
		users = append(users, u.Name())
	}
	if n.Detection {
		add("Level", n.Level)
		add("Org", n.Org)
		add("Group", n.GroupBy)
		count := n.Count
		if n.Value != "" {
			count = joinNonEmpty(", ", count, "value "+n.Value)
		}
		add("Count", count)
		add("Window", window(n.WindowStart, n.WindowEnd))
		if n.Actor.Type != "SystemPrincipal" {
			add("Actor", n.Actor.Name())
		}
		add("Users", strings.Join(users, ", "))
		add("Client", client)
		add("Rule", joinNonEmpty(" ", n.RuleName, paren(n.RuleFormat)))
		if n.SuppressedCount != "" && n.SuppressedCount != "0" {
			add("Suppressed before", n.SuppressedCount)
		}
		return out
	}
	add("Org", n.Org)
	add("Time", n.Published)
	add("Severity", n.Severity)
	add("Actor", n.Actor.Name())
	add("Outcome", joinNonEmpty(": ", n.Outcome, n.Reason))
	add("Client", client)
	add("Users", strings.Join(users, ", "))
	return out
}

// Attribution is the closing line of a notification: for a detection the
// rule's author and licence (the Detection Rule License requires the
// author in every alert raised from a Sigma rule) and the detection id;
// for another event its uuid.
func (n Notice) Attribution() string {
	if !n.Detection {
		return "event " + n.UUID
	}
	s := "detection " + n.ID
	if n.Author != "" {
		s = "rule by " + n.Author + " · " + s
	}
	if n.License != "" {
		s = n.License + " · " + s
	}
	return s
}

// Line is the notice in one line, as a digest lists it.
func (n Notice) Line() string {
	parts := []string{n.Headline()}
	if n.Detection {
		parts = append(parts, n.GroupBy)
		if n.Count != "" {
			parts = append(parts, "count "+n.Count)
		}
	} else {
		parts = append(parts, n.Actor.Name())
	}
	parts = append(parts, n.Published, n.ID)
	return joinNonEmpty(" · ", parts...)
}

// Detail is the middle of a chat digest's line about n, between its
// headline and its attribution: the group, count and time of a detection;
// actor, outcome and time of another event.
func (n Notice) Detail() []string {
	var out []string
	for _, f := range n.Facts() {
		switch f.Name {
		case "Group", "Count", "Actor", "Outcome":
			out = append(out, strings.ToLower(f.Name)+" "+f.Value)
		}
	}
	if n.Published != "" {
		out = append(out, n.Published)
	}
	return out
}

// Cut bounds s to n characters, the last being "…" when s is cut (chat
// destinations count characters, not bytes).
func Cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func window(start, end string) string {
	switch {
	case start != "" && end != "" && start != end:
		return start + " – " + end
	default:
		return cmpOr(start, end)
	}
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// clip bounds a string from an event and makes it one line.
func clip(s string) string {
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	if len(s) <= maxText {
		return s
	}
	cut := maxText
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func clipPrincipal(p Principal) Principal {
	return Principal{ID: clip(p.ID), Type: clip(p.Type), AlternateID: clip(p.AlternateID), DisplayName: clip(p.DisplayName)}
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Digest is a period's notices summarised in one message.
type Digest struct {
	// Org is the org of the notices ("" when they are of several).
	Org string
	// Notices are the period's notices, in journal order.
	Notices []Notice
	// Detections counts the detections among them.
	Detections int
	// Levels counts notices per level, highest first.
	Levels []LevelCount
	// From and To are the first and last published times.
	From, To string
	// Period is the stream's digest period ("5m0s").
	Period string
}

// LevelCount is how many notices of a digest have a level.
type LevelCount struct {
	Level string
	Count int
}

// levels orders levels from the most severe.
var levels = []string{"critical", "high", "medium", "low", "informational"}

// NewDigest summarises notices.
func NewDigest(notices []Notice, period time.Duration) Digest {
	d := Digest{Notices: notices, Period: period.String()}
	counts := map[string]int{}
	for i, n := range notices {
		if i == 0 {
			d.Org = n.Org
		} else if n.Org != d.Org {
			d.Org = ""
		}
		if n.Detection {
			d.Detections++
		}
		counts[n.Level]++
		if n.Published != "" && (d.From == "" || n.Published < d.From) {
			d.From = n.Published
		}
		if n.Published > d.To {
			d.To = n.Published
		}
	}
	for _, l := range levels {
		if c := counts[l]; c > 0 {
			d.Levels = append(d.Levels, LevelCount{l, c})
			delete(counts, l)
		}
	}
	for l, c := range counts {
		d.Levels = append(d.Levels, LevelCount{l, c})
	}
	return d
}

// Headline is the first line of a digest message.
func (d Digest) Headline() string {
	what := "events"
	if d.Detections == len(d.Notices) {
		what = "detections"
	}
	s := fmt.Sprintf("%d %s", len(d.Notices), what)
	if d.Org != "" {
		s += " in " + d.Org
	}
	return s + " (digest)"
}

// Summary counts the digest's notices per level ("2 high, 1 medium") and
// gives their time range.
func (d Digest) Summary() string {
	var parts []string
	for _, l := range d.Levels {
		parts = append(parts, fmt.Sprintf("%d %s", l.Count, l.Level))
	}
	s := strings.Join(parts, ", ")
	if w := window(d.From, d.To); w != "" {
		s += " · " + w
	}
	return s
}

// compactJSON is b without insignificant white space, or b when it is not
// JSON.
func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
