// Package eventbridge receives what an Amazon EventBridge API destination
// posts (DESTINATIONS.md §8): one event envelope per request, or an array
// of them, such as the events of Okta's EventBridge log stream routed
// through a rule. The envelope's detail becomes the event, tagged with the
// envelope's source (the pattern envelope's source) and account (kept as
// the Audit-Account message header); the detail is stored as event.Parse
// leaves it.
//
// Each receiver is a source of type "eventbridge" that names one API
// destination connection's credentials and the org its events belong to.
// The three connection authorization types are supported: API_KEY (any
// header name), BASIC, and OAUTH_CLIENT_CREDENTIALS, for which auditstream
// is itself the authorization endpoint (POST /api/v1/eventbridge/token)
// and issues short-lived bearer tokens signed with a key shared by all
// nodes through KV. Secrets are stored as SHA-256 hashes only.
//
// Answers follow the ingest API, with the statuses EventBridge retries
// (429 and 5xx) used only where a retry helps: 202 once the journal has
// every event, 400 for a malformed envelope, 401 for wrong credentials
// (nothing stored), 413 for too large, 415 for a non-JSON body, 429 when
// too many requests are in flight and 503 when the journal is unavailable,
// both with Retry-After.
package eventbridge

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/source"
)

// Authorization types, EventBridge's names for a connection's.
const (
	AuthAPIKey = "API_KEY"
	AuthBasic  = "BASIC"
	AuthOAuth  = "OAUTH_CLIENT_CREDENTIALS"
)

// Defaults.
const (
	// DefaultHeader is the API key header when none is named.
	DefaultHeader = "x-api-key"
	// DefaultTokenTTL is the issued access tokens' lifetime; EventBridge
	// refreshes a token before it expires and on a 401.
	DefaultTokenTTL = time.Hour
	// MinSecretLen keeps secrets long enough for a fast hash to be safe.
	MinSecretLen = 16
)

// Settings are a receiver's settings.
type Settings struct {
	Auth Auth `json:"auth"`
	// TokenTTL is the lifetime of access tokens issued to an
	// OAUTH_CLIENT_CREDENTIALS connection (default 1h, 1m to 24h).
	TokenTTL string `json:"tokenTtl,omitempty"`
}

// Auth is the API destination connection's authorization.
type Auth struct {
	// Type is API_KEY, BASIC or OAUTH_CLIENT_CREDENTIALS.
	Type string `json:"type"`
	// Header is the API key's header name (API_KEY; default x-api-key).
	Header string `json:"header,omitempty"`
	// Value is the API key, compared with the whole header value
	// (API_KEY). Write-only.
	Value string `json:"value,omitempty"`
	// Username and Password are the Basic credentials (BASIC). The
	// password is write-only.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// ClientID and ClientSecret are the OAuth client's (the secret is
	// write-only).
	ClientID     string `json:"clientId,omitempty"`
	ClientSecret string `json:"clientSecret,omitempty"`
	// SecretSHA256 is the stored hash of the key, password or client
	// secret; never shown.
	SecretSHA256 string `json:"secretSha256,omitempty"`
}

// SecretPaths are the settings the API never shows.
//
// A receiver has no destination settings (secret.Fields.Destination):
// its secret is what EventBridge presents to auditstream, stored only as
// a hash and never sent anywhere, so no change of settings can carry it
// to another host; a change of auth.type drops it.
var SecretPaths = []string{"auth.value", "auth.password", "auth.clientSecret", "auth.secretSha256"}

var headerRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")

// NewType returns the "eventbridge" source type for the app's table.
func NewType() source.Type {
	return source.Type{Prepare: Prepare, SecretPaths: SecretPaths}
}

// Prepare validates settings and returns them as stored: the secret
// hashed, or kept from old when left out.
func Prepare(raw, old json.RawMessage) (json.RawMessage, error) {
	var s Settings
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("settings: %v", err)
	}
	var o Settings
	if len(old) > 0 {
		_ = json.Unmarshal(old, &o)
	}
	var errs []error
	var plain, field string
	switch s.Auth.Type {
	case AuthAPIKey:
		if s.Auth.Header == "" {
			s.Auth.Header = DefaultHeader
		}
		if !headerRE.MatchString(s.Auth.Header) {
			errs = append(errs, fmt.Errorf("settings.auth.header: %q is not a header name", s.Auth.Header))
		}
		plain, field = s.Auth.Value, "value"
	case AuthBasic:
		if s.Auth.Username == "" || strings.Contains(s.Auth.Username, ":") {
			errs = append(errs, errors.New("settings.auth.username: required, without ':'"))
		}
		plain, field = s.Auth.Password, "password"
	case AuthOAuth:
		if s.Auth.ClientID == "" {
			errs = append(errs, errors.New("settings.auth.clientId: required"))
		}
		plain, field = s.Auth.ClientSecret, "clientSecret"
	default:
		errs = append(errs, fmt.Errorf("settings.auth.type: %q is not API_KEY, BASIC or OAUTH_CLIENT_CREDENTIALS", s.Auth.Type))
	}
	// The hash is the server's own: one sent in the request is ignored, so
	// nobody can plant a hash of a secret shorter than MinSecretLen.
	hash := ""
	switch {
	case plain != "" && plain != secret.Redacted:
		if len(plain) < MinSecretLen {
			errs = append(errs, fmt.Errorf("settings.auth.%s: at least %d characters", field, MinSecretLen))
		}
		hash = Hash(plain)
	case o.Auth.Type == s.Auth.Type && o.Auth.SecretSHA256 != "":
		hash = o.Auth.SecretSHA256
	}
	if hash == "" && field != "" {
		errs = append(errs, fmt.Errorf("settings.auth.%s: required", field))
	}
	if s.TokenTTL != "" {
		d, err := time.ParseDuration(s.TokenTTL)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			errs = append(errs, fmt.Errorf("settings.tokenTtl: %q must be a duration from 1m to 24h", s.TokenTTL))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.Auth.Value, s.Auth.Password, s.Auth.ClientSecret, s.Auth.SecretSHA256 = "", "", "", hash
	return json.Marshal(s)
}

// Hash is how secrets are stored: hex SHA-256 (secrets are long random
// values, as for API tokens).
func Hash(plain string) string {
	sum := sha256.Sum256([]byte(plain))
	return hex.EncodeToString(sum[:])
}

func hashEqual(plain, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(Hash(plain)), []byte(hash)) == 1
}

func (s Settings) tokenTTL() time.Duration {
	if d, err := time.ParseDuration(s.TokenTTL); err == nil && d > 0 {
		return d
	}
	return DefaultTokenTTL
}
