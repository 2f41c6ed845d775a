// Package egress decides which network addresses auditstream may connect
// to on behalf of a log stream or a source, and enforces it where the
// connection is made: in the dialer, on the address actually dialled after
// name resolution, so neither a host name that resolves to an internal
// address nor a DNS answer that changes between a check and the
// connection (rebinding) can lead around it.
//
// Destinations of tenants (org-scoped tokens) may not reach loopback,
// link-local (cloud metadata included), private (RFC 1918, CGNAT, ULA),
// unspecified, multicast or reserved addresses, nor their IPv4-mapped and
// IPv4-embedding IPv6 forms, unless the operator's allow list names them.
// The operator's deny list applies to every destination, the operator's
// own included; it wins over the allow list.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Trust says whose destination a connection is for.
type Trust int

const (
	// Tenant destinations were set by an org-scoped token: internal
	// addresses are refused unless allowed, and the deny list applies.
	Tenant Trust = iota
	// Operator destinations were set by an all-orgs token or in the
	// config file: only the deny list applies.
	Operator
)

func (t Trust) String() string {
	if t == Operator {
		return "operator"
	}
	return "tenant"
}

// ErrRefused is wrapped by every error the policy returns for an address
// it does not allow.
var ErrRefused = errors.New("egress policy refuses the address")

// Error is a refused address.
type Error struct {
	// Addr is the address (host:port, or host) refused.
	Addr string
	// Reason says why, for the caller: "a loopback address" or
	// "in egress.deny".
	Reason string
	// Denied is true when the operator's deny list refused it.
	Denied bool
}

