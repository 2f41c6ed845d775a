package app

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/sink/outbound"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
	"github.com/auditstream/auditstream/internal/stream"
)

// TestDestinationRows: every row of the table has a name of its own, and
// its secret paths strip every secret its settings can hold (a secret.String
// field that the paths miss would make GET /logStreams return it), and its
// destination and write-once paths name real settings.
func TestDestinationRows(t *testing.T) {
	seen := map[string]bool{}
	for _, row := range destinationTypes() {
		t.Run(row.Name, func(t *testing.T) {
			if row.Name == "" || seen[row.Name] {
				t.Fatalf("name %q: got empty or repeated, want one of its own", row.Name)
			}
			seen[row.Name] = true
			if row.Validate == nil || row.New == nil || row.Settings() == nil {
				t.Fatal("got a row without Validate, New or settings, want all three")
			}
			leaked, err := sinktest.LeakedSecrets(row)
			if err != nil {
				t.Fatal(err)
			}
			if len(leaked) != 0 {
				t.Errorf("secrets left after stripping %v: got %v, want none", row.Secrets, leaked)
			}
			if bad := sinktest.UnknownPaths(row); len(bad) != 0 {
				t.Errorf("destination/write-once paths naming no setting: got %v, want none", bad)
			}
		})
	}
	if len(seen) != 13 {
		t.Errorf("rows: got %d, want 13", len(seen))
	}
}

// TestDerivedSecretPaths: the derived paths are those the table listed by
// hand before (issue 10), so the API hides the same settings.
func TestDerivedSecretPaths(t *testing.T) {
	aws := []string{"credentials.secretAccessKey", "credentials.sessionToken"}
	want := map[string][]string{
		"http":                      {"auth.password", "auth.apiKey", "auth.clientSecret", "signing.secret"},
		"file":                      nil,
		"s3":                        aws,
		"eventbridge":               aws,
		"aws_eventbridge":           aws,
		"cloudwatch_logs":           aws,
		"splunk_hec":                {"token"},
		"splunk_cloud_logstreaming": {"token"},
		"datadog":                   {"apiKey"},
		"elasticsearch":             {"auth.password", "auth.apiKey"},
		"slack":                     {"webhookUrl"},
		"teams":                     {"webhookUrl"},
		"pagerduty":                 {"routingKey"},
	}
	d := newDestinations(nil, nil, envelopeDefaults{})
	for typ, w := range want {
		got := slices.Clone(d.SecretPaths(typ))
		slices.Sort(got)
		w = slices.Clone(w)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s: got %v, want %v", typ, got, w)
		}
	}
}

// TestValidateBuildsNoClient: validating settings reads neither the AWS
// environment nor shared config files (it used to build the sink, and
// with it an AWS config): with a profile that does not exist, validation
// passes and only building the sink fails.
func TestValidateBuildsNoClient(t *testing.T) {
	t.Setenv("AWS_PROFILE", "auditstream-no-such-profile")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	d := newDestinations(slog.New(slog.DiscardHandler), outbound.New(outbound.Config{}), envelopeDefaults{})
	for typ, settings := range map[string]string{
		"s3":              `{"bucket":"audit-archive","region":"us-east-1"}`,
		"eventbridge":     `{"region":"us-east-1","eventBusName":"audit"}`,
		"aws_eventbridge": `{"accountId":"123456789012","eventSourceName":"audit","region":"us-east-1"}`,
		"cloudwatch_logs": `{"logGroupName":"/audit","region":"us-east-1"}`,
	} {
		def := stream.Definition{Header: kvstore.Header{ID: "s", Type: typ, Settings: []byte(settings)}, Operator: true}
		if err := d.Validate(def); err != nil {
			t.Errorf("%s: validate: got %v, want nil without loading AWS config", typ, err)
		}
		if _, _, err := d.Build(def); err == nil || !strings.Contains(err.Error(), "auditstream-no-such-profile") {
			t.Errorf("%s: build: got %v, want the missing profile (the sink loads AWS config)", typ, err)
		}
	}
}
