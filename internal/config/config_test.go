package config_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/secret"
)

func TestDefault(t *testing.T) {
	c := config.Default()
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"dataDir", c.DataDir, "data"},
		{"shutdownTimeout", time.Duration(c.ShutdownTimeout), 15 * time.Second},
		{"ingest.defaultOrg", c.Ingest.DefaultOrg, "default"},
		{"envelope.account", c.Envelope.Account, "000000000000"},
		{"envelope.region", c.Envelope.Region, "us-east-1"},
		{"log.level", c.Log.Level, "info"},
		{"log.format", c.Log.Format, "text"},
		// Zero journal and ingest values mean "use the journal's and the
		// API's defaults".
		{"journal", c.Journal, config.Journal{}},
		{"ingest limits", [3]int64{c.Ingest.MaxBodyBytes, int64(c.Ingest.MaxEventBytes), int64(c.Ingest.MaxEvents)}, [3]int64{}},
		{"streams", len(c.Streams), 0},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Default().Validate(): got %v, want nil", err)
	}
}

func TestLoadGood(t *testing.T) {
	c, err := config.Load(filepath.Join("testdata", "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Config{
		Listen:          "0.0.0.0:9090",
		DataDir:         "/var/lib/auditstream",
		ShutdownTimeout: config.Duration(30 * time.Second),
		Journal: config.Journal{
			NatsListen:      "127.0.0.1:4222",
			NatsToken:       "good-nats-token-0123456789",
			MaxAge:          config.Duration(720 * time.Hour),
			MaxBytes:        10 << 30,
			DuplicateWindow: config.Duration(10 * time.Minute),
			SyncAlways:      true,
			SyncInterval:    config.Duration(2 * time.Minute),
			Replicas:        3,
		},
		Ingest:   config.Ingest{MaxBodyBytes: 10 << 20, MaxEventBytes: 256 << 10, MaxEvents: 10000, DefaultOrg: "acme"},
		Envelope: config.Envelope{Account: "123456789012", Region: "eu-west-1"},
		Log:      config.Log{Level: "debug", Format: "json"},
		Egress:   config.Egress{Allow: []string{"10.20.0.0/16", "splunk.corp:8088"}, Deny: []string{"203.0.113.0/24"}},
	}
	streams := c.Streams
	c.Streams = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%+v\nwant\n%+v", c, want)
	}
	if len(streams) != 2 {
		t.Fatalf("got %d streams, want 2", len(streams))
	}
	tests := []struct {
		name                     string
		s                        config.Stream
		id, typ, org, status     string
		wantSettings, wantFilter string
	}{
		{"archive", streams[0], "archive", "file", "*", "",
			`{"dir":"/var/lib/auditstream/export"}`, `{"detail":{"eventType":[{"prefix":"user."}]}}`},
		{"siem", streams[1], "siem", "http", "acme", "INACTIVE",
			`{"auth":{"password":"p","type":"basic","username":"u"},"url":"https://siem.example.com/ingest"}`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.ID != tt.id || tt.s.Name != tt.name || tt.s.Type != tt.typ || tt.s.Org != tt.org || tt.s.Status != tt.status {
				t.Errorf("got %+v, want id %s name %s type %s org %s status %q", tt.s, tt.id, tt.name, tt.typ, tt.org, tt.status)
			}
			settings, err := tt.s.SettingsJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, settings, tt.wantSettings) {
				t.Errorf("settings: got %s, want %s", settings, tt.wantSettings)
			}
			filter, err := tt.s.FilterJSON()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantFilter == "" {
				if filter != nil {
					t.Errorf("filter: got %s, want nil", filter)
				}
			} else if !jsonEqual(t, filter, tt.wantFilter) {
				t.Errorf("filter: got %s, want %s", filter, tt.wantFilter)
			}
		})
	}
}

func TestStreamJSONWithoutSettings(t *testing.T) {
	var s config.Stream
	settings, err := s.SettingsJSON()
	if err != nil || string(settings) != "{}" {
		t.Errorf("SettingsJSON: got %s, %v, want {}", settings, err)
	}
	filter, err := s.FilterJSON()
	if err != nil || filter != nil {
		t.Errorf("FilterJSON: got %s, %v, want nil", filter, err)
	}
}

func jsonEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestLoadKeepsDefaults(t *testing.T) {
	tests := []struct {
		file       string
		wantListen string
	}{
		{"minimal.yaml", "127.0.0.1:9999"},
		{"empty.yaml", config.DefaultListen},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := config.Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			want := config.Default()
			want.Listen = tt.wantListen
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v, want %+v", c, want)
			}
		})
	}
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		want []string // each must appear in the error
	}{
		{"bad_unknown_key.yaml", []string{"testdata/bad_unknown_key.yaml", "field listn not found"}},
		{"bad_unknown_nested_key.yaml", []string{"field natsurl not found"}},
		{"bad_duration.yaml", []string{`line 2: "5 minutes" is not a duration like 30s or 5m`}},
		{"bad_nested_duration.yaml", []string{`line 2: "30d" is not a duration`}},
		{"bad_log_level.yaml", []string{`log.level: "verbose" is not one of debug, info, warn, error`}},
		{"bad_duplicate_ids.yaml", []string{`streams[2]: duplicate id "a"`}},
		{"bad_syntax.yaml", []string{"testdata/bad_syntax.yaml"}},
		{"bad_many.yaml", []string{
			`listen: "nohostport" must be host:port`,
			"dataDir: required with the embedded journal",
			"journal.replicas: must be 1 to 5",
			"ingest: limits must not be negative",
			`log.level: "loud" is not one of debug, info, warn, error`,
			`log.format: "xml" is not text or json`,
			"streams[0]: id, name and type are required",
			`streams[1]: status "ENABLED" is not ACTIVE or INACTIVE`,
			`egress.allow[1]: "not-a-rule": want a CIDR`,
			`egress.deny[0]: "host:0": port must be 1 to 65535`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := config.Load(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error\n%v\nwant it to contain %q", err, w)
				}
			}
			if n := len(tt.want); n > 1 && strings.Count(err.Error(), "\n")+1 != n {
				t.Errorf("got %d problems:\n%v\nwant %d", strings.Count(err.Error(), "\n")+1, err, n)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join("testdata", "does-not-exist.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want an fs.ErrNotExist error", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *config.Config)
		want   string // "" means valid
	}{
		{"default", func(c *config.Config) {}, ""},
		{"external nats needs no dataDir", func(c *config.Config) { c.DataDir = ""; c.Journal.NatsURL = "nats://127.0.0.1:4222" }, ""},
		{"empty log level and format", func(c *config.Config) { c.Log = config.Log{} }, ""},
		{"replicas 5", func(c *config.Config) { c.Journal.Replicas = 5 }, ""},
		{"replicas 6", func(c *config.Config) { c.Journal.Replicas = 6 }, "journal.replicas"},
		{"replicas negative", func(c *config.Config) { c.Journal.Replicas = -1 }, "journal.replicas"},
		{"partitions 3", func(c *config.Config) { c.Journal.Partitions = 3 }, ""},
		{"partitions negative", func(c *config.Config) { c.Journal.Partitions = -1 }, "journal.partitions"},
		{"partitions 257", func(c *config.Config) { c.Journal.Partitions = 257 }, "journal.partitions"},
		{"duplicateWindowMaxIds negative", func(c *config.Config) { c.Journal.DuplicateWindowMaxIDs = -1 }, "journal.duplicateWindowMaxIds"},
		{"negative body", func(c *config.Config) { c.Ingest.MaxBodyBytes = -1 }, "ingest: limits"},
		{"negative event", func(c *config.Config) { c.Ingest.MaxEventBytes = -1 }, "ingest: limits"},
		{"stream statuses", func(c *config.Config) {
			c.Streams = []config.Stream{{Declared: config.Declared{ID: "a", Name: "a", Type: "file", Status: "ACTIVE"}}, {Declared: config.Declared{ID: "b", Name: "b", Type: "file", Status: "INACTIVE"}}}
		}, ""},
		{"stream without type", func(c *config.Config) { c.Streams = []config.Stream{{Declared: config.Declared{ID: "a", Name: "a"}}} }, "streams[0]: id, name and type are required"},
		{"detection pack format okta", func(c *config.Config) {
			c.Detections.Packs = []config.DetectionPack{{Name: "okta-catalog", Path: "x", Format: "okta"}}
		}, ""},
		{"detection pack format unknown", func(c *config.Config) {
			c.Detections.Packs = []config.DetectionPack{{Name: "p", Path: "x", Format: "splunk"}}
		}, "detections.packs[0].format"},
		{"detection pack named as the shipped pack", func(c *config.Config) {
			c.Detections.Packs = []config.DetectionPack{{Name: config.ShippedPackName, Path: "x"}}
		}, "the shipped pack's"},
		{"shipped pack replaced", func(c *config.Config) {
			off := false
			c.Detections.Shipped = &off
			c.Detections.Packs = []config.DetectionPack{{Name: config.ShippedPackName, Path: "x"}}
		}, ""},
		{"shipped overlay without the shipped pack", func(c *config.Config) {
			off := false
			c.Detections.Shipped, c.Detections.ShippedOverlay = &off, "o.yml"
		}, "detections.shippedOverlay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestIntegrityConfig: the integrity keys are checked when the file loads,
// every problem reported, the key never shown.
func TestIntegrityConfig(t *testing.T) {
	seed := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	tests := []struct {
		name    string
		in      config.Integrity
		wantErr string
	}{
		{"none", config.Integrity{}, ""},
		{"one key", config.Integrity{Keys: []integrity.KeySpec{{ID: "k1", PrivateKey: secret.String(seed)}}}, ""},
		{"unknown signing key", config.Integrity{Keys: []integrity.KeySpec{{ID: "k1", PrivateKey: secret.String(seed)}}, SigningKey: "k2"}, "not one of"},
		{"signing key without keys", config.Integrity{SigningKey: "k2"}, "names no key"},
		{"interval too short", config.Integrity{DigestInterval: config.Duration(time.Millisecond)}, "at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			c.Integrity = tt.in
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), seed) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
}
