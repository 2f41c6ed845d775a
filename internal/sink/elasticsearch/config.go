package elasticsearch

import (
	"cmp"
	"errors"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

// Defaults for the settings a stream leaves out.
const (
	// DefaultIndex is a data stream named the Elastic way
	// (type-dataset-namespace), so the logs-*-* template applies.
	DefaultIndex = "logs-okta.system-default"
	// DefaultMaxBytes keeps requests within the 5-15 MB Elastic suggests,
	// far below http.max_content_length (100 MB).
	DefaultMaxBytes = 5 << 20
	// DefaultMaxEvents bounds the items of one request.
	DefaultMaxEvents = 1000
	// DefaultTimeout bounds one request.
	DefaultTimeout = 30 * time.Second

	maxMaxBytes  = 100 << 20
	maxMaxEvents = 100000
	maxTimeout   = 5 * time.Minute
)

// AuthType names how requests authenticate.
type AuthType string

// The authentication types.
const (
	AuthNone   AuthType = "none"
	AuthBasic  AuthType = "basic"
	AuthAPIKey AuthType = "apiKey"
)

// Config is the settings of a stream of type "elasticsearch" (Elasticsearch
// or OpenSearch).
type Config struct {
	// URLs are the cluster's nodes, e.g. "https://es1:9200"; a request
	// that cannot reach one is sent to the next.
	URLs []string `json:"urls"`
	// InsecureHTTP allows plain http to hosts other than this machine
	// (audit events and credentials then cross the network unencrypted).
	InsecureHTTP bool `json:"insecureHttp,omitempty"`
	// Index is the index or data stream (default
	// "logs-okta.system-default").
	Index string `json:"index,omitempty"`
	// Auth is how requests authenticate; none by default.
	Auth Auth `json:"auth,omitzero"`
	// MaxBytes is the largest request (default 5 MiB).
	MaxBytes int `json:"maxBytes,omitempty"`
	// MaxEvents is the most documents in one request (default 1000).
	MaxEvents int `json:"maxEvents,omitempty"`
	// Timeout bounds each request, e.g. "30s" (the default).
	Timeout sink.Duration `json:"timeout,omitempty"`
}

// Auth is basic credentials or an API key.
type Auth struct {
	// Type is none (default), basic or apiKey.
	Type AuthType `json:"type,omitempty"`
	// Username and Password are the basic credentials.
	Username string        `json:"username,omitempty"`
	Password secret.String `json:"password,omitempty"`
	// APIKey is the encoded API key (base64 of id:key, as Elasticsearch's
	// create API key answer gives in "encoded"), sent as
	// "Authorization: ApiKey <apiKey>".
	APIKey secret.String `json:"apiKey,omitempty"`
}

func (c Config) withDefaults() Config {
	c.Index = cmp.Or(c.Index, DefaultIndex)
	c.Auth.Type = cmp.Or(c.Auth.Type, AuthNone)
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	c.MaxEvents = cmp.Or(c.MaxEvents, DefaultMaxEvents)
	c.Timeout = cmp.Or(c.Timeout, sink.Duration(DefaultTimeout))
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems
	if len(c.URLs) == 0 {
		errs.Addf("urls: required")
	}
	for _, raw := range c.URLs {
		if _, err := sink.ParseURL(raw, sink.URLRules{Credentials: "auth", InsecureHTTP: c.InsecureHTTP}); err != nil {
			errs.Addf("urls: %q: %w", raw, err)
		}
	}
	if err := checkIndex(c.Index); err != nil {
		errs.Addf("index %q: %v", c.Index, err)
	}
	a := c.Auth
	switch a.Type {
	case AuthNone:
		if a.Username != "" || a.Password != "" || a.APIKey != "" {
			errs.Addf("auth: credentials set but auth.type is none")
		}
	case AuthBasic:
		if a.Username == "" || strings.Contains(a.Username, ":") {
			errs.Addf("auth.username: required for basic, without ':'")
		}
		if a.Password == "" {
			errs.Addf("auth.password: required for basic")
		}
		if a.APIKey != "" {
			errs.Addf("auth.apiKey: not used by auth type basic")
		}
	case AuthAPIKey:
		if a.APIKey == "" || strings.ContainsAny(a.APIKey.Reveal(), " \r\n\t\x00") {
			errs.Addf("auth.apiKey: required for apiKey, without white space")
		}
		if a.Username != "" || a.Password != "" {
			errs.Addf("auth.username, auth.password: not used by auth type apiKey")
		}
	default:
		errs.Addf("auth.type %q: want none, basic or apiKey", a.Type)
	}
	errs.Add(sink.CheckBetween("maxBytes", c.MaxBytes, 1024, maxMaxBytes),
		sink.CheckBetween("maxEvents", c.MaxEvents, 1, maxMaxEvents), sink.CheckTimeout(c.Timeout, maxTimeout))
	return errs.Err()
}

// checkIndex applies Elasticsearch's index name rules.
func checkIndex(name string) error {
	switch {
	case name == "." || name == "..":
		return errors.New("not a valid name")
	case len(name) > 255:
		return errors.New("longer than 255 bytes")
	case strings.ToLower(name) != name:
		return errors.New("must be lowercase")
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return errors.New(`must not contain \ / * ? " < > | space , # :`)
	case strings.IndexAny(name, "-_+") == 0:
		return errors.New("must not start with -, _ or +")
	}
	return nil
}
