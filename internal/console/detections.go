package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/detect"
)

// The Detections pages: the rules by pack with their firings, a rule's
// detail with enable/disable and a backtest, the recent detections
// (alerts) with their triage. Every read and change is the detections
// API (/api/v1/detections...) served as the signed-in identity, so the
// API's scope and org checks hold and each change is its System Log
// audit event with that identity as actor.

// detectionRule is a rule as GET /api/v1/detections/rules lists it (the
// detections API's own RuleDetail, decoded from its JSON: Text and Tuning
// are in the GET of one rule only), and its firings.
type detectionRule struct {
	detect.RuleDetail
	// Firings counts the rule's detections of the last 24 hours (filled
	// by the console from GET /api/v1/detections).
	Firings int `json:"-"`
}

// detection is a detection as GET /api/v1/detections answers it: the
// detections API's own Detection (decoded from its JSON), with the links
// the pages draw from it.
type detection detect.Detection

// User is the user a detection is about: the value of its actor.id group
// field (or another user id field), empty when it has none.
func (d detection) User() string {
	for _, g := range d.Group {
		if !g.Null && g.Value != "" && (g.Field == "actor.id" || strings.HasSuffix(g.Field, "userId") || g.Field == "target.id") {
			return g.Value
		}
	}
	return ""
}

// EventsLink is the System Log page showing the detection's contributing
// events and the detection event itself (its uuid is the detection id).
func (d detection) EventsLink() string {
	return d.logsLink(append([]string{d.ID}, d.Events...))
}

// logsLink is the System Log page showing the events ids (at most 50, and
// the detection's last event) over the detection's window.
func (d detection) logsLink(ids []string) string {
	if d.LastEvent != "" && !slices.Contains(ids, d.LastEvent) {
		ids = append(ids, d.LastEvent)
	}
	ids = ids[:min(len(ids), 50)]
	var f []string
	for _, id := range ids {
		f = append(f, `uuid eq "`+id+`"`)
	}
	since := d.WindowStart
	if since.IsZero() || d.Published.Sub(since) > 7*24*time.Hour {
		since = d.Published.Add(-24 * time.Hour)
	}
	until := d.Published
	if d.LastSeen.After(until) {
		until = d.LastSeen
	}
	v := url.Values{"filter": {strings.Join(f, " or ")},
		"since": {since.Add(-time.Minute).UTC().Format(time.RFC3339)}, "until": {until.Add(time.Minute).UTC().Format(time.RFC3339)}}
	return "/console/logs?" + v.Encode()
}

// orgParam is the org an all-orgs identity chose (?org= on the page, or
// the form's org field); the API checks it. Empty: the API's default.
func orgParam(rc *reqCtx) string {
	o := rc.r.URL.Query().Get("org")
	if o == "" && rc.r.Method == http.MethodPost {
		o = rc.r.PostFormValue("org")
	}
	return o
}

// withOrg adds the chosen org to an API or console path.
func withOrg(path, org string) string { return addParam(path, "org", org) }

