package eventbridge

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// Defaults for the settings a stream leaves out.
const (
	// DefaultDetailType is what Okta's own EventBridge stream sends, so
	// rules written for Okta keep matching on detail-type.
	DefaultDetailType = "SystemLog"
	// DefaultSource is the event source; {org} becomes the event's org.
	// PutEvents refuses sources starting with "aws.", so Okta's partner
	// source cannot be reproduced.
	DefaultSource = "auditstream.{org}"
	// DefaultMaxBytes is PutEvents' request size limit in the
	// long-standing documentation. AWS raised it to 1 MB in 2026; set
	// maxBytes to 1048576 where the account has the new limit.
	DefaultMaxBytes = 256 * 1024
	// DefaultTimeout bounds one PutEvents call.
	DefaultTimeout = 30 * time.Second
	// DefaultBusName is the account's default event bus.
	DefaultBusName = "default"

	// maxEntries is PutEvents' limit on entries per call.
	maxEntries  = 10
	maxMaxBytes = 1 << 20
	maxTimeout  = 5 * time.Minute
)

// Config is the settings of a stream of type "eventbridge".
type Config struct {
	// EventBusName is the bus's name or ARN (an ARN reaches a bus in
	// another account). Default "default".
	EventBusName string `json:"eventBusName,omitempty"`
	// Source is each event's source, default "auditstream.{org}"; {org}
	// is replaced by the event's org. It must not start with "aws.".
	Source string `json:"source,omitempty"`
	// DetailType is each event's detail-type, default "SystemLog".
	DetailType string `json:"detailType,omitempty"`
	// MaxBytes is the PutEvents request size limit as EventBridge counts
	// it (default 262144; at most 1048576).
	MaxBytes int `json:"maxBytes,omitempty"`
	// Timeout bounds each call, e.g. "30s" (the default).
	Timeout sink.Duration `json:"timeout,omitempty"`
	// Config holds region, endpoint and credentials.
	awsconf.Config `json:",inline"`
}

func (c Config) withDefaults() Config {
	c.EventBusName = cmp.Or(c.EventBusName, DefaultBusName)
	c.Source = cmp.Or(c.Source, DefaultSource)
	c.DetailType = cmp.Or(c.DetailType, DefaultDetailType)
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	c.Timeout = cmp.Or(c.Timeout, sink.Duration(DefaultTimeout))
	return c
}

var (
	busNameRE = regexp.MustCompile(`^[/\.\-_A-Za-z0-9]{1,256}$`)
	busARNRE  = regexp.MustCompile(`^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[/\.\-_A-Za-z0-9]{1,256}$`)
	sourceRE  = regexp.MustCompile(`^[\.\-_/A-Za-z0-9{}]{1,256}$`)
)

// Validate reports every problem with c at once. Unset settings are valid:
// they take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems
	if !busNameRE.MatchString(c.EventBusName) && !busARNRE.MatchString(c.EventBusName) {
		errs.Addf("eventBusName %q: want a bus name or arn:aws:events:<region>:<account>:event-bus/<name>", c.EventBusName)
	}
	switch {
	case !sourceRE.MatchString(c.Source):
		errs.Addf("source %q: want 1 to 256 letters, digits, '.', '-', '_', '/'", c.Source)
	case strings.HasPrefix(c.Source, "aws."):
		errs.Addf("source %q: must not start with \"aws.\" (reserved for AWS and partner sources)", c.Source)
	case strings.Contains(strings.ReplaceAll(c.Source, "{org}", ""), "{") ||
		strings.Contains(strings.ReplaceAll(c.Source, "{org}", ""), "}"):
		errs.Addf("source %q: the only placeholder is {org}", c.Source)
	}
	if n := utf8.RuneCountInString(c.DetailType); n < 1 || n > 128 || strings.TrimSpace(c.DetailType) == "" {
		errs.Addf("detailType: want 1 to 128 characters")
	}
	errs.Add(sink.CheckBetween("maxBytes", c.MaxBytes, 1024, maxMaxBytes),
		sink.CheckTimeout(c.Timeout, maxTimeout), c.Config.Validate())
	return errs.Err()
}

// OktaRegions are the regions an "aws_eventbridge" stream accepts: the
// union of the Okta OpenAPI enum and the Log Streaming guide's list.
var OktaRegions = []string{
	"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
	"ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1",
	"eu-north-1", "eu-south-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
}

// The messages of Okta's schema for aws_eventbridge settings.
const (
	msgAccountID       = "Account number must be 12 digits."
	msgEventSourceName = `Event source name can use numbers, letters, the symbols ".", "-" or "_". It must use fewer than 76 characters.`
)

var (
	accountIDRE       = regexp.MustCompile(`^\d{12}$`)
	eventSourceNameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,75}$`)
)

// OktaConfig is the settings of a stream of type "aws_eventbridge", Okta's
// EventBridge log stream. Okta publishes to a partner event source;
// auditstream cannot, so it sends PutEvents to a bus in AccountID and
// Region with the source "auditstream.{org}.<eventSourceName>".
type OktaConfig struct {
	// AccountID is the 12-digit AWS account of the bus.
	AccountID string `json:"accountId"`
	// EventSourceName names the stream's events; it becomes the last part
	// of their source.
	EventSourceName string `json:"eventSourceName"`
	// Region is the bus's region, one of OktaRegions.
	Region string `json:"region"`

	// The settings below are auditstream extensions; Okta clients leave
	// them out.

	// EventBusName is the bus in AccountID, default "default".
	EventBusName string `json:"eventBusName,omitempty"`
	// Endpoint overrides the EventBridge endpoint (a VPC endpoint).
	Endpoint string `json:"endpoint,omitempty"`
	// Credentials sign the requests; default the SDK's default chain.
	Credentials awsconf.Credentials `json:"credentials,omitzero"`
	// MaxBytes is the PutEvents request size limit (default 262144).
	MaxBytes int `json:"maxBytes,omitempty"`
}

// Validate reports every problem with c, with Okta's messages for Okta's
// settings.
func (c OktaConfig) Validate() error {
	var errs sink.Problems
	if !accountIDRE.MatchString(c.AccountID) {
		errs.Add(errors.New("accountId: " + msgAccountID))
	}
	if !eventSourceNameRE.MatchString(c.EventSourceName) {
		errs.Add(errors.New("eventSourceName: " + msgEventSourceName))
	}
	if !slices.Contains(OktaRegions, c.Region) {
		errs.Addf("region: must be one of %s", strings.Join(OktaRegions, ", "))
	}
	if c.EventBusName != "" && !busNameRE.MatchString(c.EventBusName) {
		errs.Addf("eventBusName %q: want a bus name (the account and region are accountId and region)", c.EventBusName)
	}
	if len(errs) > 0 {
		// The generic checks below would repeat these problems.
		aws := awsconf.Config{Endpoint: c.Endpoint, Credentials: c.Credentials}
		errs.Add(aws.ValidateEndpoint(), aws.ValidateCredentials())
		return errs.Err()
	}
	return c.Generic().Validate()
}

// Generic is the "eventbridge" configuration c stands for.
func (c OktaConfig) Generic() Config {
	bus := c.EventBusName
	if bus == "" {
		bus = DefaultBusName
	}
	return Config{
		EventBusName: fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", c.Region, c.AccountID, bus),
		Source:       DefaultSource + "." + c.EventSourceName,
		DetailType:   DefaultDetailType,
		MaxBytes:     c.MaxBytes,
		Config:       awsconf.Config{Region: c.Region, Endpoint: c.Endpoint, Credentials: c.Credentials},
	}
}
