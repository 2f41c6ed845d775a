package event

import (
	"encoding/json"
	"fmt"
)

// fields are the top-level members Parse interprets, as raw JSON values
// (nil when absent), plus what the scan learned about the text.
type fields struct {
	uuid, eventType, published []byte
	// loose is true when the text has whitespace outside strings and so
	// needs compacting.
	loose bool
	depth int
}

// scanTop walks a JSON object that json.Valid accepted, picking out the
// top-level members Parse needs without decoding the rest. A repeated
// member counts by its last occurrence, as encoding/json does.
func scanTop(raw []byte) fields {
	var f fields
	depth := 0
	i := 0
	n := len(raw)
	var key []byte
	expectKey := false
	for i < n {
		c := raw[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			f.loose = true
			i++
		case '{':
			depth++
			f.depth = max(f.depth, depth)
			expectKey = depth == 1
			i++
		case '[':
			depth++
			f.depth = max(f.depth, depth)
			i++
		case '}', ']':
			depth--
			i++
		case ',':
			expectKey = depth == 1 && raw[0] == '{'
			i++
		case ':':
			i++
			if depth == 1 {
				start := skipSpace(raw, i, &f)
				end := skipValue(raw, start, &f)
				switch string(key) {
				case `"uuid"`:
					f.uuid = raw[start:end]
				case `"eventType"`:
					f.eventType = raw[start:end]
				case `"published"`:
					f.published = raw[start:end]
				}
				i = end
			}
		case '"':
			end := skipString(raw, i)
			if depth == 1 && expectKey {
				key = raw[i:end]
				expectKey = false
			}
			i = end
		default:
			i++
		}
	}
	return f
}

func skipSpace(raw []byte, i int, f *fields) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		f.loose = true
		i++
	}
	return i
}

// skipString returns the index just past the string starting at raw[i].
func skipString(raw []byte, i int) int {
	i++
	for i < len(raw) {
		switch raw[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return i
}

// skipValue returns the index just past the value starting at raw[i],
// noting depth and loose whitespace inside it.
func skipValue(raw []byte, i int, f *fields) int {
	if i >= len(raw) {
		return i
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 1 // relative to the member's value; the object is depth 1
		f.depth = max(f.depth, 2)
		i++
		for i < len(raw) && depth > 0 {
			switch raw[i] {
			case '"':
				i = skipString(raw, i)
				continue
			case '{', '[':
				depth++
				f.depth = max(f.depth, depth+1)
			case '}', ']':
				depth--
			case ' ', '\t', '\n', '\r':
				f.loose = true
			}
			i++
		}
		return i
	default:
		for i < len(raw) {
			switch raw[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// rawString decodes a raw JSON value that must be a string or null; name
// is the member's name for the error.
func rawString(v []byte, name string) (string, error) {
	if len(v) == 0 || string(v) == "null" {
		return "", nil
	}
	if v[0] != '"' {
		return "", fmt.Errorf("%w: %s must be a string", ErrInvalid, name)
	}
	plain := true
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%w: %s must be a string", ErrInvalid, name)
	}
	return s, nil
}
