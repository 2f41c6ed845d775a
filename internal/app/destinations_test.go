package app

import (
	"slices"
	"testing"

	"github.com/auditstream/auditstream/internal/sink/sinktest"
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
	if len(seen) != 10 {
		t.Errorf("rows: got %d, want 10", len(seen))
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
