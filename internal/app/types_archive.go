package app

import (
	"fmt"
	"slices"

	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/s3"
)

// archiveTypes are the archive destinations (S3).
func archiveTypes() map[string]streamType {
	return map[string]streamType{
		"s3": {
			secrets:     slices.Clone(awsconf.SecretPaths),
			destination: slices.Clone(awsconf.DestinationPaths),
			build: func(raw []byte, t *types) (sink.Sink, error) {
				var cfg s3.Config
				if err := decodeStrict(raw, &cfg); err != nil {
					return nil, err
				}
				// An endpoint override must not point back at this service.
				if u := cfg.EndpointURL(); u != nil {
					if err := t.forbidden(u); err != nil {
						return nil, fmt.Errorf("endpoint %s: %w", u.Redacted(), err)
					}
				}
				return s3.New(cfg, s3.Deps{HTTPClient: t.client, Logger: t.log})
			},
		},
	}
}
