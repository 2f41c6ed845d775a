package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/query"
)

// logEvent is what the table shows of an event; Raw is all of it.
type logEvent struct {
	UUID           string `json:"uuid"`
	Published      string `json:"published"`
	EventType      string `json:"eventType"`
	Severity       string `json:"severity"`
	DisplayMessage string `json:"displayMessage"`
	Actor          struct {
		ID          string `json:"id"`
		Type        string `json:"type"`
		AlternateID string `json:"alternateId"`
		DisplayName string `json:"displayName"`
	} `json:"actor"`
	Outcome struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
	Target []struct {
		AlternateID string `json:"alternateId"`
		DisplayName string `json:"displayName"`
	} `json:"target"`
	Client struct {
		IPAddress           string `json:"ipAddress"`
		GeographicalContext struct {
			Country string `json:"country"`
		} `json:"geographicalContext"`
	} `json:"client"`
	Raw json.RawMessage `json:"-"`
}

func (e logEvent) Targets() string {
	var s []string
	for _, t := range e.Target {
		s = append(s, firstOf(t.DisplayName, t.AlternateID))
	}
	return strings.Join(s, ", ")
}

func firstOf(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func decodeEvents(raw []json.RawMessage) []logEvent {
	out := make([]logEvent, len(raw))
	for i, r := range raw {
		_ = json.Unmarshal(r, &out[i])
		out[i].Raw = r
	}
	return out
}

// logQuery is the System Log form.
type logQuery struct {
	Preset, Since, Until, Filter, Q, After, TZ string
	since, until                               time.Time
}

var presets = map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// readQuery reads the form; since and until are RFC 3339 or
// datetime-local (with the browser's offset in tz).
func (c *Console) readQuery(r *http.Request) (logQuery, error) {
	q := r.URL.Query()
	lq := logQuery{Preset: q.Get("preset"), Since: q.Get("since"), Until: q.Get("until"), Filter: q.Get("filter"),
		Q: q.Get("q"), After: q.Get("after"), TZ: q.Get("tz")}
	now := c.d.Now().UTC()
	if lq.Since == "" && lq.Until == "" && lq.Preset == "" {
		lq.Preset = "24h"
	}
	if d, ok := presets[lq.Preset]; ok && lq.Since == "" && lq.Until == "" {
		lq.since, lq.until = now.Add(-d), now
		return lq, nil
	}
	lq.Preset = "custom"
	lq.since, lq.until = now.Add(-24*time.Hour), now
	if lq.Since != "" {
		t, err := parseLocal(lq.Since, lq.TZ)
		if err != nil {
			return lq, &apiError{Code: "E0000001", Summary: "Api validation failed: since", Causes: []string{err.Error()}}
		}
		lq.since = t
	}
	if lq.Until != "" {
		t, err := parseLocal(lq.Until, lq.TZ)
		if err != nil {
			return lq, &apiError{Code: "E0000001", Summary: "Api validation failed: until", Causes: []string{err.Error()}}
		}
		lq.until = t
	}
	return lq, nil
}

// api is the GET /api/v1/logs query for lq.
func (lq logQuery) api(limit int, after string) string {
	v := url.Values{"since": {lq.since.UTC().Format(time.RFC3339Nano)}, "until": {lq.until.UTC().Format(time.RFC3339Nano)},
		"limit": {strconv.Itoa(limit)}, "sortOrder": {"DESCENDING"}}
	if lq.Filter != "" {
		v.Set("filter", lq.Filter)
	}
	if lq.Q != "" {
		v.Set("q", lq.Q)
	}
	if after != "" {
		v.Set("after", after)
	}
	return "/api/v1/logs?" + v.Encode()
}

// link is a console URL for lq with changes.
func (lq logQuery) link(path string, set map[string]string) string {
	// Full precision: a next page's cursor is valid only for the very
	// same since and until.
	v := url.Values{"since": {lq.since.UTC().Format(time.RFC3339Nano)}, "until": {lq.until.UTC().Format(time.RFC3339Nano)}}
	if lq.Filter != "" {
		v.Set("filter", lq.Filter)
	}
	if lq.Q != "" {
		v.Set("q", lq.Q)
	}
	for k, x := range set {
		v.Set(k, x)
	}
	return path + "?" + v.Encode()
}

var afterRE = regexp.MustCompile(`<([^>]*)>;\s*rel="next"`)

// nextAfter is the after cursor of the answer's next link, if any.
func nextAfter(h http.Header) string {
	for _, l := range h.Values("Link") {
		if m := afterRE.FindStringSubmatch(l); m != nil {
			if u, err := url.Parse(m[1]); err == nil {
				return u.Query().Get("after")
			}
		}
	}
	return ""
}

const pageSize = 50

func (c *Console) logsPage(w http.ResponseWriter, rc *reqCtx) {
	lq, err := c.readQuery(rc.r)
	d := map[string]any{"Q": lq, "TailSince": c.d.Now().UTC().Format(time.RFC3339Nano)}
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "logs", rc, page{Title: "System Log", Nav: "logs", Error: asAPIError(err), Data: d})
		return
	}
	// The histogram's query runs beside the table's (both are the API's
	// GET /api/v1/logs): the page takes the longer of the two, not their sum.
	// A keyword search is the exception: the index cannot answer it, so
	// both queries would read every event of the range at once, on the same
	// cores. Its histogram waits for the table, and is not asked for when
	// the table's first page already holds every match.
	var (
		hraw  []json.RawMessage
		herr  error
		hdone = make(chan struct{})
	)
	hist := func() {
		defer close(hdone)
		hctx, cancel := context.WithTimeout(rc.r.Context(), histBudget)
		defer cancel()
		hrc := *rc
		hrc.r = rc.r.WithContext(hctx)
		_, herr = c.call(&hrc, http.MethodGet, lq.api(histLimit, ""), nil, &hraw)
		if hctx.Err() != nil {
			herr = hctx.Err()
		}
	}
	keywords := lq.Q != ""
	if !keywords {
		go hist()
	}
	// The table's query has a scan budget: over a sparse range (a
	// keyword, which the index cannot answer, reads every event of it) it
	// answers with the matches found within it and a next link that
	// searches on from where it stopped, so the page's time does not grow
	// with the range.
	var raw []json.RawMessage
	trc := *rc
	trc.r = rc.r.WithContext(query.WithScanBudget(rc.r.Context(), tableBudget))
	res, err := c.call(&trc, http.MethodGet, lq.api(pageSize, lq.After), nil, &raw)
	stopped := err == nil && res.Header.Get(query.ScanStoppedHeader) != ""
	if keywords {
		switch {
		case stopped:
			// The range is not read whole: a second read for the chart
			// would take as long again.
			herr = context.DeadlineExceeded
			close(hdone)
		case err == nil && lq.After == "" && len(raw) < pageSize:
			hraw = raw // every match of the range
			close(hdone)
		default:
			go hist()
		}
	}
	<-hdone
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "logs", rc, page{Title: "System Log", Nav: "logs", Error: asAPIError(err), Data: d})
		return
	}
	evs := decodeEvents(raw)
	d["Events"] = evs
	if a := nextAfter(res.Header); a != "" && (len(raw) == pageSize || stopped) {
		d["Next"] = lq.link("/console/logs", map[string]string{"after": a})
		if stopped {
			d["Stopped"] = tableBudget.String()
		}
	}
	if lq.After != "" {
		d["First"] = lq.link("/console/logs", nil)
	}
	d["NDJSON"] = lq.link("/console/logs/export", map[string]string{"format": "ndjson"})
	d["CSV"] = lq.link("/console/logs/export", map[string]string{"format": "csv"})
	// The histogram counts up to histLimit of the newest matches.
	switch {
	case herr == nil:
		d["Histogram"] = histogram(lq, hraw)
	case errors.Is(herr, context.DeadlineExceeded):
		d["HistogramSlow"] = histBudget.String()
	default:
		d["HistogramErr"] = asAPIError(herr).Error()
	}
	c.render(w, rc.r, "logs", rc, page{Title: "System Log", Nav: "logs", Data: d})
}

