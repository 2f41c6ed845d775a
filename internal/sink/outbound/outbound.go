// Package outbound is where log stream destinations (and source pollers)
// connect from: one guarded HTTP transport per trust, shared by every
// destination of that trust, and the checks each destination makes of its
// targets as its owner may use them (sink.Egress).
//
// Three rules meet here. The egress policy (internal/egress) keeps
// tenants' destinations off internal addresses and applies the operator's
// deny list to everyone, in the dialer, on the address actually dialled.
// Nobody's destination may reach this service's own API, whatever name led
// there (the listener's port on a loopback, unspecified or own interface
// address). And file destinations write only outside the journal's data
// directory and, when the operator names fileRoots, inside them, a
// tenant's below <fileRoot>/<org>.
package outbound

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// ErrSelfTarget is returned when a destination would connect to this
// service's own API.
var ErrSelfTarget = errors.New("the destination is auditstream's own API")

// ErrAmbientCredentials refuses a tenant's AWS destination that brings no
// keys of its own: it would act with the server's credentials.
var ErrAmbientCredentials = errors.New("credentials.accessKeyId and credentials.secretAccessKey are required: " +
	"destinations of org-scoped tokens sign with keys of their own (with roleArn, the keys assume the role), " +
	"never with the server's AWS credentials; an operator can allow that with egress.tenantAwsCredentials")

// errNeedFileRoots refuses a tenant's file stream on a server without
// fileRoots: there is no directory of its org to confine it to.
var errNeedFileRoots = errors.New("settings.dir: file streams of org-scoped tokens need fileRoots in the server's configuration (each org writes below <fileRoot>/<org>); ask the operator")

// Config is what the operator set about outbound connections.
type Config struct {
	// Policy is the egress policy; nil keeps tenants off internal
	// addresses and denies nothing to the operator.
	Policy *egress.Policy
	// Resolver looks names up (nil: the system's); tests answer with
	// loopback addresses as a hostile DNS record would.
	Resolver egress.Resolver
	// DataDir is the journal's directory, never a file stream's.
	DataDir string
	// FileRoots, when set, are the only directories file streams may use.
	FileRoots []string
	// TenantAWSCredentials lets tenants' AWS destinations without keys of
	// their own sign with the server's credentials (the environment, shared
	// config or instance role). Off, only the operator's may.
	TenantAWSCredentials bool
}

// Guard holds the guarded transports, one per trust, shared by every
// destination and source of that trust (connection pools included), and
// checks destinations' targets.
type Guard struct {
	cfg Config

	mu      sync.Mutex
	listen  string // the API's address, which no destination may reach
	tr      map[egress.Trust]*http.Transport
	clients map[egress.Trust]*http.Client
}

// New returns a Guard for cfg. Call SetListen before the first connection.
func New(cfg Config) *Guard { return &Guard{cfg: cfg} }

// SetListen names the API's address (host:port), which destinations may
// not reach; call it before the first connection.
func (g *Guard) SetListen(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listen, g.tr, g.clients = addr, nil, nil
}

// Policy is the egress policy.
func (g *Guard) Policy() *egress.Policy { return g.cfg.Policy }

// Transport is the guarded transport of trust.
func (g *Guard) Transport(trust egress.Trust) *http.Transport {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.transport(trust)
}

func (g *Guard) transport(trust egress.Trust) *http.Transport {
	if g.tr == nil {
		g.tr = map[egress.Trust]*http.Transport{}
	}
	tr, ok := g.tr[trust]
	if !ok {
		tr = guardedTransport(g.listen, g.cfg.Policy, trust, g.cfg.Resolver)
		g.tr[trust] = tr
	}
	return tr
}

// Client is the HTTP client destinations of trust send with.
func (g *Guard) Client(trust egress.Trust) *http.Client {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.clients == nil {
		g.clients = map[egress.Trust]*http.Client{}
	}
	c, ok := g.clients[trust]
	if !ok {
		c = &http.Client{Transport: g.transport(trust)}
		g.clients[trust] = c
	}
	return c
}

// Owner is whose destination is being built.
type Owner struct {
	// Trust is the owner's: Tenant for an org-scoped token's stream.
	Trust egress.Trust
	// Org is the stream's org ("" or "*" for all orgs).
	Org string
}

// TrustOf maps "the operator chose this destination" to egress's words.
func TrustOf(operator bool) egress.Trust {
	if operator {
		return egress.Operator
	}
	return egress.Tenant
}

// Deps are the sink.Deps of o's destination: the client of o's trust and
// the checks of o's targets.
func (g *Guard) Deps(o Owner, log *slog.Logger) sink.Deps {
	return sink.Deps{HTTPClient: g.Client(o.Trust), Logger: log, Egress: owned{g: g, o: o}}
}

