package httpsink

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
)

// Defaults for the settings a stream leaves out.
const (
	// DefaultTimeout bounds one request. Standard Webhooks suggests 15-30 s
	// and many receivers answer within seconds; a stuck receiver should
	// cost a retry, not a stalled stream.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxEvents is the most events in one batch.
	DefaultMaxEvents = 500
	// DefaultMaxBytes is the largest request body, 1 MiB: what most
	// receivers and proxies in front of them accept without tuning.
	DefaultMaxBytes = 1 << 20
	// DefaultAPIKeyHeader is the header an apiKey credential goes in when
	// the stream does not name one.
	DefaultAPIKeyHeader = "X-API-Key"

	// maxTimeout and maxMaxEvents keep a typo from holding a stream for an
	// hour or building huge requests.
	maxTimeout   = 5 * time.Minute
	maxMaxEvents = 10000
	maxMaxBytes  = 64 << 20
)

// Body says how a batch goes on the wire.
type Body string

// The body modes.
const (
	// BodyBatch sends one request per batch whose body is a JSON array of
	// the events (Content-Type application/json). The default.
	BodyBatch Body = "batch"
	// BodyNDJSON sends one request per batch whose body is the events,
	// one per line (Content-Type application/x-ndjson).
	BodyNDJSON Body = "ndjson"
	// BodyEvent sends one request per event whose body is the event
	// (Content-Type application/json).
	BodyEvent Body = "event"
)

// AuthType names how requests authenticate.
type AuthType string

// The authentication types.
const (
	// AuthNone sends no credentials (the default). Signing may still
	// authenticate the payload.
	AuthNone AuthType = "none"
	// AuthBasic sends HTTP Basic credentials (username, password).
	AuthBasic AuthType = "basic"
	// AuthAPIKey sends apiKey as the value of header headerName.
	AuthAPIKey AuthType = "apiKey"
	// AuthOAuth2 fetches a bearer token with the OAuth 2.0 client
	// credentials grant from tokenUrl and sends it in Authorization.
	AuthOAuth2 AuthType = "oauth2ClientCredentials"
)

// Config is the settings of a stream of type "http".
type Config struct {
	// URL receives the events; http or https. It must not carry
	// credentials (use auth).
	URL string `json:"url" required:"true" help:"Endpoint that receives the events (https; http only to this machine or with insecureHttp)"`
	// Method is POST (default) or PUT.
	Method string `json:"method,omitempty" help:"POST (default) or PUT"`
	// Headers are added to every request. Their values are shown by the
	// API and in logs: put credentials in auth, which is redacted.
	// Headers the sink sets itself (Content-Type, webhook-*, and the
	// auth header) cannot be set here.
	Headers map[string]string `json:"headers,omitempty" help:"Extra headers as a JSON object; shown to readers, so no credentials"`
	// Auth is how requests authenticate; none by default.
	Auth Auth `json:"auth,omitzero"`
	// Body is batch (default: a JSON array), ndjson, or event (one
	// request per event).
	Body Body `json:"body,omitempty" help:"batch (JSON array, default), ndjson, or event (one request per event)"`
	// Signing, when its secret is set, signs every request the Standard
	// Webhooks way (webhook-id, webhook-timestamp, webhook-signature).
	Signing Signing `json:"signing,omitzero"`
	// Timeout bounds each request, e.g. "15s" (the default).
	Timeout sink.Duration `json:"timeout,omitempty" help:"Per-request timeout, e.g. 15s (default)"`
	// MaxEvents is the most events in one batch (default 500).
	MaxEvents int `json:"maxEvents,omitempty" help:"Most events per request (default 500)"`
	// MaxBytes is the largest request body in bytes (default 1 MiB); in
	// event mode, the largest event.
	MaxBytes int `json:"maxBytes,omitempty" help:"Largest request body in bytes (default 1 MiB)"`
	// InsecureHTTP allows plain http to hosts other than this machine
	// (audit events and credentials then cross the network unencrypted).
	InsecureHTTP bool `json:"insecureHttp,omitempty" help:"Allow plain http to other hosts (events and credentials cross the network unencrypted)"`
	// BodyTemplate, when set, is the request body: a Go text/template
	// over each event (body event, the default with a template) or, with
	// digest, over the period's events, whose output must be JSON. It is
	// checked when the stream is created (package notify describes its
	// data and functions).
	BodyTemplate string `json:"bodyTemplate,omitempty" help:"Optional Go text/template over each event (or the digest) that renders the JSON body"`
	// Digest, e.g. "5m", holds events for that long and sends them in one
	// request: one rendered BodyTemplate summarising them, or without a
	// template one batch (body batch or ndjson).
	Digest sink.Duration `json:"digest,omitempty" help:"Hold events this long (e.g. 5m) and send them in one request"`
}

