package cloudwatch

import (
	"cmp"
	"regexp"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
)

// Defaults and the service's limits.
const (
	// DefaultLogStreamName puts each org's events in a stream of its own.
	DefaultLogStreamName = "{org}"
	// DefaultMaxEventBytes is the per-event cap: 1 MB on the current
	// service page, 256 KB on older copies and some partitions, so the
	// portable value is the default.
	DefaultMaxEventBytes = 256 * 1024
	// DefaultTimeout bounds one call.
	DefaultTimeout = 30 * time.Second

	// maxEvents, maxBytes and eventOverhead are PutLogEvents' limits: a
	// call's bytes are the sum of the messages' UTF-8 bytes plus 26 per
	// event.
	maxEvents     = 10000
	maxBytes      = 1048576
	eventOverhead = 26
	// maxSpan is the most time between a call's first and last event.
	maxSpan = 24 * time.Hour
	// maxAge and maxAhead bound the timestamps the service accepts.
	maxAge   = 14 * 24 * time.Hour
	maxAhead = 2 * time.Hour

	maxMaxEventBytes = maxBytes - eventOverhead
	maxTimeout       = 5 * time.Minute
)

// Config is the settings of a stream of type "cloudwatch_logs".
type Config struct {
	// LogGroupName is the log group, e.g. "/audit/okta".
	LogGroupName string `json:"logGroupName"`
	// LogStreamName is the log stream, a template: {org} becomes the
	// event's org and {date} its published day (2024-08-13, UTC).
	// Default "{org}".
	LogStreamName string `json:"logStreamName,omitempty"`
	// AutoCreate creates the group and stream when they are missing
	// (default true). With false, a missing one holds the stream.
	AutoCreate *bool `json:"autoCreate,omitempty"`
	// MaxEventBytes is the largest event (default 262144, at most
	// 1048550); larger events are dead-lettered.
	MaxEventBytes int `json:"maxEventBytes,omitempty"`
	// Timeout bounds each call, e.g. "30s" (the default).
	Timeout sink.Duration `json:"timeout,omitempty"`
	// Config holds region, endpoint and credentials.
	awsconf.Config `json:",inline"`
}

func (c Config) withDefaults() Config {
	c.LogStreamName = cmp.Or(c.LogStreamName, DefaultLogStreamName)
	c.AutoCreate = cmp.Or(c.AutoCreate, new(true))
	c.MaxEventBytes = cmp.Or(c.MaxEventBytes, DefaultMaxEventBytes)
	c.Timeout = cmp.Or(c.Timeout, sink.Duration(DefaultTimeout))
	return c
}

var groupRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]{1,512}$`)

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems
	switch {
	case c.LogGroupName == "":
		errs.Addf("logGroupName: required")
	case !groupRE.MatchString(c.LogGroupName):
		errs.Addf("logGroupName %q: want 1 to 512 of letters, digits, '.', '-', '_', '/', '#'", c.LogGroupName)
	case strings.HasPrefix(c.LogGroupName, "aws/"):
		errs.Addf("logGroupName %q: must not start with aws/", c.LogGroupName)
	}
	// Check the template with placeholder values of typical length.
	sample := expand(c.LogStreamName, "org", "2024-08-13")
	rest := strings.NewReplacer("{org}", "", "{date}", "").Replace(c.LogStreamName)
	switch {
	case strings.ContainsAny(c.LogStreamName, ":*"):
		errs.Addf("logStreamName %q: must not contain ':' or '*'", c.LogStreamName)
	case strings.ContainsAny(rest, "{}"):
		errs.Addf("logStreamName %q: the placeholders are {org} and {date}", c.LogStreamName)
	case len(sample) > 512-64:
		errs.Addf("logStreamName: too long (at most 512 characters once expanded)")
	}
	errs.Add(sink.CheckBetween("maxEventBytes", c.MaxEventBytes, 1024, maxMaxEventBytes),
		sink.CheckTimeout(c.Timeout, maxTimeout), c.Config.Validate())
	return errs.Err()
}

func expand(template, org, date string) string {
	return strings.NewReplacer("{org}", org, "{date}", date).Replace(template)
}