// owned is the sink.Egress of one owner's destination.
type owned struct {
	g *Guard
	o Owner
}

// CheckURL refuses destinations that point back at this service's own
// listener, so a stream cannot be used to call the admin API, and those
// the egress policy refuses to the destination's owner (a tenant naming a
// loopback or metadata address). Names are judged again, on every address
// they resolve to, when they are dialled.
func (w owned) CheckURL(u *url.URL) error {
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if n, err := strconv.Atoi(port); err == nil {
		if err := w.g.cfg.Policy.Check(w.o.Trust, host, n); err != nil {
			return err
		}
	}
	w.g.mu.Lock()
	self := w.g.listen
	w.g.mu.Unlock()
	if self == "" {
		return nil
	}
	sh, sp, _ := net.SplitHostPort(self)
	if sp == port && (strings.EqualFold(host, sh) || isLocal(host)) {
		return fmt.Errorf("%s is auditstream's own API", u.Host)
	}
	return nil
}

// PlaceDir returns the directory a file stream's dir is relative to (""
// when dir must be absolute) and dir as the sink takes it. A tenant's dir
// is always relative to its org's directory under the first of fileRoots
// (<root>/<org>/<dir>), so it can name neither another org's directory nor
// the root; the sink creates and opens it without following links. The
// operator may name an absolute directory (within fileRoots when set,
// anywhere outside dataDir when not), or a relative one below the first
// root (and the org's directory, for a stream of one org).
func (w owned) PlaceDir(dir string) (base, rel string, err error) {
	roots, org := w.g.cfg.FileRoots, w.o.Org
	if w.o.Trust == egress.Tenant {
		if len(roots) == 0 {
			return "", "", errNeedFileRoots
		}
		if !event.ValidOrg(org) {
			return "", "", fmt.Errorf("settings.dir: org %q cannot name a directory", org)
		}
		if dir == "" || filepath.IsAbs(dir) || !filepath.IsLocal(dir) {
			return "", "", fmt.Errorf("settings.dir: %q: name a directory relative to your org's directory, without \"..\" (files go to <fileRoot>/%s/<dir>)", dir, org)
		}
		return roots[0], filepath.Join(org, dir), nil
	}
	if dir == "" || filepath.IsAbs(dir) || len(roots) == 0 {
		return "", dir, nil
	}
	if org == "" || org == "*" {
		return roots[0], dir, nil
	}
	return roots[0], filepath.Join(org, dir), nil
}

// CheckDir refuses file streams inside the journal's data directory and,
// when fileRoots are configured, outside them.
func (w owned) CheckDir(dir string) error { return w.g.checkDir(dir) }

// AmbientCredentials lets the operator's destinations use the server's
// own AWS credentials, and tenants' only when the operator allows it.
func (w owned) AmbientCredentials() error {
	if w.o.Trust == egress.Operator || w.g.cfg.TenantAWSCredentials {
		return nil
	}
	return ErrAmbientCredentials
}

// checkDir refuses dir inside the journal's data directory and, when
// fileRoots are configured, outside them. Paths are compared after
// resolving symbolic links, so a link cannot lead around the rules.
func (g *Guard) checkDir(dir string) error {
	target, err := resolve(dir)
	if err != nil {
		return err
	}
	if g.cfg.DataDir != "" {
		data, err := resolve(g.cfg.DataDir)
		if err != nil {
			return err
		}
		if within(data, target) {
			return fmt.Errorf("%s is inside the journal's data directory", dir)
		}
	}
	if len(g.cfg.FileRoots) == 0 {
		return nil
	}
	for _, root := range g.cfg.FileRoots {
		if r, err := resolve(root); err == nil && within(r, target) {
			return nil
		}
	}
	return fmt.Errorf("%s is outside the directories file streams may write (fileRoots: %s)", dir, strings.Join(g.cfg.FileRoots, ", "))
}

// resolve makes path absolute and resolves symbolic links in the part of
// it that exists.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if filepath.Dir(p) == p {
			return abs, nil
		}
		rest = append([]string{filepath.Base(p)}, rest...)
	}
}

// within reports whether path is base or below it.
func within(base, path string) bool {
	rel, err := filepath.Rel(base, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func isLocal(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

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
			return checkSelfDial(address, port, OwnAddrs())
		}}
	ed := &egress.Dialer{Policy: policy, Trust: trust, Dialer: d, Resolver: resolver}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = ed.DialContext
	if trust == egress.Tenant {
		tr.Proxy = nil
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
		return fmt.Errorf("%s: %w", address, ErrSelfTarget)
	}
	for _, o := range own {
		if o.Equal(ip) {
			return fmt.Errorf("%s: %w", address, ErrSelfTarget)
		}
	}
	return nil
}

// OwnAddrs lists this machine's interface addresses.
func OwnAddrs() []net.IP {
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
