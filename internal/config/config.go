// Package config is auditstream's typed configuration: a YAML file read
// strictly (unknown keys are errors), defaults as named values, and a
// Validate that reports every problem at once.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/duration"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/secret"
)

// Defaults, each with its reason.
const (
	// DefaultListen serves on loopback only: exposing the API is a choice.
	DefaultListen = "127.0.0.1:8080"
	// DefaultDataDir keeps the journal next to where the service runs.
	DefaultDataDir = "data"
	// DefaultOrg receives events sent with an all-orgs token naming no org.
	DefaultOrg = "default"
	// DefaultShutdownTimeout bounds a graceful stop.
	DefaultShutdownTimeout = 15 * time.Second
	// DefaultAccount and DefaultRegion fill the EventBridge envelope that
	// patterns are matched against (PATTERNS.md §1).
	DefaultAccount = "000000000000"
	DefaultRegion  = "us-east-1"
)

// Duration is the settings' one duration type (duration.Duration),
// written as "5m" in YAML.
type Duration = duration.Duration

// DefaultSessionTTL is how long a console session lasts by default.
const DefaultSessionTTL = 8 * time.Hour

// Config is the whole configuration file.
type Config struct {
	// Listen is the API's host:port.
	Listen string `yaml:"listen"`
	// DataDir holds the embedded journal.
	DataDir string `yaml:"dataDir"`
	// ShutdownTimeout bounds a graceful stop (in-flight requests and
	// batches).
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	Journal         Journal  `yaml:"journal"`
	Ingest          Ingest   `yaml:"ingest"`
	Envelope        Envelope `yaml:"envelope"`
	Log             Log      `yaml:"log"`
	Query           Query    `yaml:"query"`
	// Activity configures the per-user activity profiles.
	Activity Activity `yaml:"activity"`
	// Patterns bound the EventBridge patterns streams filter with.
	Patterns Patterns `yaml:"patterns"`
	// FileRoots are the directories file streams may write under (symbolic
	// links resolved). Empty: any absolute directory outside dataDir, and
	// org-scoped tokens cannot create file streams. Each org writes below
	// <first root>/<org>/, naming only a relative directory there.
	FileRoots []string `yaml:"fileRoots"`
	// Egress limits where streams and sources may connect. Destinations
	// set by org-scoped tokens may not reach loopback, link-local (cloud
	// metadata), private, CGNAT, ULA, multicast or reserved addresses
	// unless Allow names them; Deny applies to every destination.
	Egress Egress `yaml:"egress"`
	// Streams are log streams declared here; the API shows them read-only.
	Streams []Stream `yaml:"streams"`
	// Sources are event sources (an Okta System Log poller, an EventBridge
	// receiver) declared here; the API shows them read-only.
	Sources []Source `yaml:"sources"`
	// Secrets configures the encryption of secrets at rest.
	Secrets Secrets `yaml:"secrets"`
	// Cluster configures this node among the nodes that share one journal
	// (journal.natsUrl).
	Cluster Cluster `yaml:"cluster"`
	// Integrity configures the tamper-evident trail: the keys digests are
	// signed with and how often (docs/integrity.md).
	Integrity Integrity `yaml:"integrity"`
	// Detections configures the detection runtime: rule packs evaluated
	// over every event as it is journaled (docs/detections.md).
	Detections Detections `yaml:"detections"`
	// Console configures the web console served at / on the API listener.
	Console Console `yaml:"console"`
}

// Console configures the web console.
type Console struct {
	// Enabled serves the console at / (default true); false serves only
	// the API.
	Enabled *bool `yaml:"enabled"`
	// SessionTTL is how long a console session lasts after sign-in
	// (default 8h).
	SessionTTL Duration `yaml:"sessionTtl"`
	// OIDC, when its issuer is set, offers single sign-on with an OpenID
	// Connect provider (authorization code flow with PKCE).
	OIDC OIDC `yaml:"oidc"`
}

// On reports whether the console is served.
func (c Console) On() bool { return c.Enabled == nil || *c.Enabled }

// OIDC configures console sign-in through an OpenID Connect provider.
type OIDC struct {
	// Issuer is the provider's issuer URL (its discovery document is at
	// <issuer>/.well-known/openid-configuration).
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are the console's client at the provider.
	ClientID     string        `yaml:"clientId"`
	ClientSecret secret.String `yaml:"clientSecret"`
	// RedirectURL is <console URL>/console/oidc/callback as registered at
	// the provider.
	RedirectURL string `yaml:"redirectUrl"`
	// GroupsClaim is the ID token claim that lists the user's groups
	// (default "groups").
	GroupsClaim string `yaml:"groupsClaim"`
	// Groups map a group to the org and scopes its members get; a user in
	// several groups gets the scopes of all of those of one org (the
	// first matching group's org). A user in none cannot sign in.
	Groups []OIDCGroup `yaml:"groups"`
}

