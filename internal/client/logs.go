package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// LogQuery is a System Log query (GET /api/v1/logs). Zero fields are left
// out, so the server's defaults apply.
type LogQuery struct {
	// Since and Until bound published time. With Until set (or Descending)
	// the query is bounded and ends; without, it is a polling query.
	Since, Until time.Time
	// Filter is an Okta filter expression, e.g. `eventType eq "user.session.start"`.
	Filter string
	// Q is keyword search: every keyword must match.
	Q string
	// Limit is the page size (server default 100, at most 1000).
	Limit int
	// Descending orders newest first.
	Descending bool
}

// DefaultPollInterval is how long TailLogs waits after a short page.
const DefaultPollInterval = 2 * time.Second

func (q LogQuery) values() url.Values {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if q.Filter != "" {
		v.Set("filter", q.Filter)
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Descending {
		v.Set("sortOrder", "DESCENDING")
	}
	return v
}

// LogPage is one page of events, each the event's JSON as stored.
type LogPage struct {
	Events []json.RawMessage
	// Next is the rel="next" link, empty on the last page of a bounded query.
	Next string
}

// LogsPage fetches one page: the query's first page when next is empty,
// else the page at next (a link from an earlier page).
func (c *Client) LogsPage(ctx context.Context, q LogQuery, next string) (LogPage, error) {
	u := c.url("/api/v1/logs?" + q.values().Encode())
	if next != "" {
		var err error
		if u, err = c.onBase(next); err != nil {
			return LogPage{}, err
		}
	}
	var page LogPage
	h, err := c.do(ctx, request{method: http.MethodGet, url: u, idempotent: true}, &page.Events)
	if err != nil {
		return LogPage{}, err
	}
	page.Next = nextLink(h)
	return page, nil
}

// QueryLogs calls fn with each page of the query, following rel="next"
// links, until a bounded query's last page or, for a polling query, the
// first page shorter than the page size (the events so far). fn may keep
// the events.
func (c *Client) QueryLogs(ctx context.Context, q LogQuery, fn func([]json.RawMessage) error) error {
	limit := orDefault(q.Limit, 100)
	polling := q.Until.IsZero() && !q.Descending
	next := ""
	for range maxPages {
		page, err := c.LogsPage(ctx, q, next)
		if err != nil {
			return err
		}
		if len(page.Events) > 0 {
			if err := fn(page.Events); err != nil {
				return err
			}
		}
		if page.Next == "" || polling && len(page.Events) < limit {
			return nil
		}
		next = page.Next
	}
	return fmt.Errorf("GET /api/v1/logs: more than %d pages", maxPages)
}

// TailLogs follows a polling query like an Okta poller: it follows
// rel="next" links, waiting interval (DefaultPollInterval when zero) after
// a page shorter than the page size, and calls fn with every non-empty
// page, until ctx ends (it then returns nil) or a request fails.
func (c *Client) TailLogs(ctx context.Context, q LogQuery, interval time.Duration, fn func([]json.RawMessage) error) error {
	interval = orDefault(interval, DefaultPollInterval)
	q.Until, q.Descending = time.Time{}, false
	limit := orDefault(q.Limit, 100)
	next := ""
	for {
		page, err := c.LogsPage(ctx, q, next)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(page.Events) > 0 {
			if err := fn(page.Events); err != nil {
				return err
			}
		}
		if page.Next != "" {
			next = page.Next
		}
		if len(page.Events) < limit {
			if err := c.sleep(ctx, interval); err != nil {
				return nil
			}
		}
	}
}

// onBase keeps a link's path and query but sends it to the client's own
// server, as Okta's SDKs do: the server builds links from its public URL,
// which may differ from the address this client uses, and the token must
// never go anywhere else.
func (c *Client) onBase(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("next link %q: %w", link, err)
	}
	base, err := url.Parse(c.base)
	if err != nil {
		return "", err
	}
	base.Path = u.Path
	base.RawPath = u.RawPath
	base.RawQuery = u.RawQuery
	return base.String(), nil
}
