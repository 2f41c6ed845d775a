package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/detect"
)

// A backtest from the console is a job of the detections API
// (POST /api/v1/detections/backtests): the form starts it and the browser
// lands on the job's page, which shows its progress (the org's events
// scanned, the journal position against the range it reads, the matches
// so far) and, once it ended, its result. backtest.js asks
// /console/detections/backtests/{id}/progress for the block again every
// second while the job runs; Cancel is the API's cancel. The server keeps
// nothing: every read is GET /api/v1/detections/backtests/{id} as the
// signed-in identity, so a job is visible to its org only.

// backtestJob is a job as GET /api/v1/detections/backtests/{id} answers:
// the detections API's own BacktestJob (decoded from its JSON), its
// result's detections with the links the page draws from them.
type backtestJob struct {
	detect.BacktestJob
	Result *backtestResult `json:"result"`
}

// backtestResult is a backtest job's result.
type backtestResult struct {
	detect.BacktestResult
	Detections []detection `json:"detections"`
}

// Running reports whether the job still runs.
func (j backtestJob) Running() bool { return j.Status == detect.JobRunning }

// Percent is how far the job got through the journal range it reads:
// the position against [first, last]; 100 once it ended.
func (j backtestJob) Percent() int {
	if !j.Running() {
		return 100
	}
	p := j.Progress
	if p.First == 0 || p.Position < p.First || p.Last < p.First {
		return 0
	}
	return min(99, int((p.Position-p.First+1)*100/(p.Last-p.First+1)))
}

// Took is how long the job ran (it ended).
func (j backtestJob) Took() string {
	if j.Finished.IsZero() {
		return ""
	}
	return j.Finished.Sub(j.Created).Round(time.Millisecond).String()
}

// EventsLink is the System Log page with the events of the detections
// the job found (the first 50), over their windows; "" without any.
func (j backtestJob) EventsLink() string {
	if j.Result == nil || len(j.Result.Detections) == 0 {
		return ""
	}
	var all detection
	var ids []string
	for _, d := range j.Result.Detections {
		if all.WindowStart.IsZero() || (!d.WindowStart.IsZero() && d.WindowStart.Before(all.WindowStart)) {
			all.WindowStart = d.WindowStart
		}
		if d.Published.After(all.Published) {
			all.Published = d.Published
		}
		for _, id := range append(d.Events, d.LastEvent) {
			if id != "" && len(ids) < 50 {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return all.logsLink(ids)
}

// BacktestEventsLink is the System Log page with the events of a
// detection a backtest found (which, raised by nothing, has no event of
// its own).
func (d detection) BacktestEventsLink() string {
	if len(d.Events) == 0 && d.LastEvent == "" {
		return ""
	}
	return d.logsLink(append([]string(nil), d.Events...))
}

// backtest starts a backtest job of a rule or a pack over the org's
// journal events (raising nothing) and sends the browser to its page.
func (c *Console) backtest(w http.ResponseWriter, rc *reqCtx) {
	f := rc.r.PostForm
	org := orgParam(rc)
	in := map[string]string{}
	if v := strings.TrimSpace(f.Get("rule")); v != "" {
		in["rule"] = v
	}
	if v := strings.TrimSpace(f.Get("pack")); v != "" {
		in["pack"] = v
	}
	d := map[string]any{"Rule": in["rule"], "Pack": in["pack"], "Org": org}
	var causes []string
	for _, k := range []string{"since", "until"} {
		v := strings.TrimSpace(f.Get(k))
		if v == "" {
			continue
		}
		t, err := parseLocal(v, f.Get("tz"))
		if err != nil {
			causes = append(causes, k+": "+err.Error())
			continue
		}
		in[k] = t.UTC().Format(time.RFC3339)
	}
	if len(causes) > 0 {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "detections-backtest", rc, page{Title: "Backtest", Nav: "detections",
			Error: &apiError{Code: "E0000001", Summary: "Api validation failed: backtest", Causes: causes}, Data: d})
		return
	}
	var job backtestJob
	if _, err := c.call(rc, http.MethodPost, withOrg("/api/v1/detections/backtests", org), in, &job); err != nil {
		c.renderAPIError(w, rc, "detections-backtest", err, page{Title: "Backtest", Nav: "detections", Data: d})
		return
	}
	http.Redirect(w, rc.r, withOrg("/console/detections/backtests/"+url.PathEscape(job.ID), org), http.StatusSeeOther)
}

// backtestJobData reads the job of the request's path as the signed-in
// identity.
func (c *Console) backtestJobData(rc *reqCtx) (map[string]any, error) {
	org, id := orgParam(rc), rc.r.PathValue("id")
	var job backtestJob
	if _, err := c.call(rc, http.MethodGet, withOrg("/api/v1/detections/backtests/"+url.PathEscape(id), org), nil, &job); err != nil {
		return nil, err
	}
	return map[string]any{"Job": job, "Rule": job.Rule, "Pack": job.Pack, "Org": org}, nil
}

// backtestPage is a backtest job's page.
func (c *Console) backtestPage(w http.ResponseWriter, rc *reqCtx) {
	d, err := c.backtestJobData(rc)
	if err != nil {
		c.renderAPIError(w, rc, "error", err, page{Title: "Backtest", Nav: "detections"})
		return
	}
	c.render(w, rc.r, "detections-backtest", rc, page{Title: "Backtest", Nav: "detections", Data: d})
}

// backtestProgress is the job's block alone, for backtest.js.
func (c *Console) backtestProgress(w http.ResponseWriter, rc *reqCtx) {
	d, err := c.backtestJobData(rc)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err != nil {
		w.WriteHeader(apiStatus(err))
		return
	}
	if err := c.pages["detections-backtest"].ExecuteTemplate(w, "btjob", page{CSRF: rc.sess.CSRF, Data: d}); err != nil {
		c.d.Log.Error("console render", "page", "backtest progress", "err", err)
	}
}

// backtestCancel stops a running job (the API keeps what it found so
// far) and shows the job again.
func (c *Console) backtestCancel(w http.ResponseWriter, rc *reqCtx) {
	org, id := orgParam(rc), rc.r.PathValue("id")
	next := withOrg("/console/detections/backtests/"+url.PathEscape(id), org)
	if _, err := c.call(rc, http.MethodPost, withOrg("/api/v1/detections/backtests/"+url.PathEscape(id)+"/cancel", org), nil, nil); err != nil {
		c.renderAPIError(w, rc, "error", err, page{Title: "Backtest", Nav: "detections",
			Data: map[string]any{"Back": next}})
		return
	}
	http.Redirect(w, rc.r, addParam(next, "notice", "Backtest cancelled"), http.StatusSeeOther)
}