// OIDCGroup maps members of Group to Org ("*" for every org) and Scopes.
type OIDCGroup struct {
	Group  string   `yaml:"group"`
	Org    string   `yaml:"org"`
	Scopes []string `yaml:"scopes"`
}

// DefaultDigestInterval is how often each org's trail is digested and
// signed while it has traffic: CloudTrail digests hourly, a minute bounds
// what an undetected tamperer could rewrite much tighter at a cost of one
// small event per org and minute.
const DefaultDigestInterval = time.Minute

// Integrity configures signed digests of the journal's hash chains.
type Integrity struct {
	// Keys are Ed25519 keys by id, each from privateKeyFile (PEM PKCS #8,
	// "openssl genpkey -algorithm ed25519") or privateKey (base64 of the
	// 32-byte seed; write-only). None: serve generates one into
	// <dataDir>/integrity/signing-key.pem on first start and logs its id.
	// In a cluster configure the same keys on every node.
	Keys []integrity.KeySpec `yaml:"keys"`
	// SigningKey is the id of the key that signs new digests; the others
	// only verify older ones (rotation). Required with more than one key.
	SigningKey string `yaml:"signingKey"`
	// DigestInterval is how often each org with new events gets a signed
	// digest (default 1m).
	DigestInterval Duration `yaml:"digestInterval"`
}

// Detection defaults, each with its reason.
const (
	// DefaultDetectionsLateness is how far behind the newest event of an
	// org an event may arrive and still count in correlation windows:
	// Okta and the pollers deliver within seconds, retries within minutes.
	DefaultDetectionsLateness = 2 * time.Minute
	// DefaultDetectionsMaxGroups bounds each correlation's groups (rsigma
	// caps all state at 100,000 entries; ours is per rule); the stalest
	// group is evicted and counted.
	DefaultDetectionsMaxGroups = 100_000
	// DefaultDetectionsMaxEvents bounds the events kept per group: enough
	// for every threshold in the published packs (the largest is 20).
	DefaultDetectionsMaxEvents = 1_000
	// DefaultDetectionsCheckpoint is how often the correlation state is
	// saved: a restart re-reads at most this much of the journal.
	DefaultDetectionsCheckpoint = 5 * time.Second
	// DefaultBacktestTimeout bounds one backtest: reading a large journal
	// takes minutes, not hours.
	DefaultBacktestTimeout = 10 * time.Minute
	// DefaultBacktestMaxEvents bounds the events one backtest scans (at the
	// engine's speed, well within the timeout).
	DefaultBacktestMaxEvents = 50_000_000
	// DefaultBacktestsPerOrg is how many backtests of one org run at once:
	// a tenant cannot occupy every core.
	DefaultBacktestsPerOrg = 2
)

// Detections configures the detection runtime.
type Detections struct {
	// Enabled runs the runtime (default true; without packs it evaluates
	// only rules uploaded through the API).
	Enabled *bool `yaml:"enabled"`
	// Packs are rule packs: directories (or files) of Sigma and native
	// rules, loaded as published, each with an optional overlay file.
	Packs []DetectionPack `yaml:"packs"`
	// Shipped loads auditstream's own Okta pack embedded in the binary
	// (pack auditstream-okta, docs/detections.md; default true).
	Shipped *bool `yaml:"shipped"`
	// ShippedOverlay is an optional overlay file tuning the shipped pack.
	ShippedOverlay string `yaml:"shippedOverlay,omitempty"`
	// Logsources bind rule logsources to the envelope sources of the events
	// that carry them, in addition to the built-in product okta =
	// aws.partner/okta.com/... (the Okta poller and EventBridge receiver).
	// Events ingested through the API have the source auditstream.<org>:
	// declare {product: okta, sources: [auditstream.]} when producers push
	// Okta events there.
	Logsources []DetectionLogsource `yaml:"logsources"`
	// AllowedLateness: matches older than the org's newest event minus this
	// are counted as late, not applied (default 2m).
	AllowedLateness Duration `yaml:"allowedLateness"`
	// MaxGroupsPerRule bounds each correlation's groups (default 100000).
	MaxGroupsPerRule int `yaml:"maxGroupsPerRule"`
	// MaxEventsPerWindow bounds the events kept per group (default 1000).
	MaxEventsPerWindow int `yaml:"maxEventsPerWindow"`
	// CheckpointInterval is how often the state is saved (default 5s).
	CheckpointInterval Duration `yaml:"checkpointInterval"`
	// Backtest bounds backtest jobs.
	Backtest DetectionBacktest `yaml:"backtest"`
}

