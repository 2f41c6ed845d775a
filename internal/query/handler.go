package query

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/jsonlex"
)

// Parameter limits of GET /api/v1/logs (OKTA.md §1.1, §2.2).
const (
	// DefaultLimit is the page size when limit is absent.
	DefaultLimit = 100
	// MaxLimit is the largest page.
	MaxLimit = 1000
	// DefaultWindow is how far back since defaults to: Okta's 7 days.
	DefaultWindow = 7 * 24 * time.Hour
)

const (
	sortAsc  = "ASCENDING"
	sortDesc = "DESCENDING"
)

// Routes returns the System Log query endpoint.
func (e *Engine) Routes() []httpapi.Route {
	return []httpapi.Route{{Pattern: "GET /api/v1/logs", Scope: auth.ScopeReadLogs, Handle: e.ServeLogs}}
}

// ServeLogs is GET /api/v1/logs.
func (e *Engine) ServeLogs(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return e.ServeSlice(w, r, tok, "/api/v1/logs", "")
}

// ServeSlice answers like GET /api/v1/logs (same parameters, paging and
// cursors) with only the events that also match scope, a filter
// expression the caller builds (the events of one user, say), and with its
// links on path. The token's org limits the events, as for
// /api/v1/logs.
func (e *Engine) ServeSlice(w http.ResponseWriter, r *http.Request, tok auth.Token, path, scope string) error {
	h := w.Header()
	h.Set("X-Okta-Request-Id", requestID())
	if e.rl != nil {
		st := e.rl.take(tok.ID)
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(st.limit))
		h.Set("X-Rate-Limit-Remaining", strconv.Itoa(st.remaining))
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt((st.reset.UnixNano()+int64(time.Second)-1)/int64(time.Second), 10))
		if !st.ok {
			return &httpapi.Error{Status: http.StatusTooManyRequests, Code: httpapi.CodeRateLimit,
				Summary: "API call exceeded rate limit due to too many requests.", RetryAfter: st.reset.Sub(e.cfg.Now())}
		}
	}
	req, err := e.parse(r.URL.Query(), tok, scope)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), e.cfg.Timeout)
	defer cancel()
	var p page
	if req.polling {
		p, err = e.poll(ctx, req)
	} else {
		p, err = e.bounded(ctx, req)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
			return httpapi.Errorf(http.StatusInternalServerError, httpapi.CodeInternal,
				"The query did not finish within %s; narrow the time range or the filter", e.cfg.Timeout)
		}
		if r.Context().Err() != nil {
			return nil // the client went away
		}
		return err
	}
	self := e.cfg.BaseURL + path
	if r.URL.RawQuery != "" {
		self += "?" + r.URL.RawQuery
	}
	h.Add("Link", "<"+self+`>; rel="self"`)
	if p.stopped {
		h.Set(ScanStoppedHeader, scanBudget(r.Context()).String())
	}
	switch {
	case p.next != nil:
		q := r.URL.Query()
		q.Set("after", sealCursor(e.key, *p.next))
		h.Add("Link", "<"+e.cfg.BaseURL+path+"?"+q.Encode()+`>; rel="next"`)
	case req.polling:
		// No position yet (since lies ahead): ask the same again.
		h.Add("Link", "<"+self+`>; rel="next"`)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	body := jsonlex.AppendArray(nil, p.items, func(it item) []byte { return it.data })
	body = append(body, '\n')
	_, _ = w.Write(body)
	return nil
}

// validation is Okta's E0000001 for one parameter.
func validation(param, cause string) *httpapi.Error {
	return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: '%s': %s", param, cause).
		WithCauses(param + ": " + cause)
}

const dateCause = "The date format in your query is not recognized. Please enter dates using ISO 8601 string format."

// parse validates the parameters and resolves the query's mode and range;
// scope, when set, is a filter the request's own filter is ANDed with.
func (e *Engine) parse(q url.Values, tok auth.Token, scope string) (*request, error) {
	r := &request{org: tok.Org, limit: DefaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return nil, validation("limit", fmt.Sprintf("'%s' is not an integer between 0 and %d", v, MaxLimit))
		case n > MaxLimit && e.cfg.ClampLimit:
			n = MaxLimit
		case n < 0 || n > MaxLimit:
			return nil, validation("limit", fmt.Sprintf("must be between 0 and %d", MaxLimit))
		}
		r.limit = n
	}
	order := q.Get("sortOrder")
	switch order {
	case "", sortAsc:
		order = sortAsc
	case sortDesc:
		r.desc = true
	default:
		return nil, validation("sortOrder", "must be ASCENDING or DESCENDING")
	}
	var since, until time.Time
	sinceStr, untilStr := q.Get("since"), q.Get("until")
	if sinceStr != "" {
		t, ok := parseTime(sinceStr)
		if !ok {
			return nil, validation("since", dateCause)
		}
		since = t
	}
	if untilStr != "" {
		t, ok := parseTime(untilStr)
		if !ok {
			return nil, validation("until", dateCause)
		}
		until = t
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		return nil, validation("since", "must not be after until")
	}
	filter := q.Get("filter")
	if scope != "" {
		if filter == "" {
			filter = scope
		} else {
			filter = "(" + scope + ") and (" + filter + ")"
		}
	}
	f, err := ParseFilter(filter)
	if err != nil {
		var fe *FilterError
		if errors.As(err, &fe) {
			status := http.StatusBadRequest
			return nil, httpapi.Errorf(status, fe.Code, "%s", fe.Error())
		}
		return nil, err
	}
	r.filter = f
	kw, err := ParseKeywords(q.Get("q"))
	if err != nil {
		return nil, validation("q", err.Error())
	}
	r.keywords = kw

	r.polling = untilStr == "" && !r.desc
	mode := "b"
	if r.polling {
		mode = "p"
	}
	r.fp = fingerprint(mode, tok.Org, filter, strings.Join(kw, " "), order, canonicalTime(since), canonicalTime(until))
	if a := q.Get("after"); a != "" {
		c, err := openCursor(e.key, a, r.fp)
		if err != nil || c.Mode != mode {
			return nil, validation("after", "the cursor is not valid for this query; follow the next link as given")
		}
		r.after = &c
	}
	now := e.cfg.Now()
	switch {
	case r.polling:
		r.since = since
		if since.IsZero() {
			r.since = now.Add(-DefaultWindow)
		}
	case r.after != nil:
		r.lo, r.hi = r.after.Lo, r.after.Hi
	default:
		if until.IsZero() {
			until = now
		}
		if since.IsZero() {
			since = until.Add(-DefaultWindow)
		}
		r.lo, r.hi = since.UnixNano(), until.UnixNano()
	}
	return r, nil
}

func canonicalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func requestID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
