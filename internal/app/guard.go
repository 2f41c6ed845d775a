package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/auditstream/auditstream/internal/egress"
)

// errSelfTarget is returned when a destination would connect to this
// service's own API.
var errSelfTarget = errors.New("the destination is auditstream's own API")

// guardedTransport returns the HTTP transport destinations of trust use.
// It dials through the egress policy, which checks every address after name
// resolution and dials that address (so a DNS answer cannot change between
// check and connection), and the dialer underneath refuses this service's
// own listener, for everyone: no host name (a machine name, a DNS record
// pointing at 127.0.0.1, the machine's own LAN address) can aim a stream
// or a source at the service's API. Tenants' connections never go through
// an environment proxy (HTTPS_PROXY): the policy can only judge the
// addresses it dials itself.
func guardedTransport(listen string, policy *egress.Policy, trust egress.Trust, resolver egress.Resolver) *http.Transport {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		port = ""
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkSelfDial(address, port, ownAddrs())
		}}
	ed := &egress.Dialer{Policy: policy, Trust: trust, Dialer: d, Resolver: resolver}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = ed.DialContext
	if trust == egress.Tenant {
		tr.Proxy = nil
	}
	return tr
}

// outbound holds the guarded transports, one per trust, shared by every
// destination and source of that trust (connection pools included).
type outbound struct {
	policy *egress.Policy
	// resolver looks names up (nil: the system's); tests answer with
	// loopback addresses as a hostile DNS record would.
	resolver egress.Resolver
	mu       sync.Mutex
	listen   string
	tr       map[egress.Trust]*http.Transport
}

// setListen names the API's address, which the dialers refuse; call it
// before the first connection.
func (o *outbound) setListen(addr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.listen, o.tr = addr, nil
}

// transport is the guarded transport of trust.
func (o *outbound) transport(trust egress.Trust) *http.Transport {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tr == nil {
		o.tr = map[egress.Trust]*http.Transport{}
	}
	tr, ok := o.tr[trust]
	if !ok {
		tr = guardedTransport(o.listen, o.policy, trust, o.resolver)
		o.tr[trust] = tr
	}
	return tr
}

// checkSelfDial refuses address (a resolved ip:port) when it is the
// listener's port on a loopback, unspecified or own interface address.
func checkSelfDial(address, listenPort string, own []net.IP) error {
	host, port, err := net.SplitHostPort(address)
	if err != nil || listenPort == "" || port != listenPort {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return fmt.Errorf("%s: %w", address, errSelfTarget)
	}
	for _, o := range own {
		if o.Equal(ip) {
			return fmt.Errorf("%s: %w", address, errSelfTarget)
		}
	}
	return nil
}

// ownAddrs lists this machine's interface addresses.
func ownAddrs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	out := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}