// DetectionBacktest bounds backtests (each runs as a job on the node that
// took the request).
type DetectionBacktest struct {
	// Timeout stops a backtest after this long, with what it found so far
	// (default 10m).
	Timeout Duration `yaml:"timeout"`
	// MaxEvents stops a backtest after it scanned this many of the org's
	// events (default 50000000).
	MaxEvents int `yaml:"maxEvents"`
	// MaxConcurrentPerOrg is how many backtests of one org run at once in
	// the cluster (every node should set the same); more are answered 429
	// (default 2).
	MaxConcurrentPerOrg int `yaml:"maxConcurrentPerOrg"`
}

// On reports whether the detection runtime runs.
func (d Detections) On() bool { return d.Enabled == nil || *d.Enabled }

// ShippedOn reports whether the shipped pack is loaded.
func (d Detections) ShippedOn() bool { return d.Shipped == nil || *d.Shipped }

// ShippedPackName is the name of the shipped pack (shipped.OktaPack; the
// config package does not import the rules).
const ShippedPackName = "auditstream-okta"

// DetectionPack is one rule pack.
type DetectionPack struct {
	// Name names the pack in rule listings and detections.
	Name string `yaml:"name"`
	// Path is a directory of .yml/.yaml rule files, or one file.
	Path string `yaml:"path"`
	// Overlay is an optional pack overlay file (docs/detections.md: enable,
	// level, suppression, exceptions, severityWhen, placeholders, aliases,
	// Sigma filters).
	Overlay string `yaml:"overlay,omitempty"`
	// Format is the format of every file of the pack: sigma, native or okta
	// (Okta's detection catalog); empty tells each file's format from its
	// content.
	Format string `yaml:"format,omitempty"`
}

// DetectionLogsource binds a Sigma logsource to envelope source prefixes.
type DetectionLogsource struct {
	Product string   `yaml:"product"`
	Service string   `yaml:"service,omitempty"`
	Sources []string `yaml:"sources"`
}

// Cluster configures this node among the nodes sharing one journal.
type Cluster struct {
	// NodeID names this node in its heartbeat, in the leases of the log
	// streams and sources it runs, and in GET /api/v1/cluster: 1 to 64
	// letters, digits, '-' or '_', distinct per node. Default: the host
	// name's first label and a hash of the data directory's absolute
	// path (DefaultNodeID): stable across restarts, and distinct for
	// nodes that share a host but not a data directory.
	NodeID string `yaml:"nodeId"`
}

// DefaultNodeID is the node id of a node on this host with dataDir:
// "<host>-<8 hex digits of the hash of dataDir's absolute path>".
func DefaultNodeID(dataDir string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	host, _, _ = strings.Cut(host, ".")
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, host)
	if len(host) > 40 {
		host = host[:40]
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	sum := sha256.Sum256([]byte(dataDir))
	return host + "-" + hex.EncodeToString(sum[:4])
}

// Secrets configures how the log stream and source definitions (which hold
// destination passwords, API tokens and private keys) are encrypted in the
// journal's buckets (AES-256-GCM). Without a key they are stored in clear
// and serve logs a warning.
type Secrets struct {
	// KeyFile holds the keys, one a line: "id:base64" (32 random bytes,
	// e.g. openssl rand -base64 32) or a bare base64 key. The first is
	// the current key; the others only decrypt records sealed before a
	// rotation (auditstream secrets rotate). Keep it readable by the
	// service only. AUDITSTREAM_SECRET_KEY (one key) is the alternative;
	// setting both is an error. Default: none.
	KeyFile string `yaml:"keyFile"`
}

// Egress is the operator's egress policy. Entries are CIDRs
// ("10.0.0.0/8"), addresses ("10.1.2.3"), or host:port ("splunk.corp:8088",
// "10.1.2.3:8088"). Both are empty by default: tenants reach only public
// addresses, the operator's own streams anything but the service's API.
type Egress struct {
	// Allow lets destinations of org-scoped tokens reach these internal
	// addresses (an on-premises Splunk, say).
	Allow []string `yaml:"allow"`
	// Deny refuses these to every destination, the operator's included;
	// it wins over Allow.
	Deny []string `yaml:"deny"`
	// TenantAWSCredentials lets AWS destinations of org-scoped tokens that
	// bring no keys sign with the server's own AWS credentials (its
	// environment, shared config or instance role). Off by default: those
	// credentials are the operator's.
	TenantAWSCredentials bool `yaml:"tenantAwsCredentials"`
}

