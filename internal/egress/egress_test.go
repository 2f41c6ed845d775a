package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestBlocked(t *testing.T) {
	tests := []struct {
		ip      string
		blocked bool
	}{
		{"127.0.0.1", true},
		{"127.9.9.9", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:7f00:1", true},
		{"0.0.0.0", true},
		{"::", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"100.64.0.1", true},
		{"169.254.169.254", true},
		{"::ffff:169.254.169.254", true},
		{"fd00:ec2::254", true},
		{"fe80::1", true},
		{"fc00::1", true},
		{"224.0.0.1", true},
		{"ff02::1", true},
		{"255.255.255.255", true},
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 form of 169.254.169.254
		{"2002:7f00:1::", true},      // 6to4 form of 127.0.0.1
		{"::127.0.0.1", true},        // IPv4-compatible
		{"8.8.8.8", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"2606:4700::1", false},
		{"64:ff9b::808:808", false},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			why := Blocked(netip.MustParseAddr(tt.ip))
			if (why != "") != tt.blocked {
				t.Fatalf("Blocked(%s): got %q, want blocked %v", tt.ip, why, tt.blocked)
			}
		})
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	_, err := New([]string{"10.0.0.0/8", "splunk.corp:8088", "[fd00::1]:443", "nonsense", "host:99999"}, []string{"1.2.3.4", "x/y"})
	if err == nil {
		t.Fatal("got nil, want errors for the bad entries")
	}
	for _, want := range []string{"egress.allow[3]", "egress.allow[4]", "egress.deny[1]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "allow[0]") || strings.Contains(err.Error(), "allow[1]") || strings.Contains(err.Error(), "allow[2]") {
		t.Errorf("got %v, want the good entries accepted", err)
	}
}

func TestCheckAddr(t *testing.T) {
	p, err := New([]string{"10.0.0.0/8", "splunk.corp:8088", "127.0.0.1:9200"}, []string{"203.0.113.0/24", "10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		trust  Trust
		host   string
		ip     string
		port   int
		ok     bool
		denied bool
	}{
		{"tenant loopback", Tenant, "", "127.0.0.1", 80, false, false},
		{"operator loopback", Operator, "", "127.0.0.1", 80, true, false},
		{"tenant metadata", Tenant, "", "169.254.169.254", 80, false, false},
		{"tenant mapped metadata", Tenant, "", "::ffff:169.254.169.254", 80, false, false},
		{"tenant allowed cidr", Tenant, "", "10.1.2.3", 443, true, false},
		{"tenant allowed host:port", Tenant, "splunk.corp", "192.168.5.5", 8088, true, false},
		{"tenant allowed host, other port", Tenant, "splunk.corp", "192.168.5.5", 8089, false, false},
		{"tenant allowed ip:port", Tenant, "", "127.0.0.1", 9200, true, false},
		{"tenant allowed ip, other port", Tenant, "", "127.0.0.1", 9201, false, false},
		{"tenant public", Tenant, "", "8.8.8.8", 443, true, false},
		{"deny wins over allow", Tenant, "", "10.9.1.1", 443, false, true},
		{"deny applies to the operator", Operator, "", "203.0.113.7", 443, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.CheckAddr(tt.trust, tt.host, netip.MustParseAddr(tt.ip), tt.port)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, ErrRefused) || e.Denied != tt.denied {
					t.Fatalf("got %#v, want an *Error wrapping ErrRefused with Denied %v", err, tt.denied)
				}
			}
		})
	}
	var nilPolicy *Policy
	if err := nilPolicy.CheckAddr(Tenant, "", netip.MustParseAddr("127.0.0.1"), 80); !errors.Is(err, ErrRefused) {
		t.Fatalf("nil policy, tenant loopback: got %v, want ErrRefused", err)
	}
}

func TestCheckBeforeDialling(t *testing.T) {
	p, err := New(nil, []string{"evil.example:443"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		trust Trust
		host  string
		ok    bool
	}{
		{Tenant, "127.0.0.1", false},
		{Tenant, "[::1]", false},
		{Tenant, "LocalHost", false},
		{Tenant, "foo.localhost.", false},
		{Tenant, "169.254.169.254", false},
		{Tenant, "example.com", true}, // judged when dialled
		{Operator, "localhost", true},
		{Operator, "evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.trust.String()+" "+tt.host, func(t *testing.T) {
			if err := p.Check(tt.trust, tt.host, 443); (err == nil) != tt.ok {
				t.Fatalf("Check(%s): got %v, want ok=%v", tt.host, err, tt.ok)
			}
		})
	}
}

// fakeResolver answers every name with its addresses, as a DNS server
// under an attacker's control would.
type fakeResolver []netip.Addr

func (f fakeResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return f, nil
}

// TestDialerChecksResolvedAddress: a name that resolves to loopback (a
// rebinding DNS answer) is refused for a tenant, and no connection reaches
// the server; the operator's dialer reaches it; allowing 127.0.0.0/8 lets
// the tenant through.
func TestDialerChecksResolvedAddress(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	loop := fakeResolver{netip.MustParseAddr("127.0.0.1")}
	get := func(d *Dialer) error {
		tr := &http.Transport{DialContext: d.DialContext}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("http://rebind.test:" + port + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	err := get(&Dialer{Trust: Tenant, Resolver: loop})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("tenant: got %v, want a refusal naming loopback", err)
	}
	if hits != 0 {
		t.Fatalf("tenant: got %d requests at the server, want 0", hits)
	}
	if err := get(&Dialer{Trust: Operator, Resolver: loop}); err != nil || hits != 1 {
		t.Fatalf("operator: got %v and %d requests, want nil and 1", err, hits)
	}
	allow, err := New([]string{"127.0.0.0/8"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(&Dialer{Policy: allow, Trust: Tenant, Resolver: loop}); err != nil || hits != 2 {
		t.Fatalf("tenant with egress.allow: got %v and %d requests, want nil and 2", err, hits)
	}
	// One refused and one allowed address: the allowed one is dialled.
	mixed := fakeResolver{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("127.0.0.1")}
	onlyLoop, _ := New([]string{"127.0.0.1"}, nil)
	if err := get(&Dialer{Policy: onlyLoop, Trust: Tenant, Resolver: mixed}); err != nil || hits != 3 {
		t.Fatalf("mixed answer: got %v and %d requests, want nil and 3", err, hits)
	}
	// An address literal is judged as well.
	d := &Dialer{Trust: Tenant}
	if _, err := d.DialContext(t.Context(), "tcp", srv.Listener.Addr().String()); !errors.Is(err, ErrRefused) {
		t.Fatalf("literal: got %v, want ErrRefused", err)
	}
}
