package sink

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// HTTPClient returns the client a destination sends with: a copy of shared
// when given (so the sink's settings stay its own), else a client of its
// own, which own reports so Close can release its idle connections. It
// never follows redirects: audit data goes only where the stream's owner
// said, and a redirect is answered as the destination's response.
func HTTPClient(shared *http.Client) (c *http.Client, own bool) {
	if shared != nil {
		cp := *shared
		c = &cp
	} else {
		c = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		own = true
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, own
}

// ErrForbiddenTarget wraps the error of Deps.Egress when it refuses a URL
// (the service's own API, for one).
var ErrForbiddenTarget = errors.New("target not allowed")

// CheckTransport refuses plain http to anything but this machine unless
// insecure is set: audit events, and the credentials sent with them,
// would cross the network unencrypted.
func CheckTransport(u *url.URL, insecure bool) error {
	if u.Scheme != "http" || insecure || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("plain http to %s would send audit events and credentials unencrypted: use https, or set insecureHttp to true", u.Host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