// Journal configures the event store.
type Journal struct {
	// NatsURL uses an external NATS server or cluster instead of the
	// embedded one.
	NatsURL string `yaml:"natsUrl"`
	// NatsListen exposes the embedded server on host:port (off by default),
	// for a second node (--nats-url nats://TOKEN@host:port) or the nats CLI.
	NatsListen string `yaml:"natsListen"`
	// NatsToken authenticates clients of NatsListen; required with it (at
	// least 16 characters). The journal holds every event and every token.
	NatsToken string `yaml:"natsToken"`
	// MaxAge drops events older than this; 0 keeps them forever.
	MaxAge Duration `yaml:"maxAge"`
	// MaxBytes caps the journal's size (default 10 GiB, -1 for no cap).
	// From 90% the oldest events are purged; see WhenFull for those log
	// streams have not delivered.
	MaxBytes int64 `yaml:"maxBytes"`
	// WhenFull says what happens at MaxBytes to events an ACTIVE log
	// stream has not delivered: protect (default) keeps them and ingest
	// answers 507 with Retry-After until the stream catches up or is
	// deactivated; dropOldest purges them and reports each stream's loss
	// (status droppedByRetention, a metric, a WARN, system.log_stream.gap).
	WhenFull string `yaml:"whenFull"`
	// DeadLetters bounds the dead-letter store.
	DeadLetters DeadLetters `yaml:"deadLetters"`
	// DuplicateWindow is how long an event uuid is remembered to drop
	// re-sent copies (default 10m; ids are held in memory).
	DuplicateWindow Duration `yaml:"duplicateWindow"`
	// DuplicateWindowMaxIDs bounds the uuid window by count (default 2
	// million, about 80 MB): a copy is dropped when it arrives within
	// duplicateWindow or duplicateWindowMaxIds events of the original,
	// whichever is shorter. A flood reaches the count first.
	DuplicateWindowMaxIDs int `yaml:"duplicateWindowMaxIds"`
	// SyncAlways fsyncs before every acknowledgement: no acknowledged event
	// is lost even on power failure, at a large cost in throughput. Off,
	// the journal fsyncs every SyncInterval and an acknowledged event
	// survives a process crash but not a power cut in between.
	SyncAlways bool `yaml:"syncAlways"`
	// SyncInterval is the fsync period when SyncAlways is off (default
	// JetStream's 2m).
	SyncInterval Duration `yaml:"syncInterval"`
	// Replicas for streams and buckets on a NATS cluster (3 is usual).
	Replicas int `yaml:"replicas"`
	// Partitions is how many JetStream streams hold the events (default
	// 1), each with its own leader on a cluster, so that journal writes
	// spread over the servers; an org's events are all in one partition
	// (a hash of its name). MaxBytes is split evenly between them. Fixed
	// when the journal is created: another count is refused at start.
	Partitions int `yaml:"partitions"`
	// Compression is how the journal stores its record batches' JSON: s2
	// (the default) compresses each batch, none stores it as it is (for
	// a data directory an older release must read; see docs/journal.md).
	// It applies to what is written from then on; both are always read.
	Compression string `yaml:"compression"`
}

// DeadLetters bounds the store of events destinations refused for good.
type DeadLetters struct {
	// MaxBytes caps the dead-letter store (default 1 GiB, -1 for no cap).
	// When it is full no letter is dropped: the stream that needs to store
	// one keeps retrying, its status says "dead-letter store full", and
	// /readyz reports journal.deadLetters, until letters are redriven or
	// purged or the cap is raised.
	MaxBytes int64 `yaml:"maxBytes"`
}

// Ingest bounds the ingest API.
type Ingest struct {
	// MaxBodyBytes is the largest request body after decompression
	// (default 10 MiB).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// MaxEventBytes is the largest single event (default 256 KiB).
	MaxEventBytes int `yaml:"maxEventBytes"`
	// MaxEvents is the most events in one request (default 10,000).
	MaxEvents int `yaml:"maxEvents"`
	// DefaultOrg receives events of all-orgs tokens that name no org.
	DefaultOrg string `yaml:"defaultOrg"`
}

// Envelope fills the EventBridge envelope fields patterns can test.
type Envelope struct {
	Account string `yaml:"account"`
	Region  string `yaml:"region"`
}

