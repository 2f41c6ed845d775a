// Package jsonmap reads and changes decoded JSON objects (map[string]any)
// at a path of member names, such as the dotted paths of write-only
// settings ("auth.password") or of a LogEvent's members ("actor.id").
package jsonmap

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
