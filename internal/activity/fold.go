package activity

import (
	"slices"
	"strings"
	"time"
)

// logEvent is the part of an Okta LogEvent a profile reads (parseEvent
// fills it).
type logEvent struct {
	UUID      string
	EventType string
	// Published is the record's (the journal's copy of the event's time).
	Published time.Time
	Actor     entity
	Client    struct {
		IPAddress string
		UserAgent struct{ Raw, OS, Browser string }
		Geo       struct{ Country string }
	}
	Device      *deviceInfo
	AuthContext struct{ CredentialType, ExternalSessionID string }
	// Security.ASNumber is a number from Okta, a string from some
	// producers: as written either way.
	Security       struct{ ASNumber, ASOrg string }
	Outcome        struct{ Result, Reason string }
	Target         []target
	Transaction    struct{ ID string }
	Debug          struct{ Factor, DetectionID, Level, GroupBy, Status, Note string } // debugData's members read
	DisplayMessage string
}

type deviceInfo struct{ ID, Name, OSPlatform string }

// entity is the part of an actor or a target a profile reads.
type entity struct{ ID, Type, AlternateID, DisplayName string }

type target struct {
	entity
	MethodTypeUsed string // detailEntry.methodTypeUsed
}

// isUser reports whether an actor or target type is a user.
func isUser(typ string) bool { return strings.EqualFold(typ, "User") }

// detectionPrefix starts the event types of detection events (DETECTIONS.md §6.1).
const detectionPrefix = "security.detection."

// triageType is the event type of a detection's triage (the detections
// API's acknowledge/close/reopen).
const triageType = "system.detection.update"

// folder applies one event to the profiles it concerns. get returns the
// profile of a user of the event's org, creating it; it is called once per
// user per event. users returns the users a detection of the event's org
// was folded into, note records them (nil: triage events only reach the
// users they name).
type folder struct {
	lim Limits
	in  *interner // may be nil
	// targets, when set, is reused for each event's targets (the fold
	// keeps no reference to them); nil: allocated per event.
	targets *[]target
	get     func(user string) *Profile
	users   func(detection string) []string
	note    func(detection string, users []string)
}

// fold applies the event at position pos (journal.Position), published
// at t, to the profiles of its actor (when a user), of its user targets
// and, for a detection, of the users it names. A profile that already
// covers pos is left alone: folding is idempotent by position. It returns
// false when the event is not a JSON object; a member of an unexpected
// type is only left out.
func (f folder) fold(data []byte, pos uint64, t time.Time) bool {
	var e logEvent
	if f.targets != nil {
		e.Target = (*f.targets)[:0]
	}
	ok := parseEvent(data, &e, f.in)
	if f.targets != nil {
		*f.targets = e.Target[:0] // keep what it grew to
	}
	if !ok {
		return false
	}
	e.Published = t
	var doneBuf [4]string
	done := doneBuf[:0] // users folded for this event
	apply := func(user string, fn func(p *Profile)) {
		if user == "" || slices.Contains(done, user) {
			return
		}
		done = append(done, user)
		p := f.get(user)
		if pos != 0 && pos <= p.Position {
			return // already folded
		}
		fn(p)
		p.touch(t)
		if e.EventType != triageType { // a triage names a detection, not the user
			if p.Daily == nil {
				p.Daily = new(Daily)
			}
			p.Daily.add(t)
		}
		if pos > p.Position {
			p.Position = pos
		}
	}
	if strings.HasPrefix(e.EventType, detectionPrefix) {
		users := detectionUsers(&e)
		if f.note != nil && len(users) > 0 {
			f.note(detectionIDOf(&e), users)
		}
		for _, u := range users {
			apply(u, func(p *Profile) { f.detection(p, &e) })
		}
		return true
	}
	if e.EventType == triageType {
		id := triagedID(&e)
		if id == "" {
			return true
		}
		users := detectionUsers(&e)
		if f.users != nil {
			users = append(users, f.users(id)...)
		}
		for _, u := range users {
			apply(u, func(p *Profile) { p.triage(id, &e) })
		}
		return true
	}
	actor := ""
	if isUser(e.Actor.Type) && e.Actor.ID != "" {
		actor = e.Actor.ID
		apply(actor, func(p *Profile) { f.asActor(p, &e, pos) })
	}
	for _, tg := range e.Target {
		if !isUser(tg.Type) || tg.ID == "" || tg.ID == actor {
			continue
		}
		apply(tg.ID, func(p *Profile) {
			p.AsTarget++
			if p.Login == "" {
				p.Login, p.DisplayName = tg.AlternateID, tg.DisplayName
			}
			if isSignIn(e.EventType) {
				return // named in a sign-in, not changed
			}
			p.pushAction(&p.ChangesByOthers, "changesByOthers", Action{Time: t, UUID: e.UUID, Event: e.EventType,
				Result: e.Outcome.Result, Actor: firstOf(e.Actor.AlternateID, e.Actor.ID)}, f.lim.Actions)
		})
	}
	return true
}

