// Package setting reads the settings structs of the destinations (package
// sink) and the sources (package source) the one way they share: from
// JSON strictly (Decode), and field by field for the forms drawn from them
// (Walk: JSON names, dotted paths, the `help`, `required` and `form`
// tags). What kind of input each setting is stays with each package.
package setting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Decode reads settings into an S strictly: a misspelt member is an error
// ("settings: …") rather than a setting silently left at its default.
func Decode[S any](settings []byte) (S, error) {
	var s S
	dec := json.NewDecoder(bytes.NewReader(settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("settings: %w", err)
	}
	return s, nil
}

// Field is one leaf of a settings struct.
type Field struct {
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
func Walk(rt reflect.Type, visit func(Field)) { walk(rt, "", visit) }

func walk(rt reflect.Type, prefix string, visit func(Field)) {
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
		visit(Field{Path: path, Help: sf.Tag.Get("help"), Required: sf.Tag.Get("required") == "true", Field: sf})
	}
}
