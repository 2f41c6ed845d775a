package console

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/wire"
)

// streamRow is a log stream with its status, for the list and detail.
type streamRow struct {
	wire.Stream
	St     wire.StreamStatus
	StErr  *apiError
	Health string // ok, failing, inactive
	// Spark is the deliveries of the last hour, a small SVG chart.
	Spark template.HTML
}

func health(status string, st wire.StreamStatus, stErr *apiError) string {
	switch {
	case status != "ACTIVE":
		return "inactive"
	case stErr != nil || st.LastError != "" && st.LastErrorAt.After(st.LastSuccessAt):
		return "failing"
	}
	return "ok"
}

// streams lists the identity's streams with their statuses.
func (c *Console) streams(rc *reqCtx) ([]streamRow, error) {
	return listWithStatus(c, rc, "/api/v1/logStreams", func(s wire.Stream) string { return s.ID },
		func(s wire.Stream, st wire.StreamStatus, stErr *apiError) streamRow {
			return streamRow{Stream: s, St: st, StErr: stErr, Health: health(s.Status, st, stErr), Spark: sparkline(st.PerMinute, c.d.Now())}
		})
}

type sourceRow struct {
	wire.Source
	St    wire.SourceStatus
	StErr *apiError
}

// sources lists the identity's sources with their statuses.
func (c *Console) sources(rc *reqCtx) ([]sourceRow, error) {
	return listWithStatus(c, rc, "/api/v1/sources", func(s wire.Source) string { return s.ID },
		func(s wire.Source, st wire.SourceStatus, stErr *apiError) sourceRow {
			return sourceRow{Source: s, St: st, StErr: stErr}
		})
}

// listWithStatus reads the identity's list at path (at most 200 items)
// and each item's status (path/{id}/status), and makes a row of each
// with its status or the error reading it.
func listWithStatus[T, S, R any](c *Console, rc *reqCtx, path string, id func(T) string, row func(T, S, *apiError) R) ([]R, error) {
	var list []T
	if _, err := c.call(rc, http.MethodGet, path+"?limit=200", nil, &list); err != nil {
		return nil, err
	}
	rows := make([]R, len(list))
	for i, item := range list {
		var st S
		_, err := c.call(rc, http.MethodGet, path+"/"+url.PathEscape(id(item))+"/status", nil, &st)
		rows[i] = row(item, st, asAPIError(err))
	}
	return rows, nil
}

// overview: ingest rate, journal size against its cap, streams and
// sources by health.
func (c *Console) overview(w http.ResponseWriter, rc *reqCtx) {
	d := map[string]any{}
	var errs []string
	if rc.who.Has(auth.ScopeReadStreams) {
		rows, err := c.streams(rc)
		if err != nil {
			errs = append(errs, asAPIError(err).Error())
		}
		byHealth := map[string]int{}
		for _, r := range rows {
			byHealth[r.Health]++
		}
		d["Streams"], d["StreamHealth"] = rows, byHealth
	}
	if rc.who.Has(auth.ScopeReadSources) {
		rows, err := c.sources(rc)
		if err != nil {
			errs = append(errs, asAPIError(err).Error())
		}
		byHealth := map[string]int{}
		for _, r := range rows {
			h := r.St.Health
			if h == "" {
				h = strings.ToLower(r.Status)
			}
			byHealth[h]++
		}
		d["Sources"], d["SourceHealth"] = rows, byHealth
	}
	if rc.who.Has(auth.ScopeReadLogs) {
		// The ingest rate: events of the last 5 minutes the identity may
		// read, counted by the System Log API (at most 1000).
		now := c.d.Now().UTC()
		q := url.Values{"since": {now.Add(-5 * time.Minute).Format(time.RFC3339Nano)}, "until": {now.Format(time.RFC3339Nano)}, "limit": {"1000"}}
		var evs []json.RawMessage
		if _, err := c.call(rc, http.MethodGet, "/api/v1/logs?"+q.Encode(), nil, &evs); err != nil {
			errs = append(errs, asAPIError(err).Error())
		} else {
			d["Recent"], d["RecentCapped"] = len(evs), len(evs) >= 1000
			d["Rate"] = strconv.FormatFloat(float64(len(evs))/300, 'f', 2, 64)
		}
	}
	if rc.who.Org == auth.AllOrgs && rc.who.Has(auth.ScopeAdmin) && c.d.Usage != nil {
		if u, err := c.d.Usage(rc.r.Context()); err != nil {
			errs = append(errs, err.Error())
		} else {
			d["Usage"] = u
		}
	}
	errs = c.overviewDetections(rc, d, errs)
	var pe *apiError
	if len(errs) > 0 {
		pe = &apiError{Summary: "Parts of this page could not be read", Causes: errs}
	}
	c.render(w, rc.r, "overview", rc, page{Title: "Overview", Nav: "overview", Data: d, Error: pe})
}

