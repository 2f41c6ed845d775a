package splunk

import (
	"cmp"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

// Defaults for the settings a stream leaves out.
const (
	// DefaultSourcetype and DefaultSource are what the Splunk Add-on for
	// Okta Identity Cloud and Splunk's security content expect.
	DefaultSourcetype = "OktaIM2:log"
	DefaultSource     = "okta:im2"
	// DefaultMaxBytes is the request cap before compression: Splunk Cloud
	// commonly holds requests to about 1 MB.
	DefaultMaxBytes = 1 << 20
	// DefaultMaxEvents keeps one request's events bounded.
	DefaultMaxEvents = 1000
	// DefaultTimeout bounds one request.
	DefaultTimeout = 30 * time.Second
	// DefaultAckPollInterval is how often acknowledgements are polled,
	// as Splunk suggests.
	DefaultAckPollInterval = 10 * time.Second
	// DefaultAckTimeout is how long to wait for an acknowledgement
	// before the batch is sent again.
	DefaultAckTimeout = 5 * time.Minute

	maxMaxBytes  = 800 << 20
	maxMaxEvents = 100000
	maxTimeout   = 5 * time.Minute
)

// Config is the settings of a stream of type "splunk_hec".
type Config struct {
	// URL is the collector's base URL, e.g. "https://splunk.example.com:8088";
	// events go to /services/collector/event below it.
	URL string `json:"url"`
	// Token is the HEC token.
	Token secret.String `json:"token"`
	// InsecureHTTP allows plain http to hosts other than this machine
	// (audit events and credentials then cross the network unencrypted).
	InsecureHTTP bool `json:"insecureHttp,omitempty"`

	// Sourcetype, Source, Index and Host fill the envelope; Sourcetype
	// defaults to "OktaIM2:log" and Source to "okta:im2", Index to the
	// token's default index and Host to the event's org.
	Sourcetype string `json:"sourcetype,omitempty"`
	Source     string `json:"source,omitempty"`
	Index      string `json:"index,omitempty"`
	Host       string `json:"host,omitempty"`
	// Gzip compresses requests (default true).
	Gzip *bool `json:"gzip,omitempty"`
	// MaxBytes is the largest request before compression (default 1 MiB).
	MaxBytes int `json:"maxBytes,omitempty"`
	// MaxEvents is the most events in one request (default 1000).
	MaxEvents int `json:"maxEvents,omitempty"`
	// Ack turns on indexer acknowledgement (the token must have useACK):
	// a write returns only once Splunk says the events are indexed, so
	// the journal is acknowledged only then.
	Ack bool `json:"ack,omitempty"`
	// AckPollInterval is how often to ask (default "10s"); AckTimeout is
	// how long to wait before sending the batch again (default "5m").
	AckPollInterval sink.Duration `json:"ackPollInterval,omitempty"`
	AckTimeout      sink.Duration `json:"ackTimeout,omitempty"`
	// Timeout bounds each request, e.g. "30s" (the default).
	Timeout sink.Duration `json:"timeout,omitempty"`
}

func (c Config) withDefaults() Config {
	c.Sourcetype = cmp.Or(c.Sourcetype, DefaultSourcetype)
	c.Source = cmp.Or(c.Source, DefaultSource)
	c.Gzip = cmp.Or(c.Gzip, new(true))
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	c.MaxEvents = cmp.Or(c.MaxEvents, DefaultMaxEvents)
	c.AckPollInterval = cmp.Or(c.AckPollInterval, sink.Duration(DefaultAckPollInterval))
	c.AckTimeout = cmp.Or(c.AckTimeout, sink.Duration(DefaultAckTimeout))
	c.Timeout = cmp.Or(c.Timeout, sink.Duration(DefaultTimeout))
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems
	if c.URL == "" {
		errs.Addf("url: required")
	} else if _, err := sink.ParseURL(c.URL, sink.URLRules{Credentials: "token", InsecureHTTP: c.InsecureHTTP}); err != nil {
		errs.Addf("url: %w", err)
	}
	if c.Token == "" {
		errs.Addf("token: required")
	} else if strings.ContainsAny(c.Token.Reveal(), " \r\n\t\x00") {
		errs.Addf("token: contains white space or control characters")
	}
	for name, v := range map[string]string{"sourcetype": c.Sourcetype, "source": c.Source, "index": c.Index, "host": c.Host} {
		if strings.ContainsAny(v, "\r\n\x00") || len(v) > 1024 {
			errs.Addf("%s: at most 1024 characters, no control characters", name)
		}
	}
	errs.Add(sink.CheckBetween("maxBytes", c.MaxBytes, 1024, maxMaxBytes),
		sink.CheckBetween("maxEvents", c.MaxEvents, 1, maxMaxEvents), sink.CheckTimeout(c.Timeout, maxTimeout))
	if c.AckPollInterval.D() <= 0 || c.AckTimeout.D() < c.AckPollInterval.D() {
		errs.Addf("ackPollInterval %v, ackTimeout %v: want a positive interval no longer than the timeout", c.AckPollInterval.D(), c.AckTimeout.D())
	}
	return errs.Err()
}

// Edition is a Splunk Cloud platform, as Okta names it.
type Edition string

// The editions of Okta's schema.
const (
	EditionAWS         Edition = "aws"
	EditionAWSGovCloud Edition = "aws_govcloud"
	EditionGCP         Edition = "gcp"
)

// The messages of Okta's schema for splunk_cloud_logstreaming settings.
const (
	msgHost = "Host should be a domain without http or https."
)

var (
	oktaHostRE  = regexp.MustCompile(`^([a-z0-9]+(-[a-z0-9]+)*){1,100}\.splunkcloud(gc|fed)?\.com$`)
	oktaTokenRE = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// OktaConfig is the settings of a stream of type
// "splunk_cloud_logstreaming", Okta's Splunk Cloud log stream.
type OktaConfig struct {
	// Edition is the Splunk Cloud platform: aws, aws_govcloud or gcp.
	Edition Edition `json:"edition"`
	// Host is the Splunk Cloud stack's domain, e.g. "acme.splunkcloud.com",
	// without scheme.
	Host string `json:"host"`
	// Token is the HEC token (a GUID).
	Token secret.String `json:"token"`
}

// Validate reports every problem with c with Okta's messages.
func (c OktaConfig) Validate() error {
	var errs sink.Problems
	switch c.Edition {
	case EditionAWS, EditionAWSGovCloud, EditionGCP:
	default:
		errs.Add(errors.New("edition: must be one of aws, aws_govcloud, gcp"))
	}
	if n := len(c.Host); n < 17 || n > 116 || !oktaHostRE.MatchString(c.Host) {
		errs.Add(errors.New("host: " + msgHost))
	}
	if !oktaTokenRE.MatchString(c.Token.Reveal()) {
		errs.Add(errors.New("token: must be a valid HEC token (a GUID)"))
	}
	return errs.Err()
}

// Generic is the "splunk_hec" configuration c stands for: HEC on the
// stack's managed inputs host (Splunk Cloud's "http-inputs-<stack>" on
// AWS, "http-inputs.<stack>" on GCP), port 443, with Okta's sourcetype and
// source and no indexer acknowledgement (Splunk Cloud offers it only to
// Kinesis Firehose).
func (c OktaConfig) Generic() Config {
	stack, domain, _ := strings.Cut(c.Host, ".")
	host := "http-inputs-" + stack + "." + domain
	if c.Edition == EditionGCP {
		host = "http-inputs." + c.Host
	}
	return Config{URL: "https://" + host, Token: c.Token}
}