// asActor folds an event the user did.
func (f folder) asActor(p *Profile, e *logEvent, pos uint64) {
	t, res := e.Published, e.Outcome.Result
	p.AsActor++
	if !e.Published.Before(p.Last) || p.Login == "" {
		p.Login, p.DisplayName = e.Actor.AlternateID, e.Actor.DisplayName
	}
	ip := e.Client.IPAddress
	p.seen(KindIP, ip, "", t, pos, res, f.lim)
	p.seen(KindCountry, e.Client.Geo.Country, "", t, pos, res, f.lim)
	if asn := e.Security.ASNumber; asn != "" && asn != "0" {
		p.seen(KindASN, asn, e.Security.ASOrg, t, pos, res, f.lim)
	}
	p.seen(KindUserAgent, e.Client.UserAgent.Raw, joinNonEmpty(" / ", e.Client.UserAgent.OS, e.Client.UserAgent.Browser), t, pos, res, f.lim)
	if e.Device != nil && e.Device.ID != "" {
		p.seen(KindDevice, e.Device.ID, joinNonEmpty(" / ", e.Device.Name, e.Device.OSPlatform), t, pos, res, f.lim)
	}
	if s := e.AuthContext.ExternalSessionID; s != "" && s != "unknown" {
		p.seen(KindSession, s, ip, t, pos, res, f.lim)
	}
	st := Stamp{Time: t, UUID: e.UUID, Event: e.EventType, IP: ip, Result: res, Reason: e.Outcome.Reason}
	switch e.EventType {
	case "user.session.start", "user.authentication.verify":
		switch res {
		case "SUCCESS", "ALLOW":
			stamp(&p.LastSignIn, st)
		case "FAILURE", "DENY":
			stamp(&p.LastSignInFailure, st)
		}
	case "user.authentication.sso":
		for _, tg := range e.Target {
			if strings.EqualFold(tg.Type, "AppInstance") {
				p.seen(KindApp, firstOf(tg.ID, tg.AlternateID), firstOf(tg.DisplayName, tg.AlternateID), t, pos, res, f.lim)
			}
		}
	}
	if factor := factorOf(e); factor != "" {
		p.seen(KindFactor, factor, "", t, pos, res, f.lim)
		if e.EventType == "user.authentication.auth_via_mfa" || strings.HasPrefix(e.EventType, "user.mfa.okta_verify") {
			st.Factor = factor
			stamp(&p.LastMFA, st)
		}
	} else if e.EventType == "user.authentication.auth_via_mfa" {
		stamp(&p.LastMFA, st)
	}
	if isAdminAction(e.EventType) || hasOtherUserTarget(e) {
		var names []string
		for _, tg := range e.Target {
			names = append(names, firstOf(tg.AlternateID, tg.DisplayName, tg.ID))
		}
		p.pushAction(&p.AdminActions, "adminActions", Action{Time: t, UUID: e.UUID, Event: e.EventType, Result: res,
			Target: strings.Join(names, ", ")}, f.lim.Actions)
	}
}