func (c *Console) streamList(w http.ResponseWriter, rc *reqCtx) {
	rows, err := c.streams(rc)
	c.render(w, rc.r, "streams", rc, page{Title: "Log streams", Nav: "streams", Error: asAPIError(err),
		Data: map[string]any{"Rows": rows, "CanManage": rc.who.Has(auth.ScopeManageStreams)}})
}

func (c *Console) streamDetail(w http.ResponseWriter, rc *reqCtx) {
	id := rc.r.PathValue("id")
	var row streamRow
	_, err := c.call(rc, http.MethodGet, "/api/v1/logStreams/"+url.PathEscape(id), nil, &row.Stream)
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Log stream", Nav: "streams", Error: asAPIError(err)})
		return
	}
	_, stErr := c.call(rc, http.MethodGet, "/api/v1/logStreams/"+url.PathEscape(id)+"/status", nil, &row.St)
	row.StErr = asAPIError(stErr)
	row.Health = health(row.Status, row.St, row.StErr)
	var dead []wire.DeadLetter
	_, dlErr := c.call(rc, http.MethodGet, "/api/v1/logStreams/"+url.PathEscape(id)+"/deadLetters?limit=50", nil, &dead)
	q := rc.r.URL.Query()
	prog, progErr := c.progressOf(rc, id, q.Get("progress"), q)
	if progErr != nil {
		prog = &opProgress{Kind: q.Get("progress"), Err: asAPIError(progErr)}
	}
	c.render(w, rc.r, "stream", rc, page{Title: row.Name, Nav: "streams", Data: map[string]any{
		"S": row, "Dead": dead, "DeadErr": asAPIError(dlErr), "CanManage": rc.who.Has(auth.ScopeManageStreams),
		"Chart":   deliveryChart(row.St.PerMinute, c.d.Now()),
		"Secrets": c.secretPaths(row.Type), "ReplayDefault": c.d.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04"),
		"Progress": prog,
	}})
}

func (c *Console) secretPaths(typ string) []string {
	for _, t := range c.d.Destinations {
		if t.Name == typ {
			return t.Secrets
		}
	}
	return nil
}

// streamAction runs one lifecycle action through the API.
func (c *Console) streamAction(w http.ResponseWriter, rc *reqCtx) {
	id, action := rc.r.PathValue("id"), rc.r.PathValue("action")
	base := "/api/v1/logStreams/" + url.PathEscape(id)
	var (
		err    error
		notice string
		next   = "/console/streams/" + url.PathEscape(id)
	)
	switch action {
	case "edit":
		c.streamEditSave(w, rc)
		return
	case "activate", "deactivate", "delete":
		err = c.lifecycle(rc, base, action)
		notice = "Log stream " + action + "d"
		if action == "delete" {
			next = "/console/streams"
		}
	case "replay":
		since, perr := parseLocal(rc.r.PostFormValue("since"), rc.r.PostFormValue("tz"))
		if perr != nil {
			err = &apiError{Code: "E0000001", Summary: "Api validation failed: since", Causes: []string{perr.Error()}}
			break
		}
		_, err = c.call(rc, http.MethodPost, base+"/replay", map[string]string{"since": since.UTC().Format(time.RFC3339Nano)}, nil)
		notice = "Replay started from " + since.UTC().Format(time.RFC3339)
		if err == nil { // the lag right after the start is where the progress counts from
			var st wire.StreamStatus
			if _, serr := c.call(rc, http.MethodGet, base+"/status", nil, &st); serr == nil {
				next += "?progress=replay&from=" + strconv.FormatUint(st.LagEvents, 10) + "&"
			}
		}
	case "redrive":
		var out struct {
			Redriven int `json:"redriven"`
		}
		_, err = c.call(rc, http.MethodPost, base+"/deadLetters/redrive", nil, &out)
		notice = strconv.Itoa(out.Redriven) + " dead letters redriven"
		if err == nil { // from: the count the page had when the redrive started (opprogress.js)
			from, _ := strconv.Atoi(rc.r.PostFormValue("from"))
			next += "?progress=redrive&done=1&n=" + strconv.Itoa(out.Redriven) + "&from=" + strconv.Itoa(from) + "&"
		}
	default:
		http.NotFound(w, rc.r)
		return
	}
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "error", rc, page{Title: "Log stream", Nav: "streams", Error: asAPIError(err),
			Data: map[string]any{"Back": next}})
		return
	}
	if !strings.Contains(next, "?") {
		next += "?"
	}
	http.Redirect(w, rc.r, next+"notice="+url.QueryEscape(notice), http.StatusSeeOther)
}

