package okta

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/setting"
)

// Defaults of a source's settings, each with its reason.
const (
	// DefaultPollInterval is Okta's own advice for polling (OKTA.md §1.3).
	DefaultPollInterval = 60 * time.Second
	// DefaultSince is the first run's backfill: Okta's own default window.
	DefaultSince = 7 * 24 * time.Hour
	// MaxSince is how far back the System Log answers.
	MaxSince = 90 * 24 * time.Hour
	// DefaultShare is Okta's default share of an endpoint's limit for one
	// API token or OAuth app.
	DefaultShare = 0.5
	// DefaultOverlap is how far before the newest event seen a poll
	// restarts when the org rejects the stored cursor.
	DefaultOverlap = 5 * time.Minute
	// DefaultAlertAfter is how long a source fails before it raises
	// system.log_source.health.failing.
	DefaultAlertAfter = 15 * time.Minute
	// DefaultSilentAfter is how long without a new event before a source
	// raises system.log_source.health.silent: an Okta org logs sign-ins
	// every day.
	DefaultSilentAfter = 24 * time.Hour
	// DefaultEventSourceName completes the envelope source
	// aws.partner/okta.com/<subdomain>/<name> of polled events.
	DefaultEventSourceName = "auditstream"
	// Scope is the OAuth scope the poller asks for.
	Scope = "okta.logs.read"
)

// Auth types.
const (
	AuthSSWS  = "SSWS"
	AuthOAuth = "OAUTH"
)

// Settings are an Okta source's settings as the API takes them. Durations
// are written "60s", "5m".
type Settings struct {
	// BaseURL is the org's URL, e.g. https://acme.okta.com (plain http only
	// for loopback).
	BaseURL string `json:"baseUrl" required:"true" help:"The org's URL, e.g. https://acme.okta.com (plain http only for loopback)."`
	Auth    Auth   `json:"auth"`
	// PollInterval is the pause after a page that reached the end of the
	// log (default 60s).
	PollInterval string `json:"pollInterval,omitempty" help:"Pause after a page that reached the end of the log, e.g. 60s (the default)."`
	// Since is where the first poll starts: an RFC 3339 time, or a duration
	// back from the source's creation such as "168h" (default 7 days, at
	// most 90 days).
	Since string `json:"since,omitempty" help:"Where the first poll starts: an RFC 3339 time or a duration back such as 168h (default 7 days, at most 90)."`
	// RateLimitShare is the share of the org's /api/v1/logs rate limit the
	// poller may use, 0 < share <= 1 (default 0.5).
	RateLimitShare float64 `json:"rateLimitShare,omitempty" help:"Share of the org's /api/v1/logs rate limit the poller may use, more than 0 and at most 1 (default 0.5)."`
	// EventSourceName is the last part of the events' envelope source
	// (default auditstream).
	EventSourceName string `json:"eventSourceName,omitempty" help:"Last part of the events' envelope source aws.partner/okta.com/<subdomain>/<name> (default auditstream)."`
	// Overlap is how far before the newest event seen a poll restarts when
	// the stored cursor is refused (default 5m).
	Overlap string `json:"overlap,omitempty" help:"How far before the newest event seen a poll restarts when the cursor is refused (default 5m)."`
	// AlertAfter raises a failing event after this long failing (default
	// 15m, "0s" turns it off).
	AlertAfter string `json:"alertAfter,omitempty" help:"Raise a failing event after this long failing (default 15m; 0s: never)."`
	// SilentAfter raises a silent event after this long without a new
	// event (default 24h, "0s" turns it off).
	SilentAfter string `json:"silentAfter,omitempty" help:"Raise a silent event after this long without a new event (default 24h; 0s: never)."`
}