const (
	// tableBudget is the table's scan budget (query.WithScanBudget): past
	// it the page shows the matches found so far and a link that searches
	// on.
	tableBudget = 200 * time.Millisecond
	// histBudget bounds the histogram's query, so that a range whose
	// matches are sparse (each read from the journal) does not hold the
	// page: past it the page says the chart was left out.
	histBudget  = 200 * time.Millisecond
	histLimit   = 1000
	histBuckets = 48
)

// histogram draws the counts over [since, until) as SVG bars, each a link
// that zooms to its interval.
func histogram(lq logQuery, evs []json.RawMessage) template.HTML {
	span := lq.until.Sub(lq.since)
	if span <= 0 {
		return ""
	}
	counts := make([]int, histBuckets)
	for _, raw := range evs {
		var e struct {
			Published string `json:"published"`
		}
		_ = json.Unmarshal(raw, &e)
		t, err := time.Parse(time.RFC3339Nano, e.Published)
		if err != nil {
			continue
		}
		i := int(float64(t.Sub(lq.since)) / float64(span) * histBuckets)
		if i >= 0 && i < histBuckets {
			counts[i]++
		}
	}
	maxN := 1
	for _, n := range counts {
		maxN = max(maxN, n)
	}
	const width, height, barW = 960, 120, 20
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg class="histogram" viewBox="0 0 %d %d" role="img" aria-labelledby="hist-title"><title id="hist-title">Events over time</title>`, width, height+16)
	for i, n := range counts {
		from := lq.since.Add(span * time.Duration(i) / histBuckets)
		to := lq.since.Add(span * time.Duration(i+1) / histBuckets)
		h := float64(height) * float64(n) / float64(maxN)
		label := fmt.Sprintf("%d events %s to %s (UTC); open to zoom", n, from.UTC().Format("2006-01-02 15:04:05"), to.UTC().Format("15:04:05"))
		href := lq.link("/console/logs", map[string]string{"since": from.UTC().Format(time.RFC3339), "until": to.UTC().Format(time.RFC3339)})
		fmt.Fprintf(&b, `<a href="%s" aria-label="%s"><title>%s</title><rect class="bar" x="%d" y="%.1f" width="%d" height="%.1f"/>`+
			`<rect class="hit" x="%d" y="0" width="%d" height="%d"/></a>`,
			template.HTMLEscapeString(href), template.HTMLEscapeString(label), template.HTMLEscapeString(label),
			i*barW+1, float64(height)-h, barW-2, h, i*barW, barW, height)
	}
	fmt.Fprintf(&b, `<text x="0" y="%d" class="axis">%s</text><text x="%d" y="%d" class="axis" text-anchor="end">%s</text></svg>`,
		height+14, lq.since.UTC().Format("2006-01-02 15:04 UTC"), width, height+14, lq.until.UTC().Format("2006-01-02 15:04 UTC"))
	if len(evs) >= histLimit {
		fmt.Fprintf(&b, `<p class="hint">The chart counts the newest %d matches; narrow the range to see all.</p>`, histLimit)
	}
	return template.HTML(b.String())
}

// exportMax bounds one export.
const exportMax = 100000

// logsExport writes every match (at most exportMax) as NDJSON or CSV,
// paging through GET /api/v1/logs.
func (c *Console) logsExport(w http.ResponseWriter, rc *reqCtx) {
	lq, err := c.readQuery(rc.r)
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "logs", rc, page{Title: "System Log", Nav: "logs", Error: asAPIError(err), Data: map[string]any{"Q": lq}})
		return
	}
	format := rc.r.URL.Query().Get("format")
	var (
		cw      *csv.Writer
		started bool
		after   string
		n       int
	)
	for n < exportMax {
		var raw []json.RawMessage
		res, err := c.call(rc, http.MethodGet, lq.api(1000, after), nil, &raw)
		if err != nil {
			if !started {
				c.renderStatus(w, rc.r, http.StatusBadRequest, "logs", rc, page{Title: "System Log", Nav: "logs", Error: asAPIError(err), Data: map[string]any{"Q": lq}})
				return
			}
			c.d.Log.Warn("console export cut short", "err", err, "events", n)
			return
		}
		if !started {
			started = true
			name := "systemlog-" + c.d.Now().UTC().Format("20060102T150405Z")
			if format == "csv" {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
				w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
				cw = csv.NewWriter(w)
				_ = cw.Write([]string{"published", "uuid", "eventType", "severity", "actor", "displayMessage", "outcome", "target", "ipAddress", "country"})
			} else {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.ndjson"`)
			}
		}
		for i, e := range decodeEvents(raw) {
			if cw != nil {
				_ = cw.Write([]string{e.Published, e.UUID, e.EventType, e.Severity, firstOf(e.Actor.AlternateID, e.Actor.DisplayName),
					e.DisplayMessage, e.Outcome.Result, e.Targets(), e.Client.IPAddress, e.Client.GeographicalContext.Country})
			} else {
				var buf bytes.Buffer
				if json.Compact(&buf, raw[i]) == nil {
					buf.WriteByte('\n')
					_, _ = w.Write(buf.Bytes())
				}
			}
			n++
		}
		after = nextAfter(res.Header)
		if len(raw) < 1000 || after == "" {
			break
		}
	}
	if cw != nil {
		cw.Flush()
	}
}