// Query configures the System Log query API (GET /api/v1/logs).
type Query struct {
	// PublicURL is the base URL clients reach the API at; Link headers are
	// built from it, never from the request's Host (default
	// http://<listen>).
	PublicURL string `yaml:"publicUrl"`
	// Timeout bounds one query; a slower one answers 500 E0000009 (default
	// 30s, Okta's).
	Timeout Duration `yaml:"timeout"`
	// RateLimitPerMinute is each token's budget of requests a minute,
	// reported in X-Rate-Limit-* headers; past it the answer is 429
	// (default 1200, -1 for no limit).
	RateLimitPerMinute int `yaml:"rateLimitPerMinute"`
	// ClampLimit serves a limit above 1000 as 1000 instead of answering
	// 400, for clients that ask for more than Okta allows.
	ClampLimit bool `yaml:"clampLimit"`
}

// Activity configures the per-user activity profiles
// (GET /api/v1/activity/users/{id}, docs/activity.md).
type Activity struct {
	// Enabled folds the journal into a profile per user (default true).
	// Off, nothing reads the journal for them and the endpoints answer
	// 404 for every user.
	Enabled *bool `yaml:"enabled"`
	// MaxItems bounds each top-N list of a profile (IPs, countries, ASNs,
	// user agents, devices, apps, factors, sessions; default 50); the
	// stalest value goes first and is counted.
	MaxItems int `yaml:"maxItems"`
	// MaxActions bounds the admin actions and the changes by others kept
	// per user (default 50, newest kept).
	MaxActions int `yaml:"maxActions"`
	// MaxDetections bounds the detections kept per user (default 50).
	MaxDetections int `yaml:"maxDetections"`
	// MaxCachedProfiles bounds the profiles kept in memory (default
	// 100000); the others are read from the bucket when needed.
	MaxCachedProfiles int `yaml:"maxCachedProfiles"`
}

// Patterns bound event patterns (PATTERNS.md §6); zero values keep the
// defaults, which are AWS's.
type Patterns struct {
	// MaxLength is the longest pattern in bytes (default 4096).
	MaxLength int `yaml:"maxLength"`
	// MaxCombinations caps the $or combinations of one pattern (default 1000).
	MaxCombinations int `yaml:"maxCombinations"`
	// MaxWildcardComplexity caps the wildcard complexity measure (default 10).
	MaxWildcardComplexity int `yaml:"maxWildcardComplexity"`
	// StrictNumericOperands refuses numeric operands outside ±5.0e9 or
	// with more than 6 decimals, as AWS documents (default true).
	StrictNumericOperands *bool `yaml:"strictNumericOperands"`
}

// Log configures the service's own logs.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Declared is what a log stream and a source declared in the file both
// say of themselves: the header of their /api/v1/logStreams and
// /api/v1/sources definitions.
type Declared struct {
	// ID is the definition's id: 1 to 64 letters, digits, '-' or '_'.
	ID string `yaml:"id"`
	// Name is shown by the API.
	Name string `yaml:"name"`
	// Type is the destination or source type, e.g. http or okta.
	Type string `yaml:"type"`
	// Org is the org the definition belongs to (default: every org, "*",
	// for a stream; ingest.defaultOrg for a source).
	Org string `yaml:"org"`
	// Status is ACTIVE (the default) or INACTIVE.
	Status string `yaml:"status"`
	// Settings are the type's settings, as the API takes them.
	Settings map[string]any `yaml:"settings"`
}

// Stream is a log stream declared in the file.
type Stream struct {
	Declared `yaml:",inline"`
	// Filter is the optional event pattern selecting the stream's events.
	Filter map[string]any `yaml:"filter,omitempty"`
}

// Source is an event source declared in the file: type okta (a System Log
// poller) or eventbridge (an API destination receiver), with the settings
// of /api/v1/sources. Secrets may be written here in the clear; receiver
// secrets are hashed when loaded.
type Source struct {
	Declared `yaml:",inline"`
}

// SettingsJSON returns the settings as JSON; none written in the file are
// the empty object, as the API stores them.
func (d Declared) SettingsJSON() (json.RawMessage, error) {
	if d.Settings == nil {
		return json.RawMessage("{}"), nil
	}
	return json.Marshal(d.Settings)
}

// FilterJSON returns the stream's filter as JSON, or nil.
func (s Stream) FilterJSON() (json.RawMessage, error) {
	if s.Filter == nil {
		return nil, nil
	}
	return json.Marshal(s.Filter)
}
