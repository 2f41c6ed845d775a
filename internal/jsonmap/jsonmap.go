// Package jsonmap reads and changes decoded JSON objects (map[string]any)
// at a path of member names, such as the dotted paths of write-only
// settings ("auth.password") or of a LogEvent's members ("actor.id").
package jsonmap

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Get returns the value at path in m and whether it is there.
func Get(m map[string]any, path []string) (any, bool) {
	for i, k := range path {
		v, ok := m[k]
		if !ok || i == len(path)-1 {
			return v, ok
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// Set stores v at path in m, making objects on the way (replacing a
// member on the way that is not an object).
func Set(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

// Delete removes the value at path from m, if it is there.
func Delete(m map[string]any, path []string) {
	for _, k := range path[:len(path)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			return
		}
		m = sub
	}
	delete(m, path[len(path)-1])
}

// Lookup returns the value at path in a decoded JSON value, through
// objects (a member name) and arrays (an element's index, "0" first); nil
// when any step is missing.
func Lookup(v any, path []string) any {
	for _, p := range path {
		switch t := v.(type) {
		case map[string]any:
			v = t[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// Scalar writes a decoded JSON value as text: a string as it is, a number
// as written (json.Number) or in its shortest decimal form (float64),
// true or false, "" for null or missing, and an object or array as
// compact JSON.
func Scalar(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}