// previewResult is one event of the filter preview.
type previewResult struct {
	E     logEvent
	Match bool
}

// filterPage shows the pattern editor; the preview runs it against the
// latest N events the identity can read (or a time range).
func (c *Console) filterPage(w http.ResponseWriter, rc *reqCtx) {
	d, perr := c.preview(rc)
	c.render(w, rc.r, "filter", rc, page{Title: "Filter editor", Nav: "filter", Data: d, Error: perr})
}

// filterPreview is the preview alone, for the page's script.
func (c *Console) filterPreview(w http.ResponseWriter, rc *reqCtx) {
	d, perr := c.preview(rc)
	t := c.pages["filter"]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := t.ExecuteTemplate(w, "preview", page{Data: d, Error: perr}); err != nil {
		c.d.Log.Error("console render", "page", "filter preview", "err", err)
	}
}

// previewRanges are the ranges the filter preview reads the latest
// events of.
var previewRanges = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

func (c *Console) preview(rc *reqCtx) (map[string]any, *apiError) {
	q := rc.r.URL.Query()
	pat := q.Get("pattern")
	n, _ := strconv.Atoi(q.Get("n"))
	if n <= 0 || n > 1000 {
		n = 100
	}
	rng := q.Get("range")
	span, ok := previewRanges[rng]
	if !ok {
		rng, span = "7d", previewRanges["7d"]
	}
	d := map[string]any{"Pattern": pat, "N": n, "Range": rng}
	if strings.TrimSpace(pat) == "" {
		return d, nil
	}
	d["Ran"] = true
	match, err := c.d.Match([]byte(pat))
	if err != nil {
		d["PatternError"] = err.Error()
		return d, nil
	}
	now := c.d.Now().UTC()
	lq := logQuery{since: now.Add(-span), until: now}
	var raw []json.RawMessage
	if _, err := c.call(rc, http.MethodGet, lq.api(n, ""), nil, &raw); err != nil {
		return d, asAPIError(err)
	}
	evs := decodeEvents(raw)
	res := make([]previewResult, len(evs))
	matched := 0
	for i, e := range evs {
		pub, _ := time.Parse(time.RFC3339Nano, e.Published)
		org := rc.who.Org
		rec := event.Record{UUID: e.UUID, Org: org, EventType: e.EventType, Published: pub, Data: e.Raw}
		res[i] = previewResult{E: e, Match: match(&rec)}
		if res[i].Match {
			matched++
		}
	}
	d["Results"], d["Matched"], d["Unmatched"] = res, matched, len(evs)-matched
	return d, nil
}

// SinceRFC is the start of the range, RFC 3339 UTC (for the page's script
// to show in the browser's zone).
func (lq logQuery) SinceRFC() string { return lq.since.UTC().Format(time.RFC3339) }

// UntilRFC is the end of the range, RFC 3339 UTC.
func (lq logQuery) UntilRFC() string { return lq.until.UTC().Format(time.RFC3339) }
