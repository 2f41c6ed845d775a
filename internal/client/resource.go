package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// resource is one collection of the API (log streams, sources, tokens):
// the calls every collection answers alike, each with its path and its
// resend rule in this one place. T is an item as the server shows it.
type resource[T any] struct {
	c *Client
	// path is the collection, e.g. "/api/v1/sources".
	path string
}

// item is the path of the item id, with further segments appended.
func (r resource[T]) item(id string, rest ...string) string {
	return r.path + "/" + strings.Join(append([]string{url.PathEscape(id)}, rest...), "/")
}

// list returns every item, following Link rel="next" pages.
func (r resource[T]) list(ctx context.Context) ([]T, error) { return getAll[T](ctx, r.c, r.path) }

// get returns the item id.
func (r resource[T]) get(ctx context.Context, id string) (T, error) {
	return call[T](ctx, r.c, http.MethodGet, r.item(id), safeToResend, nil)
}

// create POSTs body (the item's writable fields) and returns the item as
// stored. It is not retried after connection errors: the lost request may
// have created the item.
func (r resource[T]) create(ctx context.Context, body any) (T, error) {
	return call[T](ctx, r.c, http.MethodPost, r.path, sendOnce, body)
}

// replace PUTs body (the item's writable fields) to the item id and
// returns it as stored.
func (r resource[T]) replace(ctx context.Context, id string, body any) (T, error) {
	return call[T](ctx, r.c, http.MethodPut, r.item(id), safeToResend, body)
}

// delete deletes the item id.
func (r resource[T]) delete(ctx context.Context, id string) error {
	return r.c.send(ctx, http.MethodDelete, r.item(id), safeToResend, nil, nil)
}

// Statuses of a log stream or a source (Stream.Status, Source.Status),
// changed by their activate and deactivate calls.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// lifecycle makes the transition to (activate or deactivate) of the item
// id and returns the item. Repeating one does no harm.
func (r resource[T]) lifecycle(ctx context.Context, id, to string) (T, error) {
	return call[T](ctx, r.c, http.MethodPost, r.item(id, "lifecycle", to), safeToResend, nil)
}

// maxPages bounds how many Link rel="next" pages a list follows, so a
// server that links a page to itself cannot keep the client forever.
const maxPages = 10000

// getAll GETs a JSON array, following Link rel="next" to the same server.
func getAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	return getUpTo[T](ctx, c, path, 0)
}

// getUpTo is getAll stopping once it has most items (0: no bound); it
// returns at most most items.
func getUpTo[T any](ctx context.Context, c *Client, path string, most int) ([]T, error) {
	all := []T{}
	next := c.url(path)
	for range maxPages {
		var page []T
		h, err := c.do(ctx, request{method: http.MethodGet, url: next, idempotent: true}, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if most > 0 && len(all) >= most {
			return all[:most], nil
		}
		link := nextLink(h)
		if link == "" || len(page) == 0 {
			return all, nil
		}
		u, err := c.sameServer(next, link)
		if err != nil {
			return nil, err
		}
		next = u
	}
	return nil, fmt.Errorf("GET %s: more than %d pages", path, maxPages)
}

// sameServer resolves link against cur and refuses links to another
// server, which would be sent the token.
func (c *Client) sameServer(cur, link string) (string, error) {
	base, err := url.Parse(cur)
	if err != nil {
		return "", err
	}
	u, err := base.Parse(link)
	if err != nil {
		return "", fmt.Errorf("next link %q: %w", link, err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return "", fmt.Errorf("next link %q leaves %s", link, base.Host)
	}
	return u.String(), nil
}

// nextLink returns the target of a Link header entry with rel="next".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for entry := range strings.SplitSeq(v, ",") {
			target, params, ok := strings.Cut(entry, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
					return target[1 : len(target)-1]
				}
			}
		}
	}
	return ""
}
