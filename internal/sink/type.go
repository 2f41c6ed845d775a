package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/auditstream/auditstream/internal/secret"
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
// decoding, Validate with check, New with build, and the secret paths
// derived from C's secret.String fields. The caller adds Destination and
// WriteOnce.
func NewType[C any, S Sink](name string, check func(C, Deps) error, build func(C, Deps) (S, error)) Type {
	var zero C
	return Type{
		Name:    name,
		Secrets: secret.Paths(zero),
		Validate: func(raw []byte, deps Deps) error {
			cfg, err := Decode[C](raw)
			if err != nil {
				return err
			}
			return check(cfg, deps)
		},
		New: func(raw []byte, deps Deps) (Sink, error) {
			cfg, err := Decode[C](raw)
			if err != nil {
				return nil, err
			}
			s, err := build(cfg, deps)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		settings: reflect.TypeFor[C](),
	}
}

// Decode reads settings into a C strictly: an unknown member is an error.
func Decode[C any](raw []byte) (C, error) {
	var cfg C
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("settings: %w", err)
	}
	return cfg, nil
}