// Auth is how requests authenticate. Only the fields of the chosen type
// may be set.
type Auth struct {
	// Type is none (default), basic, apiKey or oauth2ClientCredentials.
	Type AuthType `json:"type,omitempty" help:"none (default), basic, apiKey or oauth2ClientCredentials"`
	// Username and Password are the basic credentials.
	Username string        `json:"username,omitempty"`
	Password secret.String `json:"password,omitempty" help:"Basic auth password (write-only)"`
	// HeaderName is the header that carries APIKey (default X-API-Key;
	// use Authorization with a value "Bearer <token>" for bearer tokens).
	HeaderName string        `json:"headerName,omitempty"`
	APIKey     secret.String `json:"apiKey,omitempty"`
	// TokenURL, ClientID, ClientSecret and Scopes configure the OAuth 2.0
	// client credentials grant. The client authenticates to the token
	// endpoint with HTTP Basic.
	TokenURL     string        `json:"tokenUrl,omitempty"`
	ClientID     string        `json:"clientId,omitempty"`
	ClientSecret secret.String `json:"clientSecret,omitempty"`
	Scopes       []string      `json:"scopes,omitempty"`
}

// Signing configures Standard Webhooks signatures.
type Signing struct {
	// Secret is the endpoint's whsec_ secret: "whsec_" followed by the
	// base64 of 24 to 64 random bytes.
	Secret secret.String `json:"secret,omitempty" help:"Standard Webhooks whsec_ secret; signs every request (write-only)"`
}

// withDefaults returns c with every unset setting at its default.
func (c Config) withDefaults() Config {
	c.Method = cmp.Or(c.Method, http.MethodPost)
	if c.BodyTemplate != "" && c.Digest == 0 {
		c.Body = cmp.Or(c.Body, BodyEvent)
	}
	c.Body = cmp.Or(c.Body, BodyBatch)
	c.Auth.Type = cmp.Or(c.Auth.Type, AuthNone)
	if c.Auth.Type == AuthAPIKey && c.Auth.HeaderName == "" {
		c.Auth.HeaderName = DefaultAPIKeyHeader
	}
	c.Timeout = cmp.Or(c.Timeout, sink.Duration(DefaultTimeout))
	c.MaxEvents = cmp.Or(c.MaxEvents, DefaultMaxEvents)
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	return c
}

// credentialHeader reports whether a header name carries a credential.
// Header values are shown by the API, so credentials belong in auth.
func credentialHeader(canon string) bool {
	switch canon {
	case "Authorization", "Proxy-Authorization", "Cookie":
		return true
	}
	l := strings.ToLower(canon)
	for _, w := range []string{"key", "token", "secret", "password", "signature"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// reservedHeaders are set by the sink and cannot be configured.
var reservedHeaders = []string{
	"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding",
	"Host", "Connection", "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature",
}

// Validate reports every problem with c at once. Unset settings are valid:
// they take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems

	if c.URL == "" {
		errs.Addf("url: required")
	} else if _, err := sink.ParseURL(c.URL, sink.URLRules{Credentials: "auth", Query: true, InsecureHTTP: c.InsecureHTTP}); err != nil {
		errs.Addf("url: %w", err)
	}
	if c.Method != http.MethodPost && c.Method != http.MethodPut {
		errs.Addf("method %q: want POST or PUT", c.Method)
	}
	switch c.Body {
	case BodyBatch, BodyNDJSON, BodyEvent:
	default:
		errs.Addf("body %q: want batch, ndjson or event", c.Body)
	}
	errs.Add(c.validateTemplate()...)
	authHeader := c.authHeader()
	for name, value := range c.Headers {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case !validHeaderName(name):
			errs.Addf("headers: %q is not a valid header name", name)
		case strings.ContainsAny(value, "\r\n\x00"):
			errs.Addf("headers: %s: value contains a control character", name)
		case containsFold(reservedHeaders, canon):
			errs.Addf("headers: %s is set by the sink", canon)
		case authHeader != "" && strings.EqualFold(canon, authHeader):
			errs.Addf("headers: %s is set by auth", canon)
		case credentialHeader(canon):
			errs.Addf("headers: %s looks like a credential; put it in auth (apiKey with headerName %q), whose values are write-only", canon, canon)
		}
	}
	errs.Add(c.Auth.validate(c.InsecureHTTP)...)
	if c.Signing.Secret != "" {
		if _, err := signingKey(c.Signing.Secret); err != nil {
			errs.Addf("signing.secret: %w", err)
		}
	}
	errs.Add(sink.CheckTimeout(c.Timeout, maxTimeout), sink.CheckBetween("maxEvents", c.MaxEvents, 1, maxMaxEvents))
	if c.MaxBytes < 0 || c.MaxBytes > maxMaxBytes {
		errs.Addf("maxBytes %d: want between 1 and %d", c.MaxBytes, maxMaxBytes)
	} else if c.MaxBytes < 1024 {
		errs.Addf("maxBytes %d: want at least 1024, or no event would fit", c.MaxBytes)
	}
	return errs.Err()
}

