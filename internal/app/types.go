package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/pattern"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/filesink"
	"github.com/auditstream/auditstream/internal/sink/httpsink"
	"github.com/auditstream/auditstream/internal/stream"
)

// ErrUnknownType is returned for a stream type auditstream does not have.
var ErrUnknownType = errors.New("unknown log stream type")

// streamType is one row of the type table: how to check and build a
// stream's destination.
type streamType struct {
	// secrets are the write-only settings, as dotted paths.
	secrets []string
	// destination are the settings that say where the secrets are sent
	// (secret.Fields.Destination): moving one to another scheme, host or
	// port needs the secrets sent again.
	destination []string
	// writeOnce are the settings that cannot change after creation.
	writeOnce []string
	// build decodes settings strictly and makes the sink.
	build func(settings []byte, t *types) (sink.Sink, error)
}

// types maps a stream type to its destination. It implements
// api.StreamTypes and builds sinks and filters for the supervisor.
type types struct {
	table   map[string]streamType
	log     *slog.Logger
	self    []string // host:port forms of the service's own listener
	dataDir string   // the journal's directory, never a file stream's
	// fileRoots, when set, are the only directories file streams may use.
	fileRoots []string
	// patterns are the limits filters are compiled with.
	patterns []pattern.Option
	// client is the HTTP client the destination being built uses: the
	// one of its trust. Its dialer refuses connections to this service's
	// own listener, whatever name led there, and applies the egress
	// policy to every address it dials.
	client   *http.Client
	envelope envelopeDefaults

	policy  *egress.Policy
	clients map[egress.Trust]*http.Client
	// trust and org are those of the definition being built (forDef).
	trust egress.Trust
	org   string
}

type envelopeDefaults struct{ account, region string }

func newTypes(log *slog.Logger, listen, dataDir string, fileRoots []string, env envelopeDefaults) *types {
	t := &types{log: log, self: selfAddrs(listen), dataDir: dataDir, fileRoots: fileRoots, envelope: env}
	t.setEgress(&outbound{listen: listen})
	// The one explicit table from stream type to constructor, assembled
	// from one group per family of destinations.
	t.table = map[string]streamType{}
	for _, group := range []map[string]streamType{coreTypes(), destinationTypes(), archiveTypes()} {
		for name, st := range group {
			t.table[name] = st
		}
	}
	return t
}

// coreTypes are the destinations of the core service: webhooks and files.
func coreTypes() map[string]streamType {
	return map[string]streamType{
		"http": {
			secrets:     []string{"auth.password", "auth.apiKey", "auth.clientSecret", "signing.secret"},
			destination: []string{"url", "auth.tokenUrl"},
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg httpsink.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return httpsink.New(cfg, httpsink.Deps{Client: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
		"file": {
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg filesink.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				base, dir, err := t.fileDir(cfg.Dir)
				if err != nil {
					return nil, err
				}
				cfg.Dir = dir
				return filesink.New(cfg, filesink.Deps{Logger: t.log, Forbidden: t.forbiddenDir, Base: base})
			},
		},
	}
}

// setEgress makes the destinations use out's transports and policy (a
// nil policy keeps tenants off internal addresses and denies nothing to
// the operator).
func (t *types) setEgress(out *outbound) {
	t.policy = out.policy
	t.clients = map[egress.Trust]*http.Client{}
	for _, trust := range []egress.Trust{egress.Tenant, egress.Operator} {
		t.clients[trust] = &http.Client{Transport: out.transport(trust)}
	}
	t.client = t.clients[egress.Tenant]
}

// forDef is t for building d's destination: with the client, checks and
// directories of d's owner.
func (t *types) forDef(d stream.Definition) *types {
	c := *t
	c.trust = trustOf(d.ByOperator())
	c.org = d.Org
	c.client = t.clients[c.trust]
	return &c
}

// trustOf maps "the operator chose this destination" to egress's words.
func trustOf(operator bool) egress.Trust {
	if operator {
		return egress.Operator
	}
	return egress.Tenant
}

func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}

// Validate implements api.StreamTypes: it builds the sink (which checks the
// settings, as d's owner may set them) and closes it again.
func (t *types) Validate(d stream.Definition) error {
	st, ok := t.table[d.Type]
	if !ok {
		return fmt.Errorf("type: %w %q (known: %s)", ErrUnknownType, d.Type, strings.Join(t.names(), ", "))
	}
	s, err := st.build(d.Settings, t.forDef(d))
	if err != nil {
		return err
	}
	return s.Close(context.Background())
}

func (t *types) names() []string {
	var out []string
	for n := range t.table {
		out = append(out, n)
	}
	return out
}

// Verify implements api.StreamTypes.
func (t *types) Verify(ctx context.Context, def stream.Definition) error {
	st, ok := t.table[def.Type]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownType, def.Type)
	}
	s, err := st.build(def.Settings, t.forDef(def))
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	return s.Verify(ctx)
}

// SecretPaths implements api.StreamTypes.
func (t *types) SecretPaths(typ string) []string { return t.table[typ].secrets }

// DestinationPaths implements api.StreamTypes.
func (t *types) DestinationPaths(typ string) []string { return t.table[typ].destination }

// WriteOnce implements api.StreamTypes.
func (t *types) WriteOnce(typ string) []string { return t.table[typ].writeOnce }

// Build makes the sink and filter of a definition (stream.BuildFunc).
func (t *types) Build(def stream.Definition) (sink.Sink, stream.Filter, error) {
	st, ok := t.table[def.Type]
	if !ok {
		return nil, nil, fmt.Errorf("%w %q", ErrUnknownType, def.Type)
	}
	var filter stream.Filter
	if len(def.Filter) > 0 {
		p, err := pattern.Compile(def.Filter, t.patterns...)
		if err != nil {
			return nil, nil, fmt.Errorf("filter: %w", err)
		}
		filter = t.filter(p)
	}
	s, err := st.build(def.Settings, t.forDef(def))
	if err != nil {
		return nil, nil, err
	}
	return s, filter, nil
}

