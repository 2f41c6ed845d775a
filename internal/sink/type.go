package sink

import (
	"fmt"
	"reflect"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/setting"
)

// Type is one row of the table from a log stream's type to its
// destination. Each destination package exports its rows next to its
// Config (httpsink.Type, splunk.Type, splunk.OktaType, …); the service
// keeps one literal list of them.
type Type struct {
	// Name is the stream type ("http", "splunk_hec").
	Name string
	// Secrets are the write-only settings, as dotted paths: derived from
	// the settings struct's secret.String fields (secret.Paths).
	Secrets []string
	// Destination are the settings that say where the secrets are sent
	// (secret.Fields.Destination): moving one to another scheme, host or
	// port needs the secrets sent again.
	Destination []string
	// WriteOnce are the top-level settings that cannot change after
	// creation.
	WriteOnce []string
	// Validate decodes settings strictly and checks them, and their
	// targets against deps.Egress, without building clients or sending
	// anything.
	Validate func(settings []byte, deps Deps) error
	// New decodes settings strictly and builds the sink.
	New func(settings []byte, deps Deps) (Sink, error)

	settings reflect.Type
}

// Settings returns a new zero value of the row's settings struct (a
// *Config), for tests that walk its fields.
func (t Type) Settings() any {
	if t.settings == nil {
		return nil
	}
	return reflect.New(t.settings).Interface()
}

// NewType makes the row of a destination whose settings are a C: strict
// decoding (setting.Decode); Validate runs prepare, which applies C's defaults and checks
// it, its targets against deps.Egress included, without building
// anything; New runs prepare then build (Build). The secret paths are
// derived from C's secret.String fields.
func NewType[C, P any, S Sink](name string, prepare func(C, Deps) (P, error), build func(P, Deps) (S, error)) Type {
	var zero C
	return Type{
		Name:    name,
		Secrets: secret.Paths(zero),
		Validate: func(raw []byte, deps Deps) error {
			cfg, err := setting.Decode[C](raw)
			if err != nil {
				return err
			}
			_, err = prepare(cfg, deps)
			return err
		},
		New: func(raw []byte, deps Deps) (Sink, error) {
			cfg, err := setting.Decode[C](raw)
			if err != nil {
				return nil, err
			}
			s, err := Build(cfg, deps, prepare, build)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		settings: reflect.TypeFor[C](),
	}
}

// WithDestination returns t with its Destination paths.
func (t Type) WithDestination(paths ...string) Type {
	t.Destination = paths
	return t
}

// WithWriteOnce returns t with its WriteOnce paths.
func (t Type) WithWriteOnce(paths ...string) Type {
	t.WriteOnce = paths
	return t
}

// Build is a destination's New: prepare checks cfg and applies its
// defaults, then build makes the sink with deps' defaults filled in.
func Build[C, P any, S Sink](cfg C, deps Deps, prepare func(C, Deps) (P, error), build func(P, Deps) (S, error)) (S, error) {
	p, err := prepare(cfg, deps)
	if err != nil {
		var zero S
		return zero, err
	}
	return build(p, deps.WithDefaults())
}

// Checked is the start of a destination's prepare: cfg with defaults
// applied, checked by its Validate, whose problems are wrapped as
// "<name> sink config: …".
func Checked[C interface{ Validate() error }](name string, cfg C, defaults func(C) C) (C, error) {
	cfg = defaults(cfg)
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s sink config: %w", name, err)
	}
	return cfg, nil
}
