package app

import (
	"slices"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/cloudwatch"
	"github.com/auditstream/auditstream/internal/sink/datadog"
	"github.com/auditstream/auditstream/internal/sink/elasticsearch"
	"github.com/auditstream/auditstream/internal/sink/eventbridge"
	"github.com/auditstream/auditstream/internal/sink/splunk"
)

// destinationTypes are the SIEM and cloud destinations: EventBridge,
// CloudWatch Logs, Splunk HEC, Datadog, Elasticsearch/OpenSearch.
// aws_eventbridge and splunk_cloud_logstreaming are Okta's type names with
// Okta's settings.
func destinationTypes() map[string]streamType {
	return map[string]streamType{
		"eventbridge": {
			secrets:     slices.Clone(awsconf.SecretPaths),
			destination: slices.Clone(awsconf.DestinationPaths),
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg eventbridge.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return eventbridge.New(cfg, eventbridge.Deps{HTTPClient: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
		"aws_eventbridge": {
			secrets:     slices.Clone(awsconf.SecretPaths),
			destination: slices.Clone(awsconf.DestinationPaths),
			// Okta's rule (OKTA.md §3.2): sent on create, never modifiable.
			writeOnce: []string{"accountId", "eventSourceName", "region"},
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg eventbridge.OktaConfig
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return eventbridge.NewOkta(cfg, eventbridge.Deps{HTTPClient: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
		"cloudwatch_logs": {
			secrets:     slices.Clone(awsconf.SecretPaths),
			destination: slices.Clone(awsconf.DestinationPaths),
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg cloudwatch.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return cloudwatch.New(cfg, cloudwatch.Deps{HTTPClient: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
		"splunk_hec": {
			secrets:     []string{"token"},
			destination: []string{"url"},
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg splunk.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return splunk.New(cfg, splunk.Deps{HTTPClient: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
		"splunk_cloud_logstreaming": {
			secrets:     []string{"token"},
			destination: []string{"edition", "host"},
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg splunk.OktaConfig
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return splunk.NewOkta(cfg, splunk.Deps{HTTPClient: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
		"datadog": {
			secrets:     []string{"apiKey"},
			destination: []string{"site", "url"},
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg datadog.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return datadog.New(cfg, datadog.Deps{HTTPClient: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
		"elasticsearch": {
			secrets:     []string{"auth.password", "auth.apiKey"},
			destination: []string{"urls"},
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg elasticsearch.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				return elasticsearch.New(cfg, elasticsearch.Deps{HTTPClient: t.client, Logger: t.log, Forbidden: t.forbidden})
			},
		},
	}
}