// factorOf is the factor an event used, from Okta's usual places.
func factorOf(e *logEvent) string {
	if v := e.Debug.Factor; v != "" {
		return v
	}
	for _, tg := range e.Target {
		if v := tg.MethodTypeUsed; v != "" {
			return v
		}
	}
	if strings.HasPrefix(e.EventType, "user.mfa.") || e.EventType == "user.authentication.auth_via_mfa" ||
		e.EventType == "user.authentication.verify" {
		return e.AuthContext.CredentialType
	}
	return ""
}

// isSignIn reports whether an event type is a sign-in step (the actor
// signing in, whatever its targets: Okta names the user signed in, and
// fixtures other users, as targets of these).
func isSignIn(eventType string) bool {
	return strings.HasPrefix(eventType, "user.session.start") || strings.HasPrefix(eventType, "user.authentication.")
}

// hasOtherUserTarget reports whether the actor acted on another user
// (other than by signing in).
func hasOtherUserTarget(e *logEvent) bool {
	if isSignIn(e.EventType) {
		return false
	}
	for _, tg := range e.Target {
		if isUser(tg.Type) && tg.ID != "" && tg.ID != e.Actor.ID {
			return true
		}
	}
	return false
}

// detectionUsers are the users a detection event is about: its User
// targets, its actor when a user, and the user of its group key
// (debugData.groupBy "actor.id=00u…" or "target.id=…").
func detectionUsers(e *logEvent) []string {
	var out []string
	if isUser(e.Actor.Type) && e.Actor.ID != "" {
		out = append(out, e.Actor.ID)
	}
	for _, tg := range e.Target {
		if isUser(tg.Type) && tg.ID != "" {
			out = append(out, tg.ID)
		}
	}
	for _, part := range strings.Split(e.Debug.GroupBy, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && v != "" && (k == "actor.id" || k == "target.id") {
			out = append(out, v)
		}
	}
	return out
}

// detectionIDOf is a detection event's detection id.
func detectionIDOf(e *logEvent) string { return firstOf(e.Debug.DetectionID, e.Transaction.ID, e.UUID) }

// triagedID is the detection a triage event changes: its Detection target.
func triagedID(e *logEvent) string {
	for _, tg := range e.Target {
		if strings.EqualFold(tg.Type, "Detection") && tg.ID != "" {
			return tg.ID
		}
	}
	return ""
}

// triage applies a triage event to the user's copy of detection id (a
// profile without it is left as it is: the detection was dropped at the
// limit, or never concerned the user).
func (p *Profile) triage(id string, e *logEvent) {
	st := strings.ToUpper(e.Debug.Status)
	switch st {
	case DetectionOpen, DetectionAcknowledged, DetectionClosed:
	default:
		return
	}
	for i := range p.Detections {
		d := &p.Detections[i]
		if d.ID == id {
			d.Status, d.Note, d.Updated = st, e.Debug.Note, e.Published
			return
		}
	}
}

// detection folds a detection event into the profile of a user it names.
func (f folder) detection(p *Profile, e *logEvent) {
	id := detectionIDOf(e)
	rule := strings.TrimPrefix(e.EventType, detectionPrefix)
	for i := range p.Detections {
		d := &p.Detections[i]
		if d.ID != id {
			continue
		}
		d.Count++
		if e.Published.After(d.Last) {
			d.Last, d.UUID = e.Published, e.UUID
		}
		if e.Published.Before(d.First) {
			d.First = e.Published
		}
		return
	}
	d := Detection{ID: id, Rule: rule, Title: e.DisplayMessage, Level: e.Debug.Level,
		First: e.Published, Last: e.Published, UUID: e.UUID, Count: 1, Status: DetectionOpen}
	p.Detections = insertNewest(p.Detections, d, func(d Detection) time.Time { return d.Last })
	if len(p.Detections) > f.lim.Detections {
		p.Detections = p.Detections[:f.lim.Detections]
		p.evict("detections")
	}
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// joinNonEmpty is a and b joined with sep, or the one that is not empty
// (a user agent's OS and browser, a device's name and platform).
func joinNonEmpty(sep, a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + sep + b
}
