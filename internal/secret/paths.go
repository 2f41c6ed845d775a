package secret

import (
	"encoding/json"
	"strings"
)

// Strip removes the settings at dotted paths (the write-only secrets)
// from a JSON object, for showing it.
func Strip(raw json.RawMessage, paths []string) (json.RawMessage, error) {
	if len(paths) == 0 || len(raw) == 0 {
		return raw, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for _, p := range paths {
		deletePath(m, strings.Split(p, "."))
	}
	return json.Marshal(m)
}

func deletePath(m map[string]any, path []string) {
	if len(path) == 1 {
		delete(m, path[0])
		return
	}
	if sub, ok := m[path[0]].(map[string]any); ok {
		deletePath(sub, path[1:])
	}
}

// Carry copies each of paths from old into raw where raw lacks it or
// holds the Redacted mark: secrets are write-only, so an update that leaves
// them out (or sends back "********") keeps them.
func Carry(raw, old json.RawMessage, paths []string) (json.RawMessage, error) {
	if len(paths) == 0 || len(old) == 0 {
		return raw, nil
	}
	var m, o map[string]any
	if len(raw) == 0 {
		m = map[string]any{}
	} else if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, err
	}
	for _, p := range paths {
		parts := strings.Split(p, ".")
		v, ok := lookupPath(o, parts)
		if !ok {
			continue
		}
		if nv, has := lookupPath(m, parts); has && nv != Redacted {
			continue
		}
		setPath(m, parts, v)
	}
	return json.Marshal(m)
}

func lookupPath(m map[string]any, path []string) (any, bool) {
	v, ok := m[path[0]]
	if !ok || len(path) == 1 {
		return v, ok
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	return lookupPath(sub, path[1:])
}

func setPath(m map[string]any, path []string, v any) {
	if len(path) == 1 {
		m[path[0]] = v
		return
	}
	sub, ok := m[path[0]].(map[string]any)
	if !ok {
		sub = map[string]any{}
		m[path[0]] = sub
	}
	setPath(sub, path[1:], v)
}