// lifecycle activates, deactivates or deletes the API's resource at base
// (a log stream or a source) as the signed-in identity.
func (c *Console) lifecycle(rc *reqCtx, base, action string) error {
	var err error
	if action == "delete" {
		_, err = c.call(rc, http.MethodDelete, base, nil, nil)
	} else {
		_, err = c.call(rc, http.MethodPost, base+"/lifecycle/"+action, nil, nil)
	}
	return err
}

// parseLocal reads a datetime-local value; tzOffset is the browser's
// offset in minutes (Date.getTimezoneOffset), set by the script; without
// it the value is UTC.
func parseLocal(v, tzOffset string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02T15:04", v)
	if err != nil {
		return t, &apiError{Summary: "since " + strconv.Quote(v) + " is not a date and time"}
	}
	if off, err := strconv.Atoi(tzOffset); err == nil {
		t = t.Add(time.Duration(off) * time.Minute)
	}
	return t, nil
}

func (c *Console) sourcesPage(w http.ResponseWriter, rc *reqCtx) {
	rows, err := c.sources(rc)
	c.render(w, rc.r, "sources", rc, page{Title: "Sources", Nav: "sources", Error: asAPIError(err), Data: map[string]any{"Rows": rows, "CanManage": rc.who.Has(auth.ScopeManageSources)}})
}

func (c *Console) tokensPage(w http.ResponseWriter, rc *reqCtx) {
	c.renderTokens(w, rc, nil, nil)
}

func (c *Console) renderTokens(w http.ResponseWriter, rc *reqCtx, created *wire.Token, perr error) {
	var list []wire.Token
	_, err := c.call(rc, http.MethodGet, "/api/v1/tokens", nil, &list)
	if perr == nil {
		perr = err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	status := http.StatusOK
	if perr != nil {
		status = http.StatusBadRequest
		if ae := asAPIError(perr); ae.Code == "E0000006" {
			status = http.StatusForbidden
		}
	}
	scopes := make([]string, len(auth.AllScopes))
	for i, s := range auth.AllScopes {
		scopes[i] = string(s)
	}
	c.renderStatus(w, rc.r, status, "tokens", rc, page{Title: "API tokens", Nav: "tokens", Error: asAPIError(perr),
		Data: map[string]any{"Tokens": list, "Created": created, "Scopes": scopes}})
}

func (c *Console) tokenCreate(w http.ResponseWriter, rc *reqCtx) {
	f := rc.r.PostForm
	in := map[string]any{"name": f.Get("name"), "scopes": f["scopes"]}
	if o := strings.TrimSpace(f.Get("org")); o != "" {
		in["org"] = o
	}
	var out wire.Token
	_, err := c.call(rc, http.MethodPost, "/api/v1/tokens", in, &out)
	if err != nil {
		c.renderTokens(w, rc, nil, err)
		return
	}
	c.renderTokens(w, rc, &out, nil)
}

func (c *Console) tokenRevoke(w http.ResponseWriter, rc *reqCtx) {
	_, err := c.call(rc, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(rc.r.PathValue("id")), nil, nil)
	if err != nil {
		c.renderTokens(w, rc, nil, err)
		return
	}
	http.Redirect(w, rc.r, "/console/tokens?notice="+url.QueryEscape("Token revoked"), http.StatusSeeOther)
}
