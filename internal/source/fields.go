package source

import (
	"reflect"
	"slices"
	"strings"

	"github.com/auditstream/auditstream/internal/setting"
)

// Field is one setting of a source type as a form shows it: the console's
// add form is drawn from these, so a new source type needs no console
// code.
type Field struct {
	// Path is the dotted JSON path, e.g. "auth.token".
	Path string
	// Kind is "string", "secret" (write-only: one of the type's
	// SecretPaths), "text" (several lines, such as a PEM key), "number",
	// "choice" (one of Options) or "json".
	Kind string
	// Help is the field's `help` tag.
	Help string
	// Required is set by the tag `required:"true"`.
	Required bool
	// Multiline is set by the tag `form:"text"`: the value has several
	// lines (a PEM key), also when it is a secret.
	Multiline bool
	// Options are a choice's values, from the tag `options:"A,B"`; the
	// first is the default.
	Options []string
}

// FieldsOf lists the settings of a settings struct in declaration order,
// nested structs flattened into dotted paths (setting.Walk). Tags: `help:"…"`,
// `required:"true"`, `options:"A,B"` (a choice), `form:"text"` (several
// lines) and `form:"-"` (left out: a value the server keeps, such as a
// hash). Settings in secrets (dotted paths) are write-only.
func FieldsOf(settings any, secrets []string) []Field {
	if settings == nil {
		return nil
	}
	var out []Field
	setting.Walk(reflect.TypeOf(settings), func(s setting.Field) {
		tag := s.Field.Tag
		f := Field{Path: s.Path, Help: s.Help, Required: s.Required, Multiline: tag.Get("form") == "text"}
		if o := tag.Get("options"); o != "" {
			f.Options = strings.Split(o, ",")
		}
		switch ft := s.Field.Type; {
		case slices.Contains(secrets, s.Path):
			f.Kind = "secret"
		case len(f.Options) > 0:
			f.Kind = "choice"
		case f.Multiline:
			f.Kind = "text"
		case ft.Kind() == reflect.String:
			f.Kind = "string"
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Float64:
			f.Kind = "number"
		default:
			f.Kind = "json"
		}
		out = append(out, f)
	})
	return out
}
