package notify

import (
	"net/url"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

// Webhook is what a destination that posts to a secret webhook URL
// (slack, teams) shares: each reads it from its own Config and adds its
// renderer.
type Webhook struct {
	// Name is the destination's type, for errors ("slack").
	Name string
	// URL is the webhook's URL, which is its credential: no message
	// names it.
	URL          secret.String
	InsecureHTTP bool
	Digest       sink.Duration
	Timeout      sink.Duration
	// MaxTimeout is the longest Timeout the destination accepts.
	MaxTimeout time.Duration
}

// Validate reports every problem with w at once, under the names of the
// settings (webhookUrl, digest, timeout).
func (w Webhook) Validate() error {
	var errs sink.Problems
	if w.URL == "" {
		errs.Addf("webhookUrl: required")
	} else if _, err := sink.ParseURL(w.URL.Reveal(), sink.URLRules{Credentials: "webhookUrl", Query: true, InsecureHTTP: w.InsecureHTTP}); err != nil {
		errs.Addf("webhookUrl: %w", err)
	}
	errs.Add(CheckDigest(w.Digest), sink.CheckTimeout(w.Timeout, w.MaxTimeout))
	return errs.Err()
}

// Prepared checks the URL of a valid w with the egress policy and
// returns w.
func (w Webhook) Prepared(deps sink.Deps) (Webhook, error) {
	return w, CheckURL(w.url(), deps)
}

// Options are the Options that post to w, with render.
func (w Webhook) Options(render Renderer) Options {
	u := w.url()
	return Options{Name: w.Name, URL: u, Shown: Shown(u), Timeout: w.Timeout.D(), Digest: w.Digest.D(), Render: render}
}

// url is the parsed URL of a valid w.
func (w Webhook) url() *url.URL {
	u, _ := url.Parse(w.URL.Reveal()) // Validate parsed it
	return u
}
