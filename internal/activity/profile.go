package activity

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// Limits bound one profile. Every list keeps at most its limit of values;
// the stalest (oldest last sighting) goes first and is counted in
// Profile.Evicted, so a full list says so.
type Limits struct {
	// Items bounds each top-N list (IPs, countries, ASNs, user agents,
	// devices, apps, factors, sessions).
	Items int
	// Actions bounds the admin actions and the changes by others kept
	// (newest kept).
	Actions int
	// Detections bounds the open detections kept (newest kept).
	Detections int
}

// Default limits: DETECTIONS.md §7.3's 50 per list, about 20 KB for a
// profile at every cap, most far less.
const (
	DefaultItems      = 50
	DefaultActions    = 50
	DefaultDetections = 50
)

// withDefaults fills zero limits.
func (l Limits) withDefaults() Limits {
	if l.Items <= 0 {
		l.Items = DefaultItems
	}
	if l.Actions <= 0 {
		l.Actions = DefaultActions
	}
	if l.Detections <= 0 {
		l.Detections = DefaultDetections
	}
	return l
}

// Kind names one top-N list of a profile, for FirstSeen.
type Kind string

// The kinds of value a profile keeps first and last sightings of.
const (
	KindIP        Kind = "ip"
	KindCountry   Kind = "country"
	KindASN       Kind = "asn"
	KindUserAgent Kind = "userAgent"
	KindDevice    Kind = "device"
	KindApp       Kind = "app"
	KindFactor    Kind = "factor"
	KindSession   Kind = "session"
)

// Kinds lists every Kind, in the order profiles print them.
var Kinds = []Kind{KindIP, KindCountry, KindASN, KindUserAgent, KindDevice, KindApp, KindFactor, KindSession}

// Profile is what auditstream knows of one user of one org, folded from
// the journal. Times are event times (published).
type Profile struct {
	Org    string `json:"org"`
	UserID string `json:"userId"`
	// Login and DisplayName are the latest seen (logins can be renamed;
	// the id is the key).
	Login       string `json:"login,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	// Position is the journal position (journal.Position) of the newest
	// event folded into the profile: an event at or below it is not
	// folded again (redelivery, a restart from an older checkpoint).
	Position uint64 `json:"position"`
	// AsActor and AsTarget count the events folded with the user as
	// actor and as a target.
	AsActor  int64     `json:"asActor"`
	AsTarget int64     `json:"asTarget"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`

	LastSignIn        *Stamp `json:"lastSignIn,omitempty"`
	LastSignInFailure *Stamp `json:"lastSignInFailure,omitempty"`
	LastMFA           *Stamp `json:"lastMfa,omitempty"`

	// Lists holds the top-N lists by Kind.
	Lists map[Kind][]Item `json:"lists"`
	// AdminActions are the user's administrative actions, newest first.
	AdminActions []Action `json:"adminActions"`
	// ChangesByOthers are events of other actors with the user as a
	// target (password and MFA resets, lifecycle, privileges), newest
	// first.
	ChangesByOthers []Action `json:"changesByOthers"`
	// Detections are the detections about the user (security.detection.*
	// events naming the user as actor, target or group), newest first.
	Detections []Detection `json:"detections"`
	// Evicted counts, per list (a Kind, "adminActions",
	// "changesByOthers", "detections"), the values dropped at its limit.
	Evicted map[string]int64 `json:"evicted,omitempty"`
	// Daily counts the user's events per day (UTC) over the last
	// DailyDays days; nil in a profile stored before it was kept.
	Daily *Daily `json:"dailyCounts,omitempty"`

	// onEvict, when set, is told of each eviction (the store's metric).
	onEvict func(list string)
}

// Stamp is one notable event: when, its uuid, where from, its outcome.
type Stamp struct {
	Time   time.Time `json:"time"`
	UUID   string    `json:"uuid"`
	Event  string    `json:"eventType"`
	IP     string    `json:"ip,omitempty"`
	Result string    `json:"result,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Factor string    `json:"factor,omitempty"`
}

