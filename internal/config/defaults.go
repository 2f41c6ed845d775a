package config

import (
	"net"
	"slices"
	"time"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/pattern"
	"github.com/auditstream/auditstream/internal/query"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/stream"
)

// Default returns the configuration used when there is no file.
func Default() Config {
	return Config{
		Listen:          DefaultListen,
		DataDir:         DefaultDataDir,
		ShutdownTimeout: Duration(DefaultShutdownTimeout),
		Ingest:          Ingest{DefaultOrg: DefaultOrg},
		Envelope:        Envelope{Account: DefaultAccount, Region: DefaultRegion},
		Log:             Log{Level: "info", Format: "text"},
	}
}

// Defaults the packages define, repeated here so that one place resolves
// them all (see WithDefaults).
const (
	// DefaultWhenFull keeps undelivered events at the journal's cap.
	DefaultWhenFull = "protect"
	// DefaultSyncInterval is JetStream's fsync period.
	DefaultSyncInterval = 2 * time.Minute
	// DefaultReplicas keeps one copy: a single node.
	DefaultReplicas = 1
	// DefaultPartitions keeps the journal in one stream, as before
	// partitions existed.
	DefaultPartitions = 1
	// DefaultStrictNumericOperands follows AWS's documented bounds.
	DefaultStrictNumericOperands = true
)

// WithDefaults returns c with every default resolved: each setting whose
// zero value means "the default" holds the value the service runs with,
// so the result is the effective configuration (serve --print-config
// prints it). Settings a zero value does not mean "default" for (listen,
// dataDir, egress, the declared streams and sources) are left as they
// are. It is idempotent and does not validate.
func (c Config) WithDefaults() Config {
	str := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	num := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	num64 := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	dur := func(v *Duration, def time.Duration) {
		if *v == 0 {
			*v = Duration(def)
		}
	}
	// flag sets an unset switch (a nil *bool: left out, unlike false).
	flag := func(v **bool, def bool) {
		if *v == nil {
			*v = &def
		}
	}
	dur(&c.ShutdownTimeout, DefaultShutdownTimeout)

	num64(&c.Journal.MaxBytes, journal.DefaultMaxBytes)
	str(&c.Journal.WhenFull, DefaultWhenFull)
	str(&c.Journal.Compression, string(journal.CompressS2))
	num64(&c.Journal.DeadLetters.MaxBytes, journal.DefaultDeadLetterMaxBytes)
	dur(&c.Journal.DuplicateWindow, journal.DefaultDuplicateWindow)
	num(&c.Journal.DuplicateWindowMaxIDs, journal.DefaultDuplicateWindowMaxIDs)
	dur(&c.Journal.SyncInterval, DefaultSyncInterval)
	num(&c.Journal.Replicas, DefaultReplicas)
	num(&c.Journal.Partitions, DefaultPartitions)

	num64(&c.Ingest.MaxBodyBytes, httpapi.DefaultLimits.MaxBody)
	num(&c.Ingest.MaxEventBytes, httpapi.DefaultLimits.MaxEvent)
	num(&c.Ingest.MaxEvents, httpapi.DefaultLimits.MaxEvents)
	str(&c.Ingest.DefaultOrg, DefaultOrg)

	str(&c.Envelope.Account, DefaultAccount)
	str(&c.Envelope.Region, DefaultRegion)
	str(&c.Log.Level, "info")
	str(&c.Log.Format, "text")

	// Links in answers are built from publicUrl, never from the request's
	// Host: by default the listen address, an unspecified host made
	// loopback.
	str(&c.Query.PublicURL, DefaultPublicURL(c.Listen))
	dur(&c.Query.Timeout, query.DefaultTimeout)
	num(&c.Query.RateLimitPerMinute, query.DefaultRateLimit)

	// Declared streams belong to every org unless they name one; declared
	// sources bring their events to the default org. Both start active.
	c.Streams = slices.Clone(c.Streams)
	for i := range c.Streams {
		str(&c.Streams[i].Org, auth.AllOrgs)
		str(&c.Streams[i].Status, stream.StatusActive)
	}
	c.Sources = slices.Clone(c.Sources)
	for i := range c.Sources {
		str(&c.Sources[i].Org, c.Ingest.DefaultOrg)
		str(&c.Sources[i].Status, source.StatusActive)
	}

	if c.Cluster.NodeID == "" {
		c.Cluster.NodeID = DefaultNodeID(c.DataDir)
	}

	dur(&c.Integrity.DigestInterval, DefaultDigestInterval)
	flag(&c.Detections.Enabled, true)
	flag(&c.Detections.Shipped, true)
	dur(&c.Detections.AllowedLateness, DefaultDetectionsLateness)
	num(&c.Detections.MaxGroupsPerRule, DefaultDetectionsMaxGroups)
	num(&c.Detections.MaxEventsPerWindow, DefaultDetectionsMaxEvents)
	dur(&c.Detections.CheckpointInterval, DefaultDetectionsCheckpoint)
	dur(&c.Detections.Backtest.Timeout, DefaultBacktestTimeout)
	num(&c.Detections.Backtest.MaxEvents, DefaultBacktestMaxEvents)
	num(&c.Detections.Backtest.MaxConcurrentPerOrg, DefaultBacktestsPerOrg)

	flag(&c.Console.Enabled, true)
	dur(&c.Console.SessionTTL, DefaultSessionTTL)
	str(&c.Console.OIDC.GroupsClaim, "groups")

	num(&c.Patterns.MaxLength, pattern.DefaultMaxLength)
	num(&c.Patterns.MaxCombinations, pattern.DefaultMaxCombinations)
	num(&c.Patterns.MaxWildcardComplexity, pattern.DefaultMaxWildcardComplexity)
	flag(&c.Activity.Enabled, true)
	num(&c.Activity.MaxItems, activity.DefaultItems)
	num(&c.Activity.MaxActions, activity.DefaultActions)
	num(&c.Activity.MaxDetections, activity.DefaultDetections)
	num(&c.Activity.MaxCachedProfiles, activity.DefaultMaxCached)
	flag(&c.Patterns.StrictNumericOperands, DefaultStrictNumericOperands)
	return c
}

// publicHost turns a listen address into one a client can reach: an
// unspecified host becomes loopback.
// DefaultPublicURL is query.publicUrl when none is set: http:// and the
// listen address, an unspecified host made loopback. With port 0 it is
// only known once the listener is bound (app.Run asks again then).
func DefaultPublicURL(listen string) string { return "http://" + publicHost(listen) }

func publicHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
