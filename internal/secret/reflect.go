package secret

import (
	"reflect"
	"strings"
)

var stringType = reflect.TypeFor[String]()

// Paths lists the String fields of the struct v (or *v) as the dotted JSON
// paths secret.Strip and Carry take ("auth.password"), following
// encoding/json's rules: a field's name is its json tag's, an embedded
// struct without a tag name is inlined, and fields tagged "-" or not
// exported are left out. Nested structs (and pointers to them) are walked;
// a String inside a slice or map cannot be named by a dotted path, and
// Paths panics on one, so such a settings type is caught by the first test
// that builds its row.
func Paths(v any) []string {
	t := reflect.TypeOf(v)
	if t == nil {
		return nil
	}
	var out []string
	walk(t, "", &out, map[reflect.Type]bool{})
	return out
}

func walk(t reflect.Type, prefix string, out *[]string, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	defer delete(seen, t)
	for i := range t.NumField() {
		f := t.Field(i)
		name, skip := jsonName(f)
		if skip {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			walk(ft, prefix, out, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		switch {
		case ft == stringType:
			*out = append(*out, path)
		case ft.Kind() == reflect.Struct:
			walk(ft, path+".", out, seen)
		case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Array || ft.Kind() == reflect.Map:
			if holds(ft.Elem(), map[reflect.Type]bool{}) {
				panic("secret.Paths: " + path + " holds a secret.String in a " + ft.Kind().String() + ", which no dotted path can name")
			}
		}
	}
}

// holds reports whether t is or contains a String.
func holds(t reflect.Type, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == stringType {
		return true
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return holds(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return false
		}
		seen[t] = true
		for i := range t.NumField() {
			if holds(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// jsonName returns f's name in its json tag ("" when the tag names none)
// and whether encoding/json leaves f out.
func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", true
	}
	name, _, _ := strings.Cut(tag, ",")
	return name, false
}