// Item is one value of a top-N list with its first and last sighting.
type Item struct {
	Value string `json:"value"`
	// Label describes the value (an ASN's organisation, an app's name).
	Label string    `json:"label,omitempty"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// FirstPos is the journal position of the first sighting.
	FirstPos uint64 `json:"firstPos"`
	Count    int64  `json:"count"`
	OK       int64  `json:"ok"`
	Fail     int64  `json:"fail"`
}

// Action is an event in the admin actions or the changes by others.
type Action struct {
	Time   time.Time `json:"time"`
	UUID   string    `json:"uuid"`
	Event  string    `json:"eventType"`
	Result string    `json:"result,omitempty"`
	// Actor is the actor's alternateId (changes by others); Target the
	// targets' names (admin actions).
	Actor  string `json:"actor,omitempty"`
	Target string `json:"target,omitempty"`
}

// Detection is a detection raised about the user.
type Detection struct {
	// ID is the detection id (transaction.id of the detection event), the
	// same across its re-raises.
	ID    string    `json:"id"`
	Rule  string    `json:"rule"`
	Title string    `json:"title,omitempty"`
	Level string    `json:"level,omitempty"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	UUID  string    `json:"uuid"` // of the latest detection event
	Count int64     `json:"count"`
	// Status is the detection's triage state: OPEN when raised, then as
	// the latest system.detection.update event about it says
	// (ACKNOWLEDGED, CLOSED, OPEN again); empty in profiles folded before
	// triage was folded (OPEN).
	Status string `json:"status,omitempty"`
	// Note and Updated are the latest triage's note and time.
	Note    string    `json:"note,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

// Triage states of a Detection (as the detections API sets them).
const (
	DetectionOpen         = "OPEN"
	DetectionAcknowledged = "ACKNOWLEDGED"
	DetectionClosed       = "CLOSED"
)

func newProfile(org, user string) *Profile {
	return &Profile{Org: org, UserID: user, Lists: map[Kind][]Item{}}
}

// seen records one sighting of value in list k at t, position pos; ok and
// fail count the event's outcome.
func (p *Profile) seen(k Kind, value, label string, t time.Time, pos uint64, outcome string, lim Limits) {
	if value == "" {
		return
	}
	l := p.Lists[k]
	i := slices.IndexFunc(l, func(it Item) bool { return it.Value == value })
	if i < 0 {
		if len(l) >= lim.Items {
			// Evict the stalest: the oldest last sighting.
			j := 0
			for k := range l {
				if l[k].Last.Before(l[j].Last) {
					j = k
				}
			}
			l = slices.Delete(l, j, j+1)
			p.evict(string(k))
		}
		l = append(l, Item{Value: value, First: t, Last: t, FirstPos: pos})
		i = len(l) - 1
	}
	it := &l[i]
	if label != "" {
		it.Label = label
	}
	if t.Before(it.First) {
		it.First = t
	}
	if t.After(it.Last) {
		it.Last = t
	}
	it.Count++
	switch outcome {
	case "SUCCESS", "ALLOW":
		it.OK++
	case "FAILURE", "DENY":
		it.Fail++
	}
	p.Lists[k] = l
}

func (p *Profile) evict(list string) {
	if p.Evicted == nil {
		p.Evicted = map[string]int64{}
	}
	p.Evicted[list]++
	if p.onEvict != nil {
		p.onEvict(list)
	}
}

// pushAction adds a to list (newest first), keeping max. Action lists
// are only ever built here, so they are sorted: the place is found by
// binary search (the first action a is newer than, after any of the same
// time, as insertNewest finds it), and an action that would land past
// max is counted as evicted without being inserted.
func (p *Profile) pushAction(list *[]Action, name string, a Action, max int) {
	l := *list
	i := sort.Search(len(l), func(i int) bool { return a.Time.After(l[i].Time) })
	if i >= max {
		p.evict(name)
		return
	}
	if len(l) >= max {
		// Full (or longer, stored under a higher limit): shift down over
		// the last kept one instead of growing, and cut at max.
		copy(l[i+1:max], l[i:max-1])
		l[i] = a
		*list = l[:max]
		p.evict(name)
		return
	}
	*list = slices.Insert(l, i, a)
}

// insertNewest inserts v in l ordered newest first by at.
func insertNewest[T any](l []T, v T, at func(T) time.Time) []T {
	i := 0
	for i < len(l) && !at(v).After(at(l[i])) {
		i++
	}
	return slices.Insert(l, i, v)
}

// stamp keeps s in *dst when it is newer.
func stamp(dst **Stamp, s Stamp) {
	if *dst == nil || s.Time.After((*dst).Time) {
		n := new(Stamp) // allocated only when kept (&s would move s to the heap on every call)
		*n = s
		*dst = n
	}
}

// touch updates the profile's time span.
func (p *Profile) touch(t time.Time) {
	if p.First.IsZero() || t.Before(p.First) {
		p.First = t
	}
	if t.After(p.Last) {
		p.Last = t
	}
}

// has reports whether list k holds value (case-sensitive, as stored).
func (p *Profile) has(k Kind, value string) (Item, bool) {
	for _, it := range p.Lists[k] {
		if it.Value == value {
			return it, true
		}
	}
	return Item{}, false
}

// clone is a deep copy of p, for readers outside the store's lock.
func (p *Profile) clone() Profile {
	c := *p
	c.Lists = make(map[Kind][]Item, len(p.Lists))
	for k, l := range p.Lists {
		c.Lists[k] = slices.Clone(l)
	}
	c.AdminActions = slices.Clone(p.AdminActions)
	c.ChangesByOthers = slices.Clone(p.ChangesByOthers)
	c.Detections = slices.Clone(p.Detections)
	c.Daily = p.Daily.clone()
	if p.Evicted != nil {
		c.Evicted = make(map[string]int64, len(p.Evicted))
		for k, v := range p.Evicted {
			c.Evicted[k] = v
		}
	}
	for _, s := range []**Stamp{&c.LastSignIn, &c.LastSignInFailure, &c.LastMFA} {
		if *s != nil {
			v := **s
			*s = &v
		}
	}
	return c
}

// isAdminAction reports whether an event type is an administrative action
// (DETECTIONS.md §7.2): privilege grants, policy, zone, app, IdP, API
// token and log stream changes, Admin Console access.
func isAdminAction(eventType string) bool {
	if eventType == "user.session.access_admin_app" {
		return true
	}
	for _, p := range adminPrefixes {
		if strings.HasPrefix(eventType, p) {
			return true
		}
	}
	return false
}

var adminPrefixes = []string{
	"user.account.privilege.", "group.privilege.", "iam.", "policy.lifecycle.", "policy.rule.",
	"zone.", "application.lifecycle.", "application.policy.", "application.user_membership.",
	"system.", "security.authenticator.", "group.user_membership.", "user.lifecycle.",
	"user.mfa.factor.reset_all", "user.account.reset_password", "app.oauth2.as.",
}