// addParam adds key=value to path's query; an empty value adds nothing.
func addParam(path, key, value string) string {
	if value == "" {
		return path
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + key + "=" + url.QueryEscape(value)
}

// packRules is one pack's rules in the list.
type packRules struct {
	Pack    string
	Rules   []detectionRule
	Loaded  int
	Enabled int
}

// firingsWindow is the window of the rules list's firing counts.
const firingsWindow = 24 * time.Hour

// alertsLimit bounds the detections the list pages read.
const alertsLimit = 1000

func (c *Console) detectionsPage(w http.ResponseWriter, rc *reqCtx) {
	org := orgParam(rc)
	status := strings.ToUpper(rc.r.URL.Query().Get("status"))
	d := map[string]any{"Org": org, "Status": status, "CanManage": rc.who.Has(auth.ScopeManageDetections)}
	ruleStatus := rc.r.URL.Query().Get("ruleStatus")
	d["RuleStatus"] = ruleStatus
	var rules []detectionRule
	if _, err := c.call(rc, http.MethodGet, withOrg(addParam("/api/v1/detections/rules", "status", ruleStatus), org), nil, &rules); err != nil {
		c.renderAPIError(w, rc, "detections", err, page{Title: "Detections", Nav: "detections", Data: d})
		return
	}
	// Firings of the last 24 hours, counted per rule from the detections.
	since := c.d.Now().UTC().Add(-firingsWindow)
	q := url.Values{"since": {since.Format(time.RFC3339)}, "limit": {strconv.Itoa(alertsLimit)}}
	var recent []detection
	var errs []string
	if _, err := c.call(rc, http.MethodGet, withOrg("/api/v1/detections?"+q.Encode(), org), nil, &recent); err != nil {
		errs = append(errs, asAPIError(err).Error())
	}
	counts := map[string]int{}
	for _, a := range recent {
		counts[a.Rule]++
	}
	d["FiringsCapped"] = len(recent) >= alertsLimit
	byPack := map[string]*packRules{}
	var packs []*packRules
	for _, r := range rules {
		r.Firings = counts[r.ID]
		p := byPack[r.Pack]
		if p == nil {
			p = &packRules{Pack: r.Pack}
			byPack[r.Pack] = p
			packs = append(packs, p)
		}
		p.Rules = append(p.Rules, r)
		if r.Status == "loaded" {
			p.Loaded++
		}
		if r.Enabled {
			p.Enabled++
		}
	}
	slices.SortFunc(packs, func(a, b *packRules) int { return strings.Compare(a.Pack, b.Pack) })
	for _, p := range packs {
		slices.SortFunc(p.Rules, func(a, b detectionRule) int {
			if a.Firings != b.Firings {
				return b.Firings - a.Firings
			}
			return strings.Compare(strings.ToLower(a.Title), strings.ToLower(b.Title))
		})
	}
	d["Packs"], d["RuleCount"] = packs, len(rules)
	// The alerts list: the newest detections, of a status when chosen.
	// Paged by the API's cursor: "Older detections" follows its rel="next".
	aq := url.Values{"limit": {"100"}}
	if status != "" {
		aq.Set("status", status)
	}
	if after := rc.r.URL.Query().Get("after"); after != "" {
		aq.Set("after", after)
		d["AlertsNewest"] = withOrg(addParam("/console/detections", "status", status), org) + "#recent"
	}
	var alerts []detection
	if res, err := c.call(rc, http.MethodGet, withOrg("/api/v1/detections?"+aq.Encode(), org), nil, &alerts); err != nil {
		errs = append(errs, asAPIError(err).Error())
	} else if next := nextAfter(res.Header); next != "" {
		nq := url.Values{"after": {next}}
		if status != "" {
			nq.Set("status", status)
		}
		d["AlertsNext"] = withOrg("/console/detections?"+nq.Encode(), org) + "#recent"
	}
	d["Alerts"] = alerts
	d["BacktestSince"] = c.d.Now().UTC().Add(-7 * 24 * time.Hour).Format("2006-01-02T15:04")
	// The org's backtest jobs (kept 24 hours after they ended, in the cluster's KV).
	var jobs []backtestJob
	if _, err := c.call(rc, http.MethodGet, withOrg("/api/v1/detections/backtests", org), nil, &jobs); err != nil {
		errs = append(errs, asAPIError(err).Error())
	}
	d["Jobs"] = jobs
	var pe *apiError
	if len(errs) > 0 {
		pe = &apiError{Summary: "Parts of this page could not be read", Causes: errs}
	}
	c.render(w, rc.r, "detections", rc, page{Title: "Detections", Nav: "detections", Data: d, Error: pe})
}

// apiStatus is the status a page answers with for an API error.
func apiStatus(err error) int {
	switch asAPIError(err).Code {
	case "E0000006":
		return http.StatusForbidden
	case "E0000007":
		return http.StatusNotFound
	case "E0000047":
		return http.StatusTooManyRequests
	}
	return http.StatusBadRequest
}

// renderAPIError draws page name for an API call that failed with err:
// with the status apiStatus gives and the API's error (asAPIError) in p.
func (c *Console) renderAPIError(w http.ResponseWriter, rc *reqCtx, name string, err error, p page) {
	p.Error = asAPIError(err)
	c.renderStatus(w, rc.r, apiStatus(err), name, rc, p)
}

func (c *Console) ruleDetail(w http.ResponseWriter, rc *reqCtx) {
	org, id := orgParam(rc), rc.r.PathValue("id")
	var rule detectionRule
	if _, err := c.call(rc, http.MethodGet, withOrg("/api/v1/detections/rules/"+url.PathEscape(id), org), nil, &rule); err != nil {
		c.renderAPIError(w, rc, "error", err, page{Title: "Detection rule", Nav: "detections"})
		return
	}
	var alerts []detection
	q := url.Values{"rule": {rule.ID}, "limit": {"50"}}
	_, aerr := c.call(rc, http.MethodGet, withOrg("/api/v1/detections?"+q.Encode(), org), nil, &alerts)
	c.render(w, rc.r, "detections-rule", rc, page{Title: firstOf(rule.Title, rule.Name, rule.ID), Nav: "detections", Data: map[string]any{
		"R": rule, "Alerts": alerts, "AlertsErr": asAPIError(aerr), "Org": org, "CanManage": rc.who.Has(auth.ScopeManageDetections),
		"BacktestSince": c.d.Now().UTC().Add(-7 * 24 * time.Hour).Format("2006-01-02T15:04"),
	}})
}

// ruleAction enables or disables a rule for the org (the API's lifecycle,
// the org's overlay of the pack).
func (c *Console) ruleAction(w http.ResponseWriter, rc *reqCtx) {
	org, id, op := orgParam(rc), rc.r.PathValue("id"), rc.r.PathValue("op")
	if op == "delete" {
		if _, err := c.call(rc, http.MethodDelete, withOrg("/api/v1/detections/rules/"+url.PathEscape(id), org), nil, nil); err != nil {
			c.renderAPIError(w, rc, "error", err, page{Title: "Detection rule", Nav: "detections",
				Data: map[string]any{"Back": withOrg("/console/detections/rules/"+url.PathEscape(id), org)}})
			return
		}
		http.Redirect(w, rc.r, addParam(withOrg("/console/detections", org), "notice", "Rule "+id+" deleted"), http.StatusSeeOther)
		return
	}
	if op != "activate" && op != "deactivate" {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Detection rule", Nav: "detections",
			Error: &apiError{Code: "E0000007", Summary: "Not found: Resource not found: " + op + " (lifecycle operation)"}})
		return
	}
	next := withOrg("/console/detections/rules/"+url.PathEscape(id), org)
	if _, err := c.call(rc, http.MethodPost, withOrg("/api/v1/detections/rules/"+url.PathEscape(id)+"/lifecycle/"+op, org), nil, nil); err != nil {
		c.renderAPIError(w, rc, "error", err, page{Title: "Detection rule", Nav: "detections",
			Data: map[string]any{"Back": next}})
		return
	}
	http.Redirect(w, rc.r, addParam(next, "notice", "Rule "+op+"d"), http.StatusSeeOther)
}

