// Package formfield walks a settings struct for the forms drawn from it:
// the destinations' (package sink) and the sources' (package source)
// settings share one reading of the struct (JSON names, dotted paths,
// the `help`, `required` and `form` tags); what kind of input each
// setting is stays with each package.
package formfield

import (
	"reflect"
	"strings"
)

// Setting is one leaf of a settings struct.
type Setting struct {
	// Path is the dotted JSON path, e.g. "auth.password".
	Path string
	// Help is the field's `help` tag; empty when it has none.
	Help string
	// Required is set by the tag `required:"true"`.
	Required bool
	// Field is the struct field, for its type and its other tags.
	Field reflect.StructField
}

// Walk calls visit for each setting of the struct type rt (pointers
// followed) in declaration order. Unexported fields, fields whose JSON
// name is "-" and fields tagged `form:"-"` (a value the server keeps) are
// left out; a field without a JSON name goes by its Go name. A struct
// field is a group: its own settings are walked, with its path and a dot
// as their prefix, and it is not visited itself.
func Walk(rt reflect.Type, visit func(Setting)) { walk(rt, "", visit) }

func walk(rt reflect.Type, prefix string, visit func(Setting)) {
	for rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	for i := range rt.NumField() {
		sf := rt.Field(i)
		if !sf.IsExported() || sf.Tag.Get("form") == "-" {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		path := prefix + name
		if sf.Type.Kind() == reflect.Struct {
			walk(sf.Type, path+".", visit)
			continue
		}
		visit(Setting{Path: path, Help: sf.Tag.Get("help"), Required: sf.Tag.Get("required") == "true", Field: sf})
	}
}
