package sink

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Problems collects what a Config's Validate finds wrong, so that it
// reports every problem at once. Its zero value is empty and ready.
type Problems []error

// Addf adds a problem, formatted as fmt.Errorf does.
func (p *Problems) Addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// Add adds errs; the nils among them are dropped by Err.
func (p *Problems) Add(errs ...error) { *p = append(*p, errs...) }

// Err joins the problems, or is nil when there are none.
func (p Problems) Err() error { return errors.Join(p...) }

// The checks below are the ones every destination's Config.Validate
// shares. Each returns nil when the setting is good, so a Validate can
// append their results to its problems and errors.Join drops the nils.

// CheckBetween refuses an integer setting outside lo..hi, as
// "name v: want between lo and hi".
func CheckBetween(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %d: want between %d and %d", name, v, lo, hi)
	}
	return nil
}

// CheckTimeout refuses a request timeout that is not positive or is
// longer than most, as "timeout d: want between 0 and most".
func CheckTimeout(d Duration, most time.Duration) error {
	if d.D() <= 0 || d.D() > most {
		return fmt.Errorf("timeout %v: want between 0 and %v", d.D(), most)
	}
	return nil
}

// URLRules say what a destination's URL setting may hold besides an
// http or https scheme and a host.
type URLRules struct {
	// Credentials names the setting credentials go in instead of the
	// URL's user info ("auth", "token").
	Credentials string
	// Query allows a query string (a webhook's full URL); without it the
	// URL is a base URL: no query and no fragment.
	Query bool
	// InsecureHTTP allows plain http to hosts other than this machine
	// (CheckTransport).
	InsecureHTTP bool
}

// ParseURL parses a destination's URL setting and refuses what no
// destination sends to: not a URL, a scheme other than http and https,
// no host, credentials in the URL, a fragment (never sent), a query
// unless rules allow it, and plain http elsewhere than this machine
// unless rules allow it. The error names neither the setting nor the
// URL: the caller prefixes them.
func ParseURL(raw string, rules URLRules) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme %q: want https (or http)", u.Scheme)
	case u.Hostname() == "":
		return nil, errors.New("no host")
	case u.User != nil:
		return nil, fmt.Errorf("credentials in the URL: use %s", rules.Credentials)
	case !rules.Query && (u.RawQuery != "" || u.Fragment != ""):
		return nil, errors.New("no query or fragment, the base URL only")
	case u.Fragment != "":
		return nil, errors.New("fragment is not sent: remove it")
	}
	if err := CheckTransport(u, rules.InsecureHTTP); err != nil {
		return nil, err
	}
	return u, nil
}
