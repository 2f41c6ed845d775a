package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/stream"
)

// Redacted returns c with the secrets it holds itself replaced by
// secret.Redacted: the NATS token, and the password or token of a NATS
// URL. The settings of streams and sources are left to their types (they
// know their secret fields).
func (c Config) Redacted() Config {
	if c.Journal.NatsToken != "" {
		c.Journal.NatsToken = secret.Redacted
	}
	c.Journal.NatsURL = redactURLs(c.Journal.NatsURL)
	return c
}

// redactURLs redacts the user information of each URL in a comma-separated
// list (NATS takes several).
func redactURLs(list string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = secret.Redacted
			continue
		}
		if u.User == nil {
			parts[i] = u.String()
			continue
		}
		u.User = nil
		parts[i] = strings.Replace(u.String(), "://", "://"+secret.Redacted+"@", 1)
	}
	return strings.Join(parts, ",")
}

// Load reads a YAML file over the defaults. Unknown keys are errors.
func Load(path string) (Config, error) {
	cfg := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// streamIDRE is what a stream id may be: it names a JetStream consumer.
var streamIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if !strings.Contains(c.Listen, ":") {
		errs = append(errs, fmt.Errorf("listen: %q must be host:port", c.Listen))
	}
	if c.Journal.NatsListen != "" && len(c.Journal.NatsToken) < 16 {
		errs = append(errs, errors.New("journal.natsToken: required with natsListen, at least 16 characters"))
	}
	if c.Journal.NatsURL == "" && c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: required with the embedded journal"))
	}
	if c.Journal.Partitions < 0 || c.Journal.Partitions > journal.MaxPartitions {
		errs = append(errs, fmt.Errorf("journal.partitions: %d must be 1 to %d", c.Journal.Partitions, journal.MaxPartitions))
	}
	if c.Journal.Replicas < 0 || c.Journal.Replicas > 5 {
		errs = append(errs, errors.New("journal.replicas: must be 1 to 5"))
	}
	switch c.Journal.WhenFull {
	case "", "protect", "dropOldest":
	default:
		errs = append(errs, fmt.Errorf("journal.whenFull: %q is not protect or dropOldest", c.Journal.WhenFull))
	}
	switch journal.Compression(c.Journal.Compression) {
	case "", journal.CompressS2, journal.CompressNone:
	default:
		errs = append(errs, fmt.Errorf("journal.compression: %q is not %s or %s", c.Journal.Compression, journal.CompressS2, journal.CompressNone))
	}
	if c.Journal.DuplicateWindowMaxIDs < 0 {
		errs = append(errs, fmt.Errorf("journal.duplicateWindowMaxIds: %d must be positive (0: the default of %d)",
			c.Journal.DuplicateWindowMaxIDs, journal.DefaultDuplicateWindowMaxIDs))
	}
	if c.Journal.MaxBytes < -1 {
		errs = append(errs, fmt.Errorf("journal.maxBytes: %d must be -1 (no cap), 0 (the default) or positive", c.Journal.MaxBytes))
	}
	if c.Journal.DeadLetters.MaxBytes < -1 {
		errs = append(errs, fmt.Errorf("journal.deadLetters.maxBytes: %d must be -1 (no cap), 0 (the default) or positive", c.Journal.DeadLetters.MaxBytes))
	}
	errs = append(errs, c.Detections.validate()...)
	if c.Activity.MaxItems < 0 || c.Activity.MaxActions < 0 || c.Activity.MaxDetections < 0 || c.Activity.MaxCachedProfiles < 0 {
		errs = append(errs, errors.New("activity: limits must not be negative (0: the default)"))
	}
	if c.Query.Timeout < 0 || c.Query.RateLimitPerMinute < -1 {
		errs = append(errs, errors.New("query: timeout must not be negative and rateLimitPerMinute must be -1 or more"))
	}
	if c.Query.PublicURL != "" && !strings.HasPrefix(c.Query.PublicURL, "http://") && !strings.HasPrefix(c.Query.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("query.publicUrl: %q must be an http or https URL", c.Query.PublicURL))
	}
	if c.Ingest.MaxBodyBytes < 0 || c.Ingest.MaxEventBytes < 0 || c.Ingest.MaxEvents < 0 {
		errs = append(errs, errors.New("ingest: limits must not be negative"))
	}
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", c.Log.Format))
	}
	if c.Cluster.NodeID != "" && !streamIDRE.MatchString(c.Cluster.NodeID) {
		errs = append(errs, fmt.Errorf("cluster.nodeId: %q must be 1 to 64 letters, digits, '-' or '_'", c.Cluster.NodeID))
	}
	if c.Integrity.DigestInterval < 0 || c.Integrity.DigestInterval > 0 && c.Integrity.DigestInterval.D() < time.Second {
		errs = append(errs, fmt.Errorf("integrity.digestInterval: %s must be at least 1s", c.Integrity.DigestInterval.D()))
	}
	if len(c.Integrity.Keys) > 0 {
		if _, err := integrity.NewKeyring(c.Integrity.Keys, c.Integrity.SigningKey); err != nil {
			errs = append(errs, err)
		}
	} else if c.Integrity.SigningKey != "" {
		errs = append(errs, fmt.Errorf("integrity.signingKey: %q names no key of integrity.keys", c.Integrity.SigningKey))
	}
	if err := egress.Validate(c.Egress.Allow, c.Egress.Deny); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.Console.check()...)
	ids := map[string]bool{}
	for i, s := range c.Streams {
		errs = append(errs, s.check(fmt.Sprintf("streams[%d]", i), ids,
			stream.StatusActive, stream.StatusInactive)...)
	}
	// A source's type is checked against the table of source types when
	// the service starts (or --print-config runs).
	srcIDs := map[string]bool{}
	for i, s := range c.Sources {
		errs = append(errs, s.check(fmt.Sprintf("sources[%d]", i), srcIDs,
			source.StatusActive, source.StatusInactive)...)
	}
	return errors.Join(errs...)
}