func (c *Console) alertDetail(w http.ResponseWriter, rc *reqCtx) {
	org, id := orgParam(rc), rc.r.PathValue("id")
	var a detection
	if _, err := c.call(rc, http.MethodGet, withOrg("/api/v1/detections/"+url.PathEscape(id), org), nil, &a); err != nil {
		c.renderAPIError(w, rc, "error", err, page{Title: "Detection", Nav: "detections"})
		return
	}
	d := map[string]any{"A": a, "Org": org, "CanManage": rc.who.Has(auth.ScopeManageDetections),
		"CanActivity": rc.who.Has(auth.ScopeReadActivity), "CanLogs": rc.who.Has(auth.ScopeReadLogs)}
	// The user's login and name, from their activity profile.
	if u := a.User(); u != "" && rc.who.Has(auth.ScopeReadActivity) {
		var p profile
		if _, err := c.call(rc, http.MethodGet, withOrg("/api/v1/activity/users/"+url.PathEscape(u), firstOf(org, a.Org)), nil, &p); err == nil {
			d["UserLogin"], d["UserName"] = p.Login, p.DisplayName
		}
	}
	c.render(w, rc.r, "detections-alert", rc, page{Title: firstOf(a.Title, a.Rule), Nav: "detections", Data: d})
}

// alertTriage acknowledges, closes or reopens a detection with a note.
func (c *Console) alertTriage(w http.ResponseWriter, rc *reqCtx) {
	org, id := orgParam(rc), rc.r.PathValue("id")
	status := rc.r.PostFormValue("status")
	next := withOrg("/console/detections/alerts/"+url.PathEscape(id), org)
	if _, err := c.call(rc, http.MethodPost, withOrg("/api/v1/detections/"+url.PathEscape(id), org),
		map[string]string{"status": status, "note": rc.r.PostFormValue("note")}, nil); err != nil {
		c.renderAPIError(w, rc, "error", err, page{Title: "Detection", Nav: "detections",
			Data: map[string]any{"Back": next}})
		return
	}
	http.Redirect(w, rc.r, addParam(next, "notice", "Detection "+strings.ToLower(status)), http.StatusSeeOther)
}

// overviewDetections puts the newest detections on the overview (when
// the identity may read detections) and returns errs with any error.
func (c *Console) overviewDetections(rc *reqCtx, d map[string]any, errs []string) []string {
	if !rc.who.Has(auth.ScopeReadDetections) {
		return errs
	}
	var out []detection
	if _, err := c.call(rc, http.MethodGet, "/api/v1/detections?limit=10", nil, &out); err != nil {
		return append(errs, asAPIError(err).Error())
	}
	d["ShowDetections"], d["Detections"] = true, out
	return errs
}

// detectionRoutes adds the Detections pages to m.
func (c *Console) detectionRoutes(m *http.ServeMux) {
	m.Handle("GET /console/detections", c.authed(c.detectionsPage))
	m.Handle("GET /console/detections/rules/{id}", c.authed(c.ruleDetail))
	m.Handle("GET /console/detections/rules/new", c.authed(c.ruleNew))
	m.Handle("GET /console/detections/rules/{id}/edit", c.authed(c.ruleEditPage))
	m.Handle("POST /console/detections/rules", c.authed(c.ruleSave))
	m.Handle("POST /console/detections/rules/{id}/{op}", c.authed(c.ruleAction))
	m.Handle("GET /console/detections/alerts/{id}", c.authed(c.alertDetail))
	m.Handle("POST /console/detections/alerts/{id}", c.authed(c.alertTriage))
	m.Handle("POST /console/detections/backtest", c.authed(c.backtest))
	m.Handle("GET /console/detections/backtests/{id}", c.authed(c.backtestPage))
	m.Handle("GET /console/detections/backtests/{id}/progress", c.authed(c.backtestProgress))
	m.Handle("POST /console/detections/backtests/{id}/cancel", c.authed(c.backtestCancel))
}