// Auth is how the poller authenticates.
type Auth struct {
	// Type is SSWS (an API token) or OAUTH (a service app).
	Type string `json:"type" required:"true" options:"SSWS,OAUTH" help:"SSWS: an API token. OAUTH: a service app with a registered public key."`
	// Token is the API token (SSWS). Write-only.
	Token string `json:"token,omitempty" help:"The API token (SSWS)."`
	// ClientID is the service app's client id (OAUTH).
	ClientID string `json:"clientId,omitempty" help:"The service app's client id (OAUTH)."`
	// KeyID is the kid of the app's registered public key (OAUTH).
	KeyID string `json:"keyId,omitempty" help:"The kid of the app's registered public key (OAUTH)."`
	// PrivateKey is the app's RSA private key, PEM (PKCS#8 or PKCS#1).
	// Write-only.
	PrivateKey string `json:"privateKey,omitempty" form:"text" help:"The app's RSA private key, PEM (OAUTH)."`
}

// SecretPaths are the settings the API never shows.
var SecretPaths = []string{"auth.token", "auth.privateKey"}

// DestinationPaths are the settings that say where the secrets are sent:
// the org URL, which also gives the OAuth token endpoint. Changing its
// scheme, host or port needs the secrets sent again.
var DestinationPaths = []string{"baseUrl"}

// WriteOnly are the secrets and the destination settings together.
var WriteOnly = secret.Fields{Secrets: SecretPaths, Destination: DestinationPaths}

