package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/auth"
)

// The User activity pages: a search by user id or login and the user's
// profile (GET /api/v1/activity/users/{id}), a chart of the user's events
// per day and their newest events (GET .../events), their detections, and
// a link to their events in the System Log page. All of it is the API
// served as the signed-in identity (scope activity.read; a login is
// looked up in the System Log, scope logs.read).

// profile is the answer of GET /api/v1/activity/users/{id}: the activity
// API's own Profile (decoded from its JSON; a profile stored before daily
// counts were kept has no Daily), with what the page draws from it.
type profile activity.Profile

// dailyWindow returns the counts of the n days from day0 (a UTC midnight)
// on (0 for a day outside the profile's counts), their total, and the
// first day the profile counts (zero when it counts none).
func dailyWindow(d *activity.Daily, day0 time.Time, n int) (counts []int, total int64, from time.Time) {
	counts = make([]int, n)
	if from = d.From(); from.IsZero() {
		return counts, 0, from
	}
	for i := range counts {
		c := d.On(day0.AddDate(0, 0, i))
		counts[i] = int(c)
		total += c
	}
	return counts, total, from
}

// activityList is one top-N list as the page shows it.
type activityList struct {
	Kind    activity.Kind
	Title   string
	Items   []activity.Item
	Evicted int64
}

// listTitles are the profile's lists in the order the page shows them.
var listTitles = []struct {
	kind  activity.Kind
	title string
}{
	{activity.KindCountry, "Countries"}, {activity.KindIP, "IP addresses"}, {activity.KindASN, "Networks (ASN)"},
	{activity.KindDevice, "Devices"}, {activity.KindUserAgent, "User agents"}, {activity.KindApp, "Apps"},
	{activity.KindFactor, "MFA factors"}, {activity.KindSession, "Sessions"},
}

func (p profile) ListsInOrder() []activityList {
	var out []activityList
	for _, lt := range listTitles {
		if items := p.Lists[lt.kind]; len(items) > 0 {
			out = append(out, activityList{Kind: lt.kind, Title: lt.title, Items: items, Evicted: p.Evicted[string(lt.kind)]})
		}
	}
	return out
}

// validUserQuery refuses what cannot be a user id or login (the activity
// API's own rule: at most 200 characters, no quotes, backslashes or
// control characters), so it can go into a filter unescaped.
func validUserQuery(q string) bool {
	return q != "" && len(q) <= 200 && !strings.ContainsAny(q, "\"\\") &&
		!strings.ContainsFunc(q, func(c rune) bool { return c < 0x20 })
}

// usersPage is the search: a user id opens the profile; a login is looked
// up among the System Log's actors and targets.
func (c *Console) usersPage(w http.ResponseWriter, rc *reqCtx) {
	org := orgParam(rc)
	q := strings.TrimSpace(rc.r.URL.Query().Get("q"))
	d := map[string]any{"Q": q, "Org": org}
	render := func(status int, err error) {
		c.renderStatus(w, rc.r, status, "activity-search", rc, page{Title: "User activity", Nav: "users", Error: asAPIError(err), Data: d})
	}
	if q == "" {
		render(http.StatusOK, nil)
		return
	}
	if !validUserQuery(q) {
		render(http.StatusBadRequest, &apiError{Code: "E0000001", Summary: "Api validation failed: 'q': not a user id or login",
			Causes: []string{"at most 200 characters, no quotes, backslashes or control characters"}})
		return
	}
	// A user id: the profile exists.
	var p profile
	_, err := c.call(rc, http.MethodGet, withOrg("/api/v1/activity/users/"+url.PathEscape(q), org), nil, &p)
	if err == nil {
		http.Redirect(w, rc.r, withOrg("/console/users/"+url.PathEscape(p.UserID), org), http.StatusSeeOther)
		return
	}
	if ae := asAPIError(err); ae.Code != "E0000007" {
		render(apiStatus(err), err)
		return
	}
	// A login: the newest event naming it as actor or target gives the id.
	if !rc.who.Has(auth.ScopeReadLogs) {
		render(http.StatusNotFound, &apiError{Code: "E0000007", Summary: "Not found: Resource not found: " + q + " (User)",
			Causes: []string{"no user has this id; finding a user by login needs the logs.read scope"}})
		return
	}
	ids, partial, err := c.findLogin(rc, q)
	if err != nil {
		render(apiStatus(err), err)
		return
	}
	switch len(ids) {
	case 0:
		cause := "no user has this id, and no event of the last 90 days names this login"
		if partial {
			cause = "no user has this id, and no event of the last 90 days has this login as its actor; " +
				"looking for it among the events' targets took too long"
		}
		render(http.StatusNotFound, &apiError{Code: "E0000007", Summary: "Not found: Resource not found: " + q + " (User)", Causes: []string{cause}})
	case 1:
		http.Redirect(w, rc.r, withOrg("/console/users/"+url.PathEscape(ids[0]), org), http.StatusSeeOther)
	default:
		d["Matches"] = ids
		render(http.StatusOK, nil)
	}
}

