package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/auditstream/auditstream/internal/wire"
)

// The progress of a replay or a redrive on a stream's page. A replay
// moves the stream's consumer back; its progress is the stream's lag
// going down toward 0 from what it was just after the replay started. A
// redrive runs within its API request; its progress is the dead letters
// left going down from what there were when it started. The page draws
// the block once; opprogress.js asks /console/streams/{id}/progress for it
// again every second while it runs. The server keeps nothing: the start
// (from) travels in the query.

// maxDeadCount is how many dead letters the progress counts at most (the
// API's page limit).
const maxDeadCount = 1000

// opProgress is a replay's or a redrive's progress as the page shows it.
type opProgress struct {
	Kind string // "replay" or "redrive"
	// From is the lag (replay) or the dead letters (redrive) at the start;
	// Left is what is left now.
	From, Left int
	// LeftCapped: there are more dead letters than maxDeadCount.
	LeftCapped bool
	// Redriven is the redrive's count, once it answered.
	Redriven int
	Percent  int
	Running  bool
	// Delivered is the stream's delivered count (replay).
	Delivered uint64
	Err       *apiError
}

// progressOf reads a stream's progress of kind from the API. q holds
// from, and for a finished redrive done=1 and n (how many it redrove).
func (c *Console) progressOf(rc *reqCtx, id, kind string, q url.Values) (*opProgress, error) {
	if kind != "replay" && kind != "redrive" {
		return nil, nil
	}
	base := "/api/v1/logStreams/" + url.PathEscape(id)
	p := &opProgress{Kind: kind}
	p.From, _ = strconv.Atoi(q.Get("from"))
	switch kind {
	case "replay":
		var st wire.StreamStatus
		if _, err := c.call(rc, http.MethodGet, base+"/status", nil, &st); err != nil {
			return nil, err
		}
		p.Left, p.Delivered = int(st.LagEvents), st.Delivered
		p.Running = p.Left > 0
	case "redrive":
		var dead []wire.DeadLetter
		if _, err := c.call(rc, http.MethodGet, base+"/deadLetters?limit="+strconv.Itoa(maxDeadCount), nil, &dead); err != nil {
			return nil, err
		}
		p.Left, p.LeftCapped = len(dead), len(dead) >= maxDeadCount
		p.Redriven, _ = strconv.Atoi(q.Get("n"))
		p.From = max(p.From, p.Redriven+p.Left)
		p.Running = q.Get("done") == "" && p.Left > 0
	}
	p.From = max(p.From, p.Left)
	switch {
	case !p.Running && (kind == "replay" || p.Left == 0):
		p.Percent = 100
	case p.From > 0:
		p.Percent = min(99, (p.From-p.Left)*100/p.From)
	}
	return p, nil
}

// streamProgress is the progress block alone, for opprogress.js.
func (c *Console) streamProgress(w http.ResponseWriter, rc *reqCtx) {
	q := rc.r.URL.Query()
	p, err := c.progressOf(rc, rc.r.PathValue("id"), q.Get("kind"), q)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch {
	case err != nil:
		ae := asAPIError(err)
		status := http.StatusBadRequest
		if ae.Code == "E0000007" {
			status = http.StatusNotFound
		}
		w.WriteHeader(status)
		return
	case p == nil:
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := c.pages["stream"].ExecuteTemplate(w, "opprogress", p); err != nil {
		c.d.Log.Error("console render", "page", "stream progress", "err", err)
	}
}