// params are parsed, defaulted settings.
type params struct {
	base         *url.URL
	auth         Auth
	key          *rsa.PrivateKey
	pollInterval time.Duration
	since        time.Time
	share        float64
	sourceName   string
	overlap      time.Duration
	alertAfter   time.Duration
	silentAfter  time.Duration
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Prepare validates settings (merging write-only secrets from old) and
// returns them as stored. now resolves a relative since.
func Prepare(raw, old json.RawMessage, now time.Time) (json.RawMessage, error) {
	s, err := setting.Decode[Settings](raw)
	if err != nil {
		return nil, err
	}
	if len(old) > 0 {
		var o Settings
		if err := json.Unmarshal(old, &o); err == nil && o.Auth.Type == s.Auth.Type {
			// The secrets stay only while baseUrl keeps its scheme, host
			// and port: an API token never follows the source elsewhere.
			merged, err := secret.Carry(raw, old, WriteOnly)
			if err != nil {
				return nil, err
			}
			s = Settings{}
			if err := json.Unmarshal(merged, &s); err != nil {
				return nil, fmt.Errorf("settings: %v", err)
			}
		}
	}
	if s.Since != "" {
		// A relative since is resolved once, so that a restart does not
		// move the start of the first run.
		if d, err := time.ParseDuration(s.Since); err == nil && d > 0 && d <= MaxSince {
			s.Since = now.Add(-d).UTC().Format(time.RFC3339)
		}
	}
	if _, err := parse(s, now); err != nil {
		return nil, err
	}
	if u, err := url.Parse(s.BaseURL); err == nil {
		s.BaseURL = u.Scheme + "://" + u.Host
	}
	return json.Marshal(s)
}

// parse checks every setting and reports all problems at once.
func parse(s Settings, now time.Time) (params, error) {
	var errs []error
	p := params{share: DefaultShare, sourceName: DefaultEventSourceName, pollInterval: DefaultPollInterval,
		since: now.Add(-DefaultSince), overlap: DefaultOverlap, alertAfter: DefaultAlertAfter, silentAfter: DefaultSilentAfter}
	u, err := checkBaseURL(s.BaseURL)
	if err != nil {
		errs = append(errs, err)
	}
	p.base = u
	p.auth = s.Auth
	switch s.Auth.Type {
	case AuthSSWS:
		if s.Auth.Token == "" {
			errs = append(errs, errors.New("settings.auth.token: required with type SSWS"))
		}
		if s.Auth.ClientID != "" || s.Auth.PrivateKey != "" {
			errs = append(errs, errors.New("settings.auth: clientId and privateKey belong to type OAUTH"))
		}
	case AuthOAuth:
		if s.Auth.ClientID == "" {
			errs = append(errs, errors.New("settings.auth.clientId: required with type OAUTH"))
		}
		if s.Auth.Token != "" {
			errs = append(errs, errors.New("settings.auth.token: belongs to type SSWS"))
		}
		if s.Auth.PrivateKey == "" {
			errs = append(errs, errors.New("settings.auth.privateKey: required with type OAUTH (PEM RSA key)"))
		} else if p.key, err = ParsePrivateKey(s.Auth.PrivateKey); err != nil {
			errs = append(errs, fmt.Errorf("settings.auth.privateKey: %v", err))
		}
	default:
		errs = append(errs, fmt.Errorf("settings.auth.type: %q is not SSWS or OAUTH", s.Auth.Type))
	}
	dur := func(name, v string, def time.Duration, min time.Duration) time.Duration {
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			errs = append(errs, fmt.Errorf("settings.%s: %q must be a duration like 30s or 5m, at least %v", name, v, min))
			return def
		}
		return d
	}
	p.pollInterval = dur("pollInterval", s.PollInterval, DefaultPollInterval, 100*time.Millisecond)
	if p.pollInterval > time.Hour {
		errs = append(errs, errors.New("settings.pollInterval: at most 1h"))
	}
	p.overlap = dur("overlap", s.Overlap, DefaultOverlap, 0)
	p.alertAfter = dur("alertAfter", s.AlertAfter, DefaultAlertAfter, 0)
	p.silentAfter = dur("silentAfter", s.SilentAfter, DefaultSilentAfter, 0)
	if s.Since != "" {
		if t, err := time.Parse(time.RFC3339Nano, s.Since); err == nil {
			p.since = t // an old start is moved inside Okta's retention when polled
		} else if d, err := time.ParseDuration(s.Since); err == nil && d > 0 && d <= MaxSince {
			p.since = now.Add(-d)
		} else {
			errs = append(errs, fmt.Errorf("settings.since: %q must be an RFC 3339 time or a duration back from now such as 168h (at most 90 days)", s.Since))
		}
	}
	if s.RateLimitShare != 0 {
		if s.RateLimitShare < 0 || s.RateLimitShare > 1 {
			errs = append(errs, fmt.Errorf("settings.rateLimitShare: %v must be more than 0 and at most 1", s.RateLimitShare))
		} else {
			p.share = s.RateLimitShare
		}
	}
	if s.EventSourceName != "" {
		if !nameRE.MatchString(s.EventSourceName) {
			errs = append(errs, fmt.Errorf("settings.eventSourceName: %q must be 1 to 64 letters, digits, '.', '_' or '-'", s.EventSourceName))
		} else {
			p.sourceName = s.EventSourceName
		}
	}
	return p, errors.Join(errs...)
}

// checkBaseURL accepts https URLs, and http only for loopback hosts.
func checkBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("settings.baseUrl: required (the org URL, e.g. https://acme.okta.com)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("settings.baseUrl: %q must be the org's URL, e.g. https://acme.okta.com", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("settings.baseUrl: %q must use https (plain http only for loopback)", raw)
		}
	default:
		return nil, fmt.Errorf("settings.baseUrl: %q must use https", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParsePrivateKey reads an RSA private key in PEM (PKCS#8 or PKCS#1).
func ParsePrivateKey(pemText string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key (only RS256 is supported)")
		}
		return rk, nil
	}
	return nil, fmt.Errorf("PEM type %q is not a private key", block.Type)
}

// eventSource is the envelope source of the org's events:
// aws.partner/okta.com/<subdomain>/<name>, Okta's own for its EventBridge
// stream.
func (p params) eventSource() string {
	host := p.base.Hostname()
	sub := host
	if net.ParseIP(host) != nil {
		sub = strings.NewReplacer(".", "-", ":", "-").Replace(host)
	} else if i := strings.IndexByte(host, '.'); i > 0 {
		sub = host[:i]
	}
	return "aws.partner/okta.com/" + sub + "/" + p.sourceName
}
