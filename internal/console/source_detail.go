package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/wire"
)

// A source's page: its status (state, health, how far it has read, last
// poll, errors, rate limit) and, for a poller, a backfill from a time
// with its progress, which progress.js follows while it runs.

// backfillView is a backfill as the page shows it.
type backfillView struct {
	wire.Backfill
	// Percent is how far through [Since, Until) it has read: by the
	// published time of the newest event read; 100 once done.
	Percent int
	Running bool
}

func viewBackfill(b *wire.Backfill) *backfillView {
	if b == nil {
		return nil
	}
	v := &backfillView{Backfill: *b, Running: b.State == wire.BackfillRunning}
	switch {
	case b.State == wire.BackfillDone:
		v.Percent = 100
	case !b.Reached.IsZero() && b.Until.After(b.Since):
		p := float64(b.Reached.Sub(b.Since)) / float64(b.Until.Sub(b.Since)) * 100
		v.Percent = int(min(99, max(0, p)))
	}
	return v
}

type sourceData struct {
	S         wire.Source
	St        wire.SourceStatus
	StErr     *apiError
	Backfill  *backfillView
	CanManage bool
	// Polls: the source polls an org (it can backfill).
	Polls        bool
	SinceDefault string
}

func (c *Console) sourceData(rc *reqCtx) (sourceData, error) {
	id := rc.r.PathValue("id")
	var d sourceData
	if _, err := c.call(rc, http.MethodGet, "/api/v1/sources/"+url.PathEscape(id), nil, &d.S); err != nil {
		return d, err
	}
	_, stErr := c.call(rc, http.MethodGet, "/api/v1/sources/"+url.PathEscape(id)+"/status", nil, &d.St)
	d.StErr = asAPIError(stErr)
	d.Backfill = viewBackfill(d.St.Backfill)
	d.CanManage = rc.who.Has(auth.ScopeManageSources)
	d.Polls = d.S.Type == "okta"
	d.SinceDefault = c.d.Now().Add(-24 * time.Hour).UTC().Format("2006-01-02T15:04")
	return d, nil
}

func (c *Console) sourceDetail(w http.ResponseWriter, rc *reqCtx) {
	d, err := c.sourceData(rc)
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Source", Nav: "sources", Error: asAPIError(err),
			Data: map[string]any{"Back": "/console/sources"}})
		return
	}
	c.render(w, rc.r, "source", rc, page{Title: d.S.Name, Nav: "sources", Data: d})
}

// sourceProgress is the backfill block alone, for progress.js.
func (c *Console) sourceProgress(w http.ResponseWriter, rc *reqCtx) {
	d, err := c.sourceData(rc)
	status := http.StatusOK
	if err != nil {
		status = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err != nil {
		return
	}
	if err := c.pages["source"].ExecuteTemplate(w, "backfill", d); err != nil {
		c.d.Log.Error("console render", "page", "source progress", "err", err)
	}
}

// sourceBackfill starts a backfill through the API.
func (c *Console) sourceBackfill(w http.ResponseWriter, rc *reqCtx) {
	id := rc.r.PathValue("id")
	back := "/console/sources/" + url.PathEscape(id)
	// The source must be the identity's (not found otherwise, as the API
	// answers), before anything else is read from the form.
	var s wire.Source
	if _, err := c.call(rc, http.MethodGet, "/api/v1/sources/"+url.PathEscape(id), nil, &s); err != nil {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Source", Nav: "sources", Error: asAPIError(err),
			Data: map[string]any{"Back": "/console/sources"}})
		return
	}
	in := map[string]string{}
	for _, k := range []string{"since", "until"} {
		v := rc.r.PostFormValue(k)
		if v == "" {
			continue
		}
		t, err := parseLocal(v, rc.r.PostFormValue("tz"))
		if err != nil {
			c.renderStatus(w, rc.r, http.StatusBadRequest, "error", rc, page{Title: s.Name, Nav: "sources",
				Error: &apiError{Code: "E0000001", Summary: "Api validation failed: " + k, Causes: []string{err.Error()}}, Data: map[string]any{"Back": back}})
			return
		}
		in[k] = t.UTC().Format(time.RFC3339Nano)
	}
	if _, err := c.call(rc, http.MethodPost, "/api/v1/sources/"+url.PathEscape(id)+"/backfill", in, nil); err != nil {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "error", rc, page{Title: s.Name, Nav: "sources", Error: asAPIError(err),
			Data: map[string]any{"Back": back}})
		return
	}
	http.Redirect(w, rc.r, back+"?notice="+url.QueryEscape("Backfill started from "+in["since"]), http.StatusSeeOther)
}