func (e *Error) Error() string {
	if e.Denied {
		return fmt.Sprintf("%s is denied by the operator's egress.deny list", e.Addr)
	}
	return fmt.Sprintf("%s is %s, which destinations of org-scoped streams and sources may not reach (an operator can allow it with egress.allow)", e.Addr, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *Error) Unwrap() error { return ErrRefused }

// blocked are the ranges tenants' destinations may not reach, each with
// the words its refusals use. IPv4-mapped IPv6 addresses are unmapped
// before they are compared.
var blocked = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (\"this network\") address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private (RFC 1918) address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private (RFC 1918) address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private (RFC 1918) address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (RFC 6598) address"},
	{netip.MustParsePrefix("169.254.169.254/32"), "the cloud metadata address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol assignment address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "the cloud metadata address"},
	{netip.MustParsePrefix("fc00::/7"), "a unique local (ULA) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// nat64 and sixToFour carry an IPv4 address inside an IPv6 one; the IPv4
// address is checked too.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Blocked reports why ip is refused to tenants by default, or "" when it
// is a public address.
func Blocked(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	for _, b := range blocked {
		if b.prefix.Contains(ip) {
			return b.what
		}
	}
	if ip.Is6() {
		b := ip.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(ip):
			v4 = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixToFour.Contains(ip):
			v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if v4.IsValid() {
			if why := Blocked(v4); why != "" {
				return why + " (embedded in " + ip.String() + ")"
			}
		}
	}
	return ""
}

// rule is one entry of an allow or deny list.
type rule struct {
	prefix netip.Prefix // valid for address rules
	host   string       // lower case, for host:port rules
	port   int          // 0: any port
	text   string
}

func (r rule) matches(name string, ip netip.Addr, port int) bool {
	if r.port != 0 && r.port != port {
		return false
	}
	if r.host != "" {
		return name != "" && strings.EqualFold(strings.TrimSuffix(name, "."), r.host)
	}
	return ip.IsValid() && r.prefix.Contains(ip.Unmap().WithZone(""))
}

// parseRule reads a CIDR ("10.0.0.0/8"), an address ("10.1.2.3",
// "fd00::1"), an address with a port ("10.1.2.3:8088", "[fd00::1]:443")
// or a host name with a port ("splunk.corp:8088").
func parseRule(s string) (rule, error) {
	s = strings.TrimSpace(s)
	r := rule{text: s}
	if p, err := netip.ParsePrefix(s); err == nil {
		r.prefix = p.Masked()
		return r, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		r.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		return r, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return r, fmt.Errorf("%q: want a CIDR (10.0.0.0/8), an address, or host:port", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return r, fmt.Errorf("%q: port must be 1 to 65535", s)
	}
	r.port = n
	if a, err := netip.ParseAddr(host); err == nil {
		r.prefix = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		return r, nil
	}
	if strings.ContainsAny(host, "/ *") {
		return r, fmt.Errorf("%q: %q is not a host name", s, host)
	}
	r.host = strings.ToLower(strings.TrimSuffix(host, "."))
	return r, nil
}

// Policy is the operator's egress policy. The zero value (and nil) refuses
// tenants the blocked ranges and denies nothing else.
type Policy struct {
	allow, deny []rule
}

// New reads the operator's lists; it reports every bad entry at once.
func New(allow, deny []string) (*Policy, error) {
	p := &Policy{}
	var errs []error
	for i, s := range allow {
		r, err := parseRule(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("egress.allow[%d]: %w", i, err))
		}
		p.allow = append(p.allow, r)
	}
	for i, s := range deny {
		r, err := parseRule(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("egress.deny[%d]: %w", i, err))
		}
		p.deny = append(p.deny, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate checks allow and deny lists as New reads them.
func Validate(allow, deny []string) error {
	_, err := New(allow, deny)
	return err
}

// CheckAddr decides whether a destination of trust may connect to ip on
// port; name is the host name that resolved to ip ("" when the destination
// named the address itself).
func (p *Policy) CheckAddr(trust Trust, name string, ip netip.Addr, port int) error {
	shown := net.JoinHostPort(ip.String(), strconv.Itoa(port))
	if name != "" {
		shown = fmt.Sprintf("%s (%s)", net.JoinHostPort(name, strconv.Itoa(port)), ip)
	}
	if p != nil {
		for _, r := range p.deny {
			if r.matches(name, ip, port) {
				return &Error{Addr: shown, Reason: "in egress.deny", Denied: true}
			}
		}
	}
	if trust == Operator {
		return nil
	}
	why := Blocked(ip)
	if why == "" {
		return nil
	}
	if p != nil {
		for _, r := range p.allow {
			if r.matches(name, ip, port) {
				return nil
			}
		}
	}
	return &Error{Addr: shown, Reason: why}
}

// Check is the policy's verdict on a destination before any connection:
// host is an address or a name as written in the settings, port its port.
// Addresses, "localhost" and its subdomains are judged fully; other names
// only against host:port rules, since what they resolve to is known only
// when they are dialled (where the Dialer judges every address). It
// makes no DNS query.
func (p *Policy) Check(trust Trust, host string, port int) error {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(trust, "", a, port)
	}
	lower := strings.ToLower(host)
	if lower == "localhost" || strings.HasSuffix(lower, ".localhost") {
		for _, a := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
			if err := p.CheckAddr(trust, host, a, port); err != nil {
				return err
			}
		}
		return nil
	}
	if p != nil {
		for _, r := range p.deny {
			if r.host != "" && r.matches(host, netip.Addr{}, port) {
				return &Error{Addr: net.JoinHostPort(host, strconv.Itoa(port)), Reason: "in egress.deny", Denied: true}
			}
		}
	}
	return nil
}

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ContextDialer dials a resolved address; *net.Dialer is one.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Dialer connects only where the policy allows a destination of Trust.
// It resolves names itself and dials the checked address, never the name,
// so the address checked is the address connected to.
type Dialer struct {
	Policy *Policy
	Trust  Trust
	// Dialer makes the connection to an address that passed (nil: a
	// net.Dialer with default settings).
	Dialer ContextDialer
	// Resolver looks names up (nil: net.DefaultResolver).
	Resolver Resolver
}

// DialContext resolves address's host, drops the addresses the policy
// refuses, and dials the others in turn. When every address is refused the
// error wraps ErrRefused and names the first refused address.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		// A service name ("https"): let the resolver of the net package
		// find the number.
		p, lerr := net.DefaultResolver.LookupPort(ctx, network, portText)
		if lerr != nil {
			return nil, lerr
		}
		port = p
	}
	var ips []netip.Addr
	name := ""
	if a, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{a}
	} else {
		name = host
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		ipNet := "ip"
		switch network {
		case "tcp4", "udp4":
			ipNet = "ip4"
		case "tcp6", "udp6":
			ipNet = "ip6"
		}
		ips, err = r.LookupNetIP(ctx, ipNet, host)
		if err != nil {
			return nil, err
		}
	}
	dialer := d.Dialer
	if dialer == nil {
		dialer = &net.Dialer{}
	}
	var refused, last error
	for _, ip := range ips {
		if err := d.Policy.CheckAddr(d.Trust, name, ip, port); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), strconv.Itoa(port)))
		if err == nil {
			return conn, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	if last != nil {
		return nil, last
	}
	if refused != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: refused}
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s: no addresses", host)}
}
