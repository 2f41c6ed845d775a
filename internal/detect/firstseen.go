package detect

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/event"
)

// FirstSeenSource answers "is this value new for this user" for native
// rules' firstSeen key. *activity.Store implements it.
type FirstSeenSource interface {
	// FirstSeen reports whether value of kind is new for user in org as of
	// the event at journal position pos (see activity.Store.FirstSeen).
	FirstSeen(ctx context.Context, org, user string, kind activity.Kind, value string, pos uint64) bool
	// CoveredPos reports whether the source has folded the journal message
	// holding position pos (its answers are then exact for pos).
	CoveredPos(pos uint64) bool
}

// firstSeenKinds are the kinds a native rule's firstSeen may name, with the
// LogEvent path of the event's value of that kind (as the activity fold
// reads it).
var firstSeenKinds = map[string]struct {
	kind activity.Kind
	path field.Path
}{
	"country":   {activity.KindCountry, field.MustParsePath("client.geographicalContext.country")},
	"asn":       {activity.KindASN, field.MustParsePath("securityContext.asNumber")},
	"userAgent": {activity.KindUserAgent, field.MustParsePath("client.userAgent.rawUserAgent")},
	"app":       {activity.KindApp, field.MustParsePath("target")},
}

var (
	pathActorID   = field.MustParsePath("actor.id")
	pathActorType = field.MustParsePath("actor.type")
	pathEventType = field.MustParsePath("eventType")
)

// parseFirstSeen checks a native rule's firstSeen list.
func parseFirstSeen(kinds []string) ([]string, error) {
	var out []string
	for _, k := range kinds {
		if _, ok := firstSeenKinds[k]; !ok {
			return nil, fmt.Errorf("firstSeen: unknown kind %q (country, asn, userAgent or app)", k)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// firstSeenWait bounds how long the runtime waits for the activity fold to
// reach an event before answering firstSeen anyway (counted and logged:
// the answer may then differ on replay). The wait blocks the evaluating
// loop, which renews the lease every tickInterval: tickInterval plus this
// stays well within LeaseTTL.
const firstSeenWait = 3 * time.Second

// FirstSeenFunc answers a rule's firstSeen test for one event: whether the
// event's value of kind is new for the user.
type FirstSeenFunc func(org, user string, kind activity.Kind, value string, pos uint64) bool

// firstSeenOK evaluates rule rl's firstSeen on the event: every kind listed
// must have a value on the event that is new for the event's actor (a
// user). An event without an actor user, or without a value of a listed
// kind, does not match.
func (m *Matcher) firstSeenOK(rl *rule, r *event.Record) bool {
	if m.FirstSeen == nil {
		m.stats.FirstSeenUnavailable++
		return false
	}
	fe, ok := m.event(r)
	if !ok {
		return false
	}
	m.vals = fe.AppendValues(m.vals[:0], pathActorType)
	if len(m.vals) == 0 || !strings.EqualFold(string(m.vals[0].Text), "User") {
		return false
	}
	m.vals = fe.AppendValues(m.vals[:0], pathActorID)
	if len(m.vals) == 0 || m.vals[0].Kind == field.Null || len(m.vals[0].Text) == 0 {
		return false
	}
	user := string(m.vals[0].Text)
	for _, k := range rl.firstSeen {
		fk := firstSeenKinds[k]
		var values []string
		if k == "app" {
			values = m.apps(fe)
		} else {
			m.vals = fe.AppendValues(m.vals[:0], fk.path)
			if len(m.vals) > 0 && m.vals[0].Kind != field.Null && len(m.vals[0].Text) > 0 {
				v := string(m.vals[0].Text)
				if !(k == "asn" && v == "0") {
					values = append(values, v)
				}
			}
		}
		if len(values) == 0 {
			return false
		}
		anyNew := false
		for _, v := range values {
			if m.FirstSeen(r.Org, user, fk.kind, v, r.Seq) {
				anyNew = true
				break
			}
		}
		if !anyNew {
			return false
		}
	}
	return true
}

// apps are the AppInstance targets' ids (else alternateIds) of a
// user.authentication.sso event, as the activity fold records apps.
func (m *Matcher) apps(fe *field.Event) []string {
	m.vals = fe.AppendValues(m.vals[:0], pathEventType)
	if len(m.vals) == 0 || string(m.vals[0].Text) != "user.authentication.sso" {
		return nil
	}
	var out []string
	for _, v := range fe.AppendValues(nil, firstSeenKinds["app"].path) {
		var t struct{ Type, ID, AlternateID string }
		if v.Kind != field.Object || json.Unmarshal(v.Text, &t) != nil || !strings.EqualFold(t.Type, "AppInstance") {
			continue
		}
		if id := cmpOr(t.ID, t.AlternateID); id != "" {
			out = append(out, id)
		}
	}
	return out
}
