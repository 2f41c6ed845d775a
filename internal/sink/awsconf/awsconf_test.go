package awsconf

import (
	"net/http"
	"testing"

	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"default chain", Config{Region: "us-east-1"}, nil},
		{"static keys", Config{Region: "eu-west-1", Credentials: Credentials{AccessKeyID: "AKID", SecretAccessKey: "s", SessionToken: "t"}}, nil},
		{"role", Config{Region: "us-gov-west-1", Credentials: Credentials{RoleARN: "arn:aws:iam::123456789012:role/audit", ExternalID: "ext"}}, nil},
		{"no region", Config{}, []string{"region: required"}},
		{"bad region", Config{Region: "Mars"}, []string{"not an AWS region"}},
		{"half keys", Config{Region: "us-east-1", Credentials: Credentials{SecretAccessKey: "s"}}, []string{"credentials.accessKeyId: required"}},
		{"token alone", Config{Region: "us-east-1", Credentials: Credentials{SessionToken: "t"}}, []string{"credentials.sessionToken"}},
		{"external id alone", Config{Region: "us-east-1", Credentials: Credentials{ExternalID: "e"}}, []string{"credentials.externalId: only used with roleArn"}},
		{"endpoint", Config{Region: "us-east-1", Endpoint: "http://user:pw@127.0.0.1"}, []string{"endpoint: credentials"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sinktest.WantProblems(t, tc.cfg.Validate(), tc.want)
		})
	}
}

func TestLoad(t *testing.T) {
	client := &http.Client{}
	cfg, err := Load(t.Context(), Config{Region: "us-west-2", Endpoint: "http://127.0.0.1:4566",
		Credentials: Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}}, client)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-west-2" || cfg.BaseEndpoint == nil || *cfg.BaseEndpoint != "http://127.0.0.1:4566" {
		t.Errorf("config: got region %q endpoint %v, want us-west-2 and the override", cfg.Region, cfg.BaseEndpoint)
	}
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "secret" {
		t.Errorf("credentials: got %q (%v), want the static keys", creds.AccessKeyID, err)
	}
	if got := cfg.Retryer().MaxAttempts(); got != 1 {
		t.Errorf("retry attempts: got %d, want 1 (the runner retries)", got)
	}
	if _, ok := cfg.HTTPClient.(plainBodyClient); !ok {
		t.Errorf("http client: got %T, want the sink's client", cfg.HTTPClient)
	}
}
