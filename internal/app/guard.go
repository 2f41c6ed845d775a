package app

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// errSelfTarget is returned when a destination would connect to this
// service's own API.
var errSelfTarget = errors.New("the destination is auditstream's own API")

// guardedClient returns the HTTP client destinations use. Its dialer checks
// the address it is about to connect to, after name resolution, so no host
// name (a machine name, a DNS record pointing at 127.0.0.1, the machine's
// own LAN address) can aim a stream at the service's listener.
func guardedClient(listen string) *http.Client {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		port = ""
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			return checkSelfDial(address, port, ownAddrs())
		}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	return &http.Client{Transport: tr}
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