// validateTemplate checks bodyTemplate and digest: the template is parsed
// and tried on sample events, so that it cannot fail at delivery.
func (c Config) validateTemplate() []error {
	var errs sink.Problems
	errs.Add(notify.CheckDigest(c.Digest))
	switch {
	case c.Digest > 0 && c.Body == BodyEvent:
		errs.Addf("digest: sends one request per period; body event sends one per event")
	case c.BodyTemplate != "" && c.Digest > 0 && c.Body != BodyBatch:
		errs.Addf("bodyTemplate with digest renders one body per period: leave body out")
	case c.BodyTemplate != "" && c.Digest == 0 && c.Body != BodyEvent:
		errs.Addf("bodyTemplate renders one body per event: use body event (the default with a template), or set digest")
	}
	if c.BodyTemplate != "" {
		if _, err := notify.ParseTemplate(c.BodyTemplate, c.Digest > 0); err != nil {
			errs.Addf("bodyTemplate: %w", err)
		}
	}
	return errs
}

func (a Auth) validate(insecureHTTP bool) []error {
	var errs sink.Problems
	// unused lists fields set for another type: a half-edited config is
	// better refused than silently ignored.
	unused := func(names ...string) {
		for _, n := range names {
			errs.Addf("auth.%s: not used by auth type %s", n, a.Type)
		}
	}
	var basic, apiKey, oauth []string
	named := func(list *[]string, name string, isSet bool) {
		if isSet {
			*list = append(*list, name)
		}
	}
	named(&basic, "username", a.Username != "")
	named(&basic, "password", a.Password != "")
	named(&apiKey, "headerName", a.HeaderName != "")
	named(&apiKey, "apiKey", a.APIKey != "")
	named(&oauth, "tokenUrl", a.TokenURL != "")
	named(&oauth, "clientId", a.ClientID != "")
	named(&oauth, "clientSecret", a.ClientSecret != "")
	named(&oauth, "scopes", len(a.Scopes) > 0)

	switch a.Type {
	case AuthNone:
		unused(slices.Concat(basic, apiKey, oauth)...)
	case AuthBasic:
		unused(slices.Concat(apiKey, oauth)...)
		if a.Username == "" {
			errs.Addf("auth.username: required for basic")
		} else if strings.Contains(a.Username, ":") {
			errs.Addf("auth.username: must not contain ':'")
		}
		if a.Password == "" {
			errs.Addf("auth.password: required for basic")
		}
	case AuthAPIKey:
		unused(slices.Concat(basic, oauth)...)
		if !validHeaderName(a.HeaderName) {
			errs.Addf("auth.headerName %q: not a valid header name", a.HeaderName)
		} else if containsFold(reservedHeaders, textproto.CanonicalMIMEHeaderKey(a.HeaderName)) {
			errs.Addf("auth.headerName %s: set by the sink", a.HeaderName)
		}
		if a.APIKey == "" {
			errs.Addf("auth.apiKey: required for apiKey")
		} else if strings.ContainsAny(a.APIKey.Reveal(), "\r\n\x00") {
			errs.Addf("auth.apiKey: contains a control character")
		}
	case AuthOAuth2:
		unused(slices.Concat(basic, apiKey)...)
		if a.TokenURL == "" {
			errs.Addf("auth.tokenUrl: required for oauth2ClientCredentials")
		} else if _, err := sink.ParseURL(a.TokenURL, sink.URLRules{Credentials: "auth", Query: true, InsecureHTTP: insecureHTTP}); err != nil {
			errs.Addf("auth.tokenUrl: %w", err)
		}
		if a.ClientID == "" {
			errs.Addf("auth.clientId: required for oauth2ClientCredentials")
		}
		if a.ClientSecret == "" {
			errs.Addf("auth.clientSecret: required for oauth2ClientCredentials")
		}
		for _, s := range a.Scopes {
			if s == "" || strings.ContainsAny(s, " \"\\") {
				errs.Addf("auth.scopes: %q is not a valid scope", s)
			}
		}
	default:
		errs.Addf("auth.type %q: want none, basic, apiKey or oauth2ClientCredentials", a.Type)
	}
	return errs
}

// authHeader is the header auth sets, or "".
func (c Config) authHeader() string {
	switch c.Auth.Type {
	case AuthBasic, AuthOAuth2:
		return "Authorization"
	case AuthAPIKey:
		return textproto.CanonicalMIMEHeaderKey(c.Auth.HeaderName)
	default:
		return ""
	}
}

// signingKey decodes a whsec_ secret into its HMAC key.
func signingKey(s secret.String) ([]byte, error) {
	b64, ok := strings.CutPrefix(s.Reveal(), "whsec_")
	if !ok {
		return nil, errors.New(`want a "whsec_" prefix`)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New(`the part after "whsec_" is not standard base64`)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("key is %d bytes, want 24 to 64", len(key))
	}
	return key, nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		// RFC 9110 token characters.
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}