// loginBudget bounds the lookup of a login among the events' targets
// (the System Log's index answers actors, not targets' logins).
const loginBudget = 200 * time.Millisecond

// findLogin returns the user ids the System Log's events of the last 90
// days give login: as actor (indexed), else as a target within
// loginBudget (partial when that ran out).
func (c *Console) findLogin(rc *reqCtx, login string) (ids []string, partial bool, err error) {
	now := c.d.Now().UTC()
	query := func(rc *reqCtx, filter string) ([]string, error) {
		v := url.Values{"filter": {filter}, "since": {now.Add(-90 * 24 * time.Hour).Format(time.RFC3339)}, "until": {now.Format(time.RFC3339)},
			"limit": {"20"}, "sortOrder": {"DESCENDING"}}
		var evs []struct {
			Actor struct {
				ID          string `json:"id"`
				AlternateID string `json:"alternateId"`
			} `json:"actor"`
			Target []struct {
				ID          string `json:"id"`
				AlternateID string `json:"alternateId"`
			} `json:"target"`
		}
		if _, err := c.call(rc, http.MethodGet, "/api/v1/logs?"+v.Encode(), nil, &evs); err != nil {
			return nil, err
		}
		var ids []string
		add := func(id string) {
			if id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		for _, e := range evs {
			if strings.EqualFold(e.Actor.AlternateID, login) {
				add(e.Actor.ID)
			}
			for _, t := range e.Target {
				if strings.EqualFold(t.AlternateID, login) {
					add(t.ID)
				}
			}
		}
		return ids, nil
	}
	if ids, err = query(rc, `actor.alternateId eq "`+login+`"`); err != nil || len(ids) > 0 {
		return ids, false, err
	}
	ctx, cancel := context.WithTimeout(rc.r.Context(), loginBudget)
	defer cancel()
	trc := *rc
	trc.r = rc.r.WithContext(ctx)
	ids, err = query(&trc, `target.alternateId eq "`+login+`"`)
	if err != nil && ctx.Err() != nil {
		return nil, true, nil
	}
	return ids, false, err
}

// chartDays is the span of the events-per-day chart.
const chartDays = 30

// chartBudget bounds the chart's reads: past it the chart says it is
// partial (like the System Log's histogram, and with its budget).
const chartBudget = 200 * time.Millisecond

// userNewest is how many of the user's newest events the page lists.
const userNewest = 20

// chartMax bounds the events the chart counts.
const chartMax = 5000

func (c *Console) userPage(w http.ResponseWriter, rc *reqCtx) {
	org, id := orgParam(rc), rc.r.PathValue("id")
	var p profile
	base := "/api/v1/activity/users/" + url.PathEscape(id)
	if _, err := c.call(rc, http.MethodGet, withOrg(base, org), nil, &p); err != nil {
		c.renderAPIError(w, rc, "activity-search", err, page{Title: "User activity", Nav: "users",
			Data: map[string]any{"Q": id, "Org": org}})
		return
	}
	d := map[string]any{"P": p, "Org": org, "CanLogs": rc.who.Has(auth.ScopeReadLogs), "CanDetections": rc.who.Has(auth.ScopeReadDetections)}
	now := c.d.Now().UTC()
	day0 := now.Truncate(24*time.Hour).AddDate(0, 0, -(chartDays - 1))
	var newest []json.RawMessage
	if p.Daily != nil {
		// The profile counts the user's events per day: the chart is
		// drawn from it, whatever their number; one read gets the
		// table's newest events.
		counts, total, from := dailyWindow(p.Daily, day0, chartDays)
		d["Chart"] = dayChart(day0, counts)
		d["ChartTotal"] = total
		if from.After(day0) && p.First.Before(from) {
			d["ChartFrom"] = from // an older profile: counted since then
		}
		v := url.Values{"since": {day0.Format(time.RFC3339)}, "until": {now.Format(time.RFC3339Nano)},
			"limit": {strconv.Itoa(userNewest)}, "sortOrder": {"DESCENDING"}}
		ctx, cancel := context.WithTimeout(rc.r.Context(), chartBudget)
		defer cancel()
		crc := *rc
		crc.r = rc.r.WithContext(ctx)
		if _, err := c.call(&crc, http.MethodGet, withOrg(base+"/events?"+v.Encode(), org), nil, &newest); err != nil {
			d["EventsErr"] = asAPIError(err).Error()
		}
	} else {
		newest = c.chartFromEvents(rc, d, base, org, day0, now)
	}
	d["Events"] = decodeEvents(newest)
	since := p.First
	if since.IsZero() || since.Before(now.AddDate(-1, 0, 0)) {
		since = now.AddDate(0, 0, -chartDays)
	}
	v := url.Values{"filter": {`actor.id eq "` + p.UserID + `" or target.id eq "` + p.UserID + `"`},
		"since": {since.Add(-time.Minute).UTC().Format(time.RFC3339)}, "until": {now.Add(time.Minute).Format(time.RFC3339)}}
	d["LogsLink"] = "/console/logs?" + v.Encode()
	c.render(w, rc.r, "activity", rc, page{Title: firstOf(p.DisplayName, p.Login, p.UserID), Nav: "users", Data: d})
}

// chartFromEvents draws the chart of a profile without daily counts
// (stored before they were kept) from a bounded read of the user's
// events of the last chartDays days, newest first, and returns the
// newest for the table.
func (c *Console) chartFromEvents(rc *reqCtx, d map[string]any, base, org string, day0, now time.Time) []json.RawMessage {
	ctx, cancel := context.WithTimeout(rc.r.Context(), chartBudget)
	defer cancel()
	crc := *rc
	crc.r = rc.r.WithContext(ctx)
	counts := make([]int, chartDays)
	var (
		newest  []json.RawMessage
		after   string
		n       int
		partial bool
		cerr    error
	)
	// The first read is the table's newest events only, so that they are
	// shown even when the chart's reads run out of budget (over a large
	// journal, a user's 1,000 events are each read from another journal
	// message); the chart's reads go on after them.
	limit := userNewest
	for n < chartMax {
		v := url.Values{"since": {day0.Format(time.RFC3339)}, "until": {now.Format(time.RFC3339Nano)}, "limit": {strconv.Itoa(limit)}, "sortOrder": {"DESCENDING"}}
		if after != "" {
			v.Set("after", after)
		}
		var raw []json.RawMessage
		res, err := c.call(&crc, http.MethodGet, withOrg(base+"/events?"+v.Encode(), org), nil, &raw)
		if err != nil {
			if ctx.Err() != nil {
				partial = true
			} else {
				cerr = err
			}
			break
		}
		if newest == nil {
			newest = raw[:min(len(raw), userNewest)]
		}
		for _, r := range raw {
			var e struct {
				Published time.Time `json:"published"`
			}
			if json.Unmarshal(r, &e) != nil {
				continue
			}
			if i := int(e.Published.UTC().Sub(day0) / (24 * time.Hour)); i >= 0 && i < chartDays {
				counts[i]++
			}
		}
		n += len(raw)
		after = nextAfter(res.Header)
		if len(raw) < limit || after == "" {
			break
		}
		limit = 1000
		if n >= chartMax {
			partial = true
		}
	}
	if cerr != nil {
		d["ChartErr"] = asAPIError(cerr).Error()
	} else {
		d["Chart"] = dayChart(day0, counts)
		d["ChartPartial"] = partial
		d["ChartTotal"] = n
	}
	return newest
}

// dayChart draws the counts of consecutive days from day0 as SVG bars.
func dayChart(day0 time.Time, counts []int) template.HTML {
	maxN := 1
	for _, n := range counts {
		maxN = max(maxN, n)
	}
	const width, height = 600, 100
	barW := width / len(counts)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg class="histogram daychart" viewBox="0 0 %d %d" role="img" aria-labelledby="day-title"><title id="day-title">Events per day, last %d days (UTC)</title>`,
		width, height+16, len(counts))
	for i, n := range counts {
		h := float64(height) * float64(n) / float64(maxN)
		label := fmt.Sprintf("%s: %d events", day0.AddDate(0, 0, i).Format("2006-01-02"), n)
		fmt.Fprintf(&b, `<g class="day" data-day="%s" data-count="%d"><title>%s</title><rect class="bar" x="%d" y="%.1f" width="%d" height="%.1f"/></g>`,
			day0.AddDate(0, 0, i).Format("2006-01-02"), n, template.HTMLEscapeString(label), i*barW+1, float64(height)-h, barW-2, h)
	}
	fmt.Fprintf(&b, `<text x="0" y="%d" class="axis">%s</text><text x="%d" y="%d" class="axis" text-anchor="end">%s</text></svg>`,
		height+14, day0.Format("2006-01-02"), width, height+14, day0.AddDate(0, 0, len(counts)-1).Format("2006-01-02"))
	return template.HTML(b.String())
}

// activityRoutes adds the User activity pages to m.
func (c *Console) activityRoutes(m *http.ServeMux) {
	m.Handle("GET /console/users", c.authed(c.usersPage))
	m.Handle("GET /console/users/{id}", c.authed(c.userPage))
}