// filter matches a record as the detail of its EventBridge envelope
// (PATTERNS.md §1).
func (t *types) filter(p *pattern.Pattern) stream.Filter {
	return func(r *sink.Record, source, account string) bool {
		if source == "" {
			source = "auditstream." + r.Org
		}
		if account == "" {
			account = t.envelope.account
		}
		env := pattern.Envelope{
			Version:    "0",
			ID:         r.ID,
			DetailType: "SystemLog",
			Source:     source,
			Account:    account,
			Time:       r.Published.UTC().Truncate(time.Second).Format(time.RFC3339),
			Region:     t.envelope.region,
			Detail:     r.Data,
		}
		return p.MatchEnvelope(&env)
	}
}

// ValidateFilter compiles a pattern and returns AWS's error text.
func ValidateFilter(raw []byte, opts ...pattern.Option) error {
	_, err := pattern.Compile(raw, opts...)
	return err
}

// patternOptions turns the config's pattern limits into Compile options.
func patternOptions(c config.Patterns) []pattern.Option {
	var opts []pattern.Option
	if c.MaxLength > 0 {
		opts = append(opts, pattern.WithMaxLength(c.MaxLength))
	}
	if c.MaxCombinations > 0 {
		opts = append(opts, pattern.WithMaxCombinations(c.MaxCombinations))
	}
	if c.MaxWildcardComplexity > 0 {
		opts = append(opts, pattern.WithMaxWildcardComplexity(c.MaxWildcardComplexity))
	}
	if c.StrictNumericOperands != nil {
		opts = append(opts, pattern.WithStrictNumericOperands(*c.StrictNumericOperands))
	}
	return opts
}

// validateFilter is ValidateFilter with the configured limits.
func (t *types) validateFilter(raw []byte) error { return ValidateFilter(raw, t.patterns...) }

// forbidden refuses destinations that point back at this service's own
// listener, so a stream cannot be used to call the admin API, and those
// the egress policy refuses to the destination's owner (a tenant naming a
// loopback or metadata address). Names are judged again, on every address
// they resolve to, when they are dialled.
func (t *types) forbidden(u *url.URL) error {
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if n, err := strconv.Atoi(port); err == nil {
		if err := t.policy.Check(t.trust, host, n); err != nil {
			return err
		}
	}
	for _, self := range t.self {
		sh, sp, _ := net.SplitHostPort(self)
		if sp != port {
			continue
		}
		if strings.EqualFold(host, sh) || isLocal(host) || (isUnspecified(sh) && isLocal(host)) {
			return fmt.Errorf("%s is auditstream's own API", u.Host)
		}
	}
	return nil
}

// errNeedFileRoots refuses a tenant's file stream on a server without
// fileRoots: there is no directory of its org to confine it to.
var errNeedFileRoots = errors.New("settings.dir: file streams of org-scoped tokens need fileRoots in the server's configuration (each org writes below <fileRoot>/<org>); ask the operator")

// fileDir returns the directory a file stream's dir is relative to ("" when
// dir must be absolute) and dir as the sink takes it. A tenant's dir is
// always relative to its org's directory under the first of fileRoots
// (<root>/<org>/<dir>), so it can name neither another org's directory nor
// the root; the sink creates and opens it without following links. The operator may name an absolute
// directory (within fileRoots when set, anywhere outside dataDir when
// not), or a relative one below the first root (and the org's directory,
// for a stream of one org).
func (t *types) fileDir(dir string) (base, rel string, err error) {
	if t.trust == egress.Tenant {
		if len(t.fileRoots) == 0 {
			return "", "", errNeedFileRoots
		}
		if !event.ValidOrg(t.org) {
			return "", "", fmt.Errorf("settings.dir: org %q cannot name a directory", t.org)
		}
		if dir == "" || filepath.IsAbs(dir) || !filepath.IsLocal(dir) {
			return "", "", fmt.Errorf("settings.dir: %q: name a directory relative to your org's directory, without \"..\" (files go to <fileRoot>/%s/<dir>)", dir, t.org)
		}
		return t.fileRoots[0], filepath.Join(t.org, dir), nil
	}
	if dir == "" || filepath.IsAbs(dir) || len(t.fileRoots) == 0 {
		return "", dir, nil
	}
	if t.org == "" || t.org == "*" {
		return t.fileRoots[0], dir, nil
	}
	return t.fileRoots[0], filepath.Join(t.org, dir), nil
}

// forbiddenDir refuses file streams inside the journal's data directory
// and, when fileRoots are configured, outside them. Paths are compared
// after resolving symbolic links, so a link cannot lead around the rules.
func (t *types) forbiddenDir(dir string) error {
	target, err := resolve(dir)
	if err != nil {
		return err
	}
	if t.dataDir != "" {
		data, err := resolve(t.dataDir)
		if err != nil {
			return err
		}
		if within(data, target) {
			return fmt.Errorf("%s is inside the journal's data directory", dir)
		}
	}
	if len(t.fileRoots) == 0 {
		return nil
	}
	for _, root := range t.fileRoots {
		if r, err := resolve(root); err == nil && within(r, target) {
			return nil
		}
	}
	return fmt.Errorf("%s is outside the directories file streams may write (fileRoots: %s)", dir, strings.Join(t.fileRoots, ", "))
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

func isUnspecified(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

func selfAddrs(listen string) []string {
	if listen == "" {
		return nil
	}
	return []string{listen}
}
