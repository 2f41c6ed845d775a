package config_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/query"
)

// TestWithDefaults: every setting whose zero means "the default" holds the
// value the packages would have applied; explicit values (-1 for "no
// cap") stay; the result is a fixed point; the caller's slices are not
// touched.
func TestWithDefaults(t *testing.T) {
	c := config.Config{Listen: "0.0.0.0:9000",
		Streams: []config.Stream{{Declared: config.Declared{ID: "a"}}, {Declared: config.Declared{ID: "b", Org: "acme", Status: "INACTIVE"}}},
		Sources: []config.Source{{Declared: config.Declared{ID: "s"}}}}
	got := c.WithDefaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"shutdownTimeout", got.ShutdownTimeout.D(), config.DefaultShutdownTimeout},
		{"journal.maxBytes", got.Journal.MaxBytes, int64(journal.DefaultMaxBytes)},
		{"journal.whenFull", got.Journal.WhenFull, "protect"},
		{"journal.deadLetters.maxBytes", got.Journal.DeadLetters.MaxBytes, int64(journal.DefaultDeadLetterMaxBytes)},
		{"journal.duplicateWindow", got.Journal.DuplicateWindow.D(), journal.DefaultDuplicateWindow},
		{"journal.duplicateWindowMaxIds", got.Journal.DuplicateWindowMaxIDs, journal.DefaultDuplicateWindowMaxIDs},
		{"journal.syncInterval", got.Journal.SyncInterval.D(), 2 * time.Minute},
		{"journal.replicas", got.Journal.Replicas, 1},
		{"journal.partitions", got.Journal.Partitions, 1},
		{"journal.compression", got.Journal.Compression, "s2"},
		{"ingest limits", httpapi.Limits{MaxBody: got.Ingest.MaxBodyBytes, MaxEvent: got.Ingest.MaxEventBytes, MaxEvents: got.Ingest.MaxEvents}, httpapi.DefaultLimits},
		{"ingest.defaultOrg", got.Ingest.DefaultOrg, config.DefaultOrg},
		{"envelope", got.Envelope, config.Envelope{Account: config.DefaultAccount, Region: config.DefaultRegion}},
		{"log", got.Log, config.Log{Level: "info", Format: "text"}},
		{"query.publicUrl", got.Query.PublicURL, "http://127.0.0.1:9000"},
		{"query.timeout", got.Query.Timeout.D(), query.DefaultTimeout},
		{"query.rateLimitPerMinute", got.Query.RateLimitPerMinute, query.DefaultRateLimit},
		{"patterns", [3]int{got.Patterns.MaxLength, got.Patterns.MaxCombinations, got.Patterns.MaxWildcardComplexity}, [3]int{4096, 1000, 10}},
		{"patterns.strictNumericOperands", *got.Patterns.StrictNumericOperands, true},
		{"streams[0]", [2]string{got.Streams[0].Org, got.Streams[0].Status}, [2]string{"*", "ACTIVE"}},
		{"streams[1]", [2]string{got.Streams[1].Org, got.Streams[1].Status}, [2]string{"acme", "INACTIVE"}},
		{"sources[0]", [2]string{got.Sources[0].Org, got.Sources[0].Status}, [2]string{"default", "ACTIVE"}},
		{"caller's streams", c.Streams[0], config.Stream{Declared: config.Declared{ID: "a"}}},
		{"cluster.nodeId", got.Cluster.NodeID, config.DefaultNodeID("")},
		{"detections.shipped", *got.Detections.Shipped, true},
		{"detections.shipped (unset)", c.Detections.ShippedOn(), true},
		{"detections.backtest", got.Detections.Backtest, config.DetectionBacktest{Timeout: config.Duration(10 * time.Minute), MaxEvents: 50_000_000, MaxConcurrentPerOrg: 2}},
		{"fixed point", reflect.DeepEqual(got.WithDefaults(), got), true},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}

	off := false
	explicit := config.Config{Journal: config.Journal{MaxBytes: -1, DeadLetters: config.DeadLetters{MaxBytes: -1}, WhenFull: "dropOldest"},
		Query:    config.Query{RateLimitPerMinute: -1, Timeout: config.Duration(time.Second), PublicURL: "https://audit.example.com"},
		Patterns: config.Patterns{StrictNumericOperands: &off}}
	e := explicit.WithDefaults()
	if e.Journal.MaxBytes != -1 || e.Journal.DeadLetters.MaxBytes != -1 || e.Journal.WhenFull != "dropOldest" ||
		e.Query.RateLimitPerMinute != -1 || e.Query.Timeout.D() != time.Second || e.Query.PublicURL != "https://audit.example.com" ||
		*e.Patterns.StrictNumericOperands {
		t.Errorf("explicit values: got %+v, want them kept", e)
	}
}

func TestRedacted(t *testing.T) {
	tests := []struct {
		natsURL, natsToken string
		wantURL, wantToken string
	}{
		{"", "", "", ""},
		{"nats://127.0.0.1:4222", "", "nats://127.0.0.1:4222", ""},
		{"nats://tok@a:4222,nats://user:pass@b:4222", "0123456789abcdef", "nats://********@a:4222,nats://********@b:4222", "********"},
	}
	for _, tt := range tests {
		t.Run(tt.natsURL, func(t *testing.T) {
			c := config.Default()
			c.Journal.NatsURL, c.Journal.NatsToken = tt.natsURL, tt.natsToken
			r := c.Redacted()
			if r.Journal.NatsURL != tt.wantURL || r.Journal.NatsToken != tt.wantToken {
				t.Errorf("got %q, %q, want %q, %q", r.Journal.NatsURL, r.Journal.NatsToken, tt.wantURL, tt.wantToken)
			}
			if c.Journal.NatsToken != tt.natsToken {
				t.Errorf("caller's token: got %q, want it unchanged", c.Journal.NatsToken)
			}
		})
	}
}
