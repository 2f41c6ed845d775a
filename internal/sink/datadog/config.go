package datadog

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

// Defaults and the intake's limits.
const (
	// DefaultSite is Datadog's US1 site.
	DefaultSite = "datadoghq.com"
	// DefaultService and DefaultSource fill service and ddsource.
	DefaultService = "auditstream"
	DefaultSource  = "okta"
	// DefaultMaxBytes is the batch size before compression that
	// Datadog's own Vector sink uses, below the intake's 5 MB.
	DefaultMaxBytes = 4250000
	// DefaultTimeout bounds one request.
	DefaultTimeout = 30 * time.Second

	// maxItems, maxBytes and maxItemBytes are the intake's limits: 1,000
	// items, 5 MB uncompressed, 1 MB per log.
	maxItems     = 1000
	maxBytes     = 5 << 20
	maxItemBytes = 1 << 20
	maxTimeout   = 5 * time.Minute
)

// Sites are Datadog's sites.
var Sites = []string{
	"datadoghq.com", "us3.datadoghq.com", "us5.datadoghq.com", "datadoghq.eu",
	"ap1.datadoghq.com", "ap2.datadoghq.com", "uk1.datadoghq.com", "ddog-gov.com", "us2.ddog-gov.com",
}

// Config is the settings of a stream of type "datadog".
type Config struct {
	// Site is the Datadog site (default datadoghq.com); logs go to
	// https://http-intake.logs.<site>.
	Site string `json:"site,omitempty"`
	// URL replaces the site's intake with another base URL (a proxy or a
	// test server); /api/v2/logs is added to it.
	URL string `json:"url,omitempty"`
	// APIKey is the Datadog API key.
	APIKey secret.String `json:"apiKey"`
	// InsecureHTTP allows plain http to hosts other than this machine
	// (audit events and credentials then cross the network unencrypted).
	InsecureHTTP bool `json:"insecureHttp,omitempty"`
	// Service and Source fill service (default "auditstream") and
	// ddsource (default "okta").
	Service string `json:"service,omitempty"`
	Source  string `json:"source,omitempty"`
	// Tags are added to ddtags as "key:value", after org:<org>.
	Tags []string `json:"tags,omitempty"`
	// Gzip compresses requests (default true).
	Gzip *bool `json:"gzip,omitempty"`
	// MaxBytes is the largest request before compression (default
	// 4250000, at most 5242880).
	MaxBytes int `json:"maxBytes,omitempty"`
	// Timeout bounds each request, e.g. "30s" (the default).
	Timeout sink.Duration `json:"timeout,omitempty"`
}

func (c Config) withDefaults() Config {
	c.Site = cmp.Or(c.Site, DefaultSite)
	c.Service = cmp.Or(c.Service, DefaultService)
	c.Source = cmp.Or(c.Source, DefaultSource)
	c.Gzip = cmp.Or(c.Gzip, new(true))
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	c.Timeout = cmp.Or(c.Timeout, sink.Duration(DefaultTimeout))
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems
	if !slices.Contains(Sites, c.Site) {
		errs.Addf("site %q: want one of %s", c.Site, strings.Join(Sites, ", "))
	}
	if c.URL != "" {
		if _, err := sink.ParseURL(c.URL, sink.URLRules{Credentials: "apiKey", InsecureHTTP: c.InsecureHTTP}); err != nil {
			errs.Addf("url: %w", err)
		}
	}
	if c.APIKey == "" {
		errs.Addf("apiKey: required")
	} else if strings.ContainsAny(c.APIKey.Reveal(), " \r\n\t\x00") {
		errs.Addf("apiKey: contains white space or control characters")
	}
	for _, tag := range c.Tags {
		if tag == "" || strings.ContainsAny(tag, ", \r\n") {
			errs.Addf("tags: %q: want key:value without commas or spaces", tag)
		}
	}
	errs.Add(sink.CheckBetween("maxBytes", c.MaxBytes, 1024, maxBytes), sink.CheckTimeout(c.Timeout, maxTimeout))
	return errs.Err()
}

// intake is the base URL logs go to.
func (c Config) intake() string {
	if c.URL != "" {
		return strings.TrimSuffix(c.URL, "/")
	}
	return "https://http-intake.logs." + c.Site
}

// api is the base URL of the API (key validation).
func (c Config) api() string {
	if c.URL != "" {
		return strings.TrimSuffix(c.URL, "/")
	}
	return "https://api." + c.Site
}