// check checks what the file says of one declared stream or source (at
// names it, "streams[2]"): the required fields, the id's form and
// uniqueness among seen, and the status.
func (d Declared) check(at string, seen map[string]bool, active, inactive string) []error {
	var errs []error
	if d.ID == "" || d.Name == "" || d.Type == "" {
		errs = append(errs, fmt.Errorf("%s: id, name and type are required", at))
	}
	if d.ID != "" && !streamIDRE.MatchString(d.ID) {
		errs = append(errs, fmt.Errorf("%s: id %q must be 1 to 64 letters, digits, '-' or '_'", at, d.ID))
	}
	if seen[d.ID] {
		errs = append(errs, fmt.Errorf("%s: duplicate id %q", at, d.ID))
	}
	seen[d.ID] = true
	if d.Status != "" && d.Status != active && d.Status != inactive {
		errs = append(errs, fmt.Errorf("%s: status %q is not %s or %s", at, d.Status, active, inactive))
	}
	return errs
}

// check reports the console section's problems.
func (c Console) check() []error {
	var errs []error
	if c.SessionTTL < 0 {
		errs = append(errs, errors.New("console.sessionTtl: must not be negative"))
	}
	o := c.OIDC
	if o.Issuer == "" {
		return errs
	}
	if !strings.HasPrefix(o.Issuer, "https://") && !strings.HasPrefix(o.Issuer, "http://") {
		errs = append(errs, fmt.Errorf("console.oidc.issuer: %q must be an http or https URL", o.Issuer))
	}
	if o.ClientID == "" || o.RedirectURL == "" {
		errs = append(errs, errors.New("console.oidc: clientId and redirectUrl are required with issuer"))
	}
	if len(o.Groups) == 0 {
		errs = append(errs, errors.New("console.oidc.groups: at least one group mapping is required (nobody could sign in)"))
	}
	for i, g := range o.Groups {
		if g.Group == "" || g.Org == "" || len(g.Scopes) == 0 {
			errs = append(errs, fmt.Errorf("console.oidc.groups[%d]: group, org and scopes are required", i))
		}
	}
	return errs
}

func (d Detections) validate() []error {
	var errs []error
	names := map[string]bool{}
	for i, p := range d.Packs {
		if p.Name == "" || p.Name == "uploaded" {
			errs = append(errs, fmt.Errorf("detections.packs[%d].name: required, not \"uploaded\" (the API's)", i))
		} else if names[p.Name] {
			errs = append(errs, fmt.Errorf("detections.packs[%d].name: %q is used twice", i, p.Name))
		}
		names[p.Name] = true
		if p.Path == "" {
			errs = append(errs, fmt.Errorf("detections.packs[%d].path: required", i))
		}
		if p.Name == ShippedPackName && d.ShippedOn() {
			errs = append(errs, fmt.Errorf("detections.packs[%d].name: %q is the shipped pack's (set detections.shipped: false to replace it)", i, p.Name))
		}
		switch p.Format {
		case "", "sigma", "native", "okta":
		default:
			errs = append(errs, fmt.Errorf("detections.packs[%d].format: %q is not one of sigma, native, okta (or empty: by content)", i, p.Format))
		}
	}
	if d.ShippedOverlay != "" && !d.ShippedOn() {
		errs = append(errs, errors.New("detections.shippedOverlay: set, but detections.shipped is false"))
	}
	for i, l := range d.Logsources {
		if l.Product == "" || len(l.Sources) == 0 {
			errs = append(errs, fmt.Errorf("detections.logsources[%d]: product and sources are required", i))
		}
		for _, s := range l.Sources {
			if s == "" {
				errs = append(errs, fmt.Errorf("detections.logsources[%d].sources: an empty prefix would route every source", i))
			}
		}
	}
	if len(d.Logsources) > 60 {
		errs = append(errs, errors.New("detections.logsources: at most 60"))
	}
	if d.AllowedLateness < 0 || d.MaxGroupsPerRule < 0 || d.MaxEventsPerWindow < 0 || d.CheckpointInterval < 0 {
		errs = append(errs, errors.New("detections: allowedLateness, maxGroupsPerRule, maxEventsPerWindow and checkpointInterval must not be negative"))
	}
	if b := d.Backtest; b.Timeout < 0 || b.MaxEvents < 0 || b.MaxConcurrentPerOrg < 0 {
		errs = append(errs, errors.New("detections.backtest: timeout, maxEvents and maxConcurrentPerOrg must not be negative"))
	}
	return errs
}
