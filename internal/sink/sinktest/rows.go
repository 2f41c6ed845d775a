package sinktest

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

var secretType = reflect.TypeFor[secret.String]()

// LeakedSecrets fills every secret.String of row's settings struct, as an
// API caller would, marshals the settings and strips row.Secrets from
// them, as the API does before it answers: it returns the dotted paths
// that still hold a secret (none for a good row). It checks the row's
// secret paths against what encoding/json writes, independently of how
// they were derived.
func LeakedSecrets(row sink.Type) ([]string, error) {
	v := row.Settings()
	if v == nil {
		return nil, nil
	}
	fill(reflect.ValueOf(v).Elem())
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	stripped, err := secret.Strip(raw, row.Secrets)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(stripped, &m); err != nil {
		return nil, err
	}
	var out []string
	redacted("", m, &out)
	sort.Strings(out)
	return out, nil
}

// fill sets every secret.String reachable from v (through structs and
// pointers to structs) to a value.
func fill(v reflect.Value) {
	switch {
	case v.Type() == secretType:
		v.SetString("s3cret-value")
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem())
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() || f.Anonymous {
				if v.Field(i).CanSet() {
					fill(v.Field(i))
				}
			}
		}
	}
}

// redacted collects the paths of m whose value is secret.Redacted.
func redacted(prefix string, v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			redacted(prefix+k+".", e, out)
		}
	case []any:
		for _, e := range x {
			redacted(prefix, e, out)
		}
	case string:
		if x == secret.Redacted {
			*out = append(*out, strings.TrimSuffix(prefix, "."))
		}
	}
}

// UnknownPaths returns the paths in row's Destination and WriteOnce that
// name no setting of its settings struct: a renamed field the row was not
// updated for.
func UnknownPaths(row sink.Type) []string {
	v := row.Settings()
	if v == nil {
		return nil
	}
	known := map[string]bool{}
	paths(reflect.TypeOf(v).Elem(), "", known)
	var out []string
	for _, p := range slices.Concat(row.Destination, row.WriteOnce) {
		if !known[p] {
			out = append(out, p)
		}
	}
	return out
}

// paths collects the JSON paths of t's settings, nested objects included.
func paths(t reflect.Type, prefix string, known map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" {
			paths(ft, prefix, known)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		known[prefix+name] = true
		if ft.Kind() == reflect.Struct && ft != secretType {
			paths(ft, prefix+name+".", known)
		}
	}
}
