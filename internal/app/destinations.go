package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/pattern"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/cloudwatch"
	"github.com/auditstream/auditstream/internal/sink/datadog"
	"github.com/auditstream/auditstream/internal/sink/elasticsearch"
	"github.com/auditstream/auditstream/internal/sink/eventbridge"
	"github.com/auditstream/auditstream/internal/sink/filesink"
	"github.com/auditstream/auditstream/internal/sink/httpsink"
	"github.com/auditstream/auditstream/internal/sink/outbound"
	"github.com/auditstream/auditstream/internal/sink/pagerduty"
	"github.com/auditstream/auditstream/internal/sink/s3"
	"github.com/auditstream/auditstream/internal/sink/slack"
	"github.com/auditstream/auditstream/internal/sink/splunk"
	"github.com/auditstream/auditstream/internal/sink/teams"
	"github.com/auditstream/auditstream/internal/stream"
)

// ErrUnknownType is returned for a stream type auditstream does not have.
var ErrUnknownType = errors.New("unknown log stream type")

// destinationTypes is the one table from a stream type to its destination.
// Each row is exported by its destination's package, next to its Config;
// adding a destination is one package, one line here and its README
// section. aws_eventbridge and splunk_cloud_logstreaming are Okta's type
// names with Okta's settings.
func destinationTypes() []sink.Type {
	return []sink.Type{
		httpsink.Type(),
		filesink.Type(),
		s3.Type(),
		eventbridge.Type(),
		eventbridge.OktaType(),
		cloudwatch.Type(),
		splunk.Type(),
		splunk.OktaType(),
		datadog.Type(),
		elasticsearch.Type(),
		slack.Type(),
		teams.Type(),
		pagerduty.Type(),
	}
}

// destinations maps a stream type to its destination. It implements
// api.StreamTypes and builds sinks and filters for the supervisor.
type destinations struct {
	table map[string]sink.Type
	log   *slog.Logger
	// guard gives each destination the client and checks of its owner:
	// the egress policy, the own-API guard and the file directories.
	guard *outbound.Guard
	// patterns are the limits filters are compiled with.
	patterns []pattern.Option
	envelope envelopeDefaults
	// signer signs the digests of S3 and file streams; nil writes none.
	signer exportdigest.Signer
}

func newDestinations(log *slog.Logger, guard *outbound.Guard, env envelopeDefaults) *destinations {
	t := &destinations{table: map[string]sink.Type{}, log: log, guard: guard, envelope: env}
	for _, row := range destinationTypes() {
		t.table[row.Name] = row
	}
	return t
}

// deps are the sink.Deps of d's destination: the client, checks and
// directories of d's owner.
func (t *destinations) deps(d stream.Definition) sink.Deps {
	deps := t.guard.Deps(outbound.Owner{Trust: outbound.TrustOf(d.ByOperator()), Org: d.Org}, t.log)
	deps.Stream = d.ID
	if t.signer != nil {
		deps.Signer = t.signer
	}
	return deps
}

func (t *destinations) row(typ string) (sink.Type, error) {
	row, ok := t.table[typ]
	if !ok {
		return row, fmt.Errorf("%w %q", ErrUnknownType, typ)
	}
	return row, nil
}

// Validate implements api.StreamTypes: it checks the settings, as d's
// owner may set them, without building a client or sending anything.
func (t *destinations) Validate(d stream.Definition) error {
	row, ok := t.table[d.Type]
	if !ok {
		return fmt.Errorf("type: %w %q (known: %s)", ErrUnknownType, d.Type, strings.Join(t.names(), ", "))
	}
	return row.Validate(d.Settings, t.deps(d))
}

func (t *destinations) names() []string {
	var out []string
	for n := range t.table {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Verify implements api.StreamTypes.
func (t *destinations) Verify(ctx context.Context, def stream.Definition) error {
	row, err := t.row(def.Type)
	if err != nil {
		return err
	}
	s, err := row.New(def.Settings, t.deps(def))
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	return s.Verify(ctx)
}

// SecretPaths implements api.StreamTypes.
func (t *destinations) SecretPaths(typ string) []string { return t.table[typ].Secrets }

// DestinationPaths implements api.StreamTypes.
func (t *destinations) DestinationPaths(typ string) []string { return t.table[typ].Destination }

// WriteOnce implements api.StreamTypes.
func (t *destinations) WriteOnce(typ string) []string { return t.table[typ].WriteOnce }

// Build makes the sink and filter of a definition (stream.BuildFunc).
func (t *destinations) Build(def stream.Definition) (sink.Sink, stream.Filter, error) {
	row, err := t.row(def.Type)
	if err != nil {
		return nil, nil, err
	}
	var filter stream.Filter
	if len(def.Filter) > 0 {
		p, err := pattern.Compile(def.Filter, t.patterns...)
		if err != nil {
			return nil, nil, fmt.Errorf("filter: %w", err)
		}
		filter = t.filter(p)
	}
	s, err := row.New(def.Settings, t.deps(def))
	if err != nil {
		return nil, nil, err
	}
	return s, filter, nil
}
