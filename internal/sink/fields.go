package sink

import (
	"reflect"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/setting"
)

// Field describes one setting of a destination, for forms (the web
// console's add-stream wizard draws its form from these, so a new
// destination needs no console code). Fields are read from the settings
// struct next to the destination's Config: the json name, the Go type,
// secret.String for write-only values, and a `help:"…"` tag.
type Field struct {
	// Path is the dotted JSON path, e.g. "auth.password".
	Path string
	// Kind is "string", "secret", "int", "bool", "duration" or "json"
	// (maps, lists and anything else: a JSON value).
	Kind string
	// Help is the field's `help` tag; empty when it has none.
	Help string
	// Required is set by the tag `required:"true"`.
	Required bool
}

// Fields lists t's settings in declaration order (nested structs
// flattened into dotted paths, as setting.Walk reads them).
func (t Type) Fields() []Field {
	if t.settings == nil {
		return nil
	}
	return fieldsOf(t.settings)
}

var (
	secretType   = reflect.TypeFor[secret.String]()
	durationType = reflect.TypeFor[Duration]()
)

func fieldsOf(rt reflect.Type) []Field {
	var out []Field
	setting.Walk(rt, func(s setting.Field) {
		f := Field{Path: s.Path, Help: s.Help, Required: s.Required}
		switch ft := s.Field.Type; {
		case ft == secretType:
			f.Kind = "secret"
		case ft == durationType:
			f.Kind = "duration"
		case ft.Kind() == reflect.String:
			f.Kind = "string"
		case ft.Kind() == reflect.Bool:
			f.Kind = "bool"
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Float64:
			f.Kind = "int"
		default:
			f.Kind = "json"
		}
		out = append(out, f)
	})
	return out
}
