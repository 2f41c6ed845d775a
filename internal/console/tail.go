package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The System Log's live tail: the page's script (tail.js) asks
// /console/logs/tail for the events persisted since the page opened that
// match the page's filter and keywords, following the cursor of the
// API's polling mode (GET /api/v1/logs with since and no until: every
// page has a next link, and following it returns only events that arrived
// after). The server keeps nothing between requests: the browser holds
// the cursor; each request reads at most tailPage events, and the script
// keeps at most a few hundred rows.

// tailPage bounds the events one tail request returns.
const tailPage = 50

// tailRows is one answer of /console/logs/tail.
type tailRows struct {
	// After is the cursor of the next request.
	After string `json:"after"`
	// Rows are the new events as table rows (html/template, escaped),
	// oldest first.
	Rows  string `json:"rows"`
	Count int    `json:"count"`
	// Error is Okta's error text when the API refused.
	Error string `json:"error,omitempty"`
	// RetryAfter is how long to wait, in seconds, after a 429.
	RetryAfter int `json:"retryAfter,omitempty"`
}

// tailQuery is the API's polling query for the tail: the same since,
// filter and q on every request, as the cursor is bound to them.
func tailQuery(since, filter, q, after string) string {
	v := url.Values{"since": {since}, "limit": {strconv.Itoa(tailPage)}}
	if filter != "" {
		v.Set("filter", filter)
	}
	if q != "" {
		v.Set("q", q)
	}
	if after != "" {
		v.Set("after", after)
	}
	return "/api/v1/logs?" + v.Encode()
}

func (c *Console) logsTail(w http.ResponseWriter, rc *reqCtx) {
	q := rc.r.URL.Query()
	since := q.Get("since")
	write := func(status int, out tailRows) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}
	if _, err := time.Parse(time.RFC3339Nano, since); err != nil {
		write(http.StatusBadRequest, tailRows{Error: "Api validation failed: since: " + strconv.Quote(since) + " is not an RFC 3339 time"})
		return
	}
	after := q.Get("after")
	var raw []json.RawMessage
	res, err := c.call(rc, http.MethodGet, tailQuery(since, q.Get("filter"), q.Get("q"), after), nil, &raw)
	if err != nil {
		out := tailRows{After: after, Error: asAPIError(err).Error()}
		status := http.StatusBadRequest
		if res != nil && res.Status == http.StatusTooManyRequests {
			status = http.StatusTooManyRequests
			out.RetryAfter = 5
			if reset, err := strconv.ParseInt(res.Header.Get("X-Rate-Limit-Reset"), 10, 64); err == nil {
				out.RetryAfter = max(1, int(time.Until(time.Unix(reset, 0)).Seconds())+1)
			}
		}
		write(status, out)
		return
	}
	out := tailRows{After: after, Count: len(raw)}
	if a := nextAfter(res.Header); a != "" {
		out.After = a
	}
	var b bytes.Buffer
	if err := c.pages["logs"].ExecuteTemplate(&b, "tailrows", decodeEvents(raw)); err != nil {
		c.d.Log.Error("console render", "page", "tail", "err", err)
		write(http.StatusInternalServerError, tailRows{After: after, Error: "the events could not be drawn"})
		return
	}
	out.Rows = b.String()
	write(http.StatusOK, out)
}
