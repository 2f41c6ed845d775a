package main

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// scanHookUUIDs reads the uuid of each event of a delivery (a JSON array
// of events, or events one after another) without decoding the events: it
// walks the top level of each object for "uuid", or "detail"."uuid" for
// EventBridge-shaped events. It is the receiver's fast path: decoding
// whole 1.4 MB batches with encoding/json made the load tool's receiver,
// which shares the machine with the server, part of the destination's
// answer time. It checks only the structure it walks; ok is false for
// anything it does not expect (the caller then decodes with decodeHook).
func scanHookUUIDs(raw []byte, out []string) (ids []string, ok bool) {
	s := hookScanner{b: raw}
	s.space()
	array := s.peek() == '['
	if array {
		s.i++
		s.space()
		if s.peek() == ']' {
			s.i++
			s.space()
			return out, s.i == len(s.b)
		}
	}
	for {
		s.space()
		if s.i >= len(s.b) {
			return out, !array
		}
		id, err := s.object(0)
		if err != nil {
			return out, false
		}
		out = append(out, id)
		s.space()
		if !array {
			continue
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.space()
			return out, s.i == len(s.b)
		default:
			return out, false
		}
	}
}

type hookScanner struct {
	b []byte
	i int
}

var errHookScan = errors.New("unexpected JSON")

func (s *hookScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *hookScanner) space() { s.i = jsonlex.SkipSpace(s.b, s.i) }

// object reads an object and returns its "uuid" (depth 0), or its
// "detail" object's "uuid".
func (s *hookScanner) object(depth int) (string, error) {
	if s.peek() != '{' {
		return "", errHookScan
	}
	s.i++
	var id, detailID string
	for first := true; ; first = false {
		s.space()
		if s.peek() == '}' && first {
			s.i++
			break
		}
		key, err := s.str()
		if err != nil {
			return "", err
		}
		s.space()
		if s.peek() != ':' {
			return "", errHookScan
		}
		s.i++
		s.space()
		name := key[1 : len(key)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return "", errHookScan // an escaped name: leave it to encoding/json
		}
		// Names match as encoding/json matches them: case-insensitively.
		switch {
		case bytes.EqualFold(name, []byte("uuid")) && s.peek() == '"':
			v, err := s.str()
			if err != nil {
				return "", err
			}
			if len(v) >= 2 && bytes.IndexByte(v, '\\') < 0 {
				id = string(v[1 : len(v)-1]) // no escapes: the bytes are the string
			} else if err := json.Unmarshal(v, &id); err != nil {
				return "", err
			}
		case bytes.EqualFold(name, []byte("detail")) && depth == 0 && s.peek() == '{':
			if detailID, err = s.object(1); err != nil {
				return "", err
			}
		default:
			if err := s.skip(); err != nil {
				return "", err
			}
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
			continue
		case '}':
			s.i++
		default:
			return "", errHookScan
		}
		break
	}
	if id == "" {
		id = detailID
	}
	return id, nil
}

// str returns the string at i, quotes included.
func (s *hookScanner) str() ([]byte, error) {
	if s.peek() != '"' {
		return nil, errHookScan
	}
	start := s.i
	end, ok := jsonlex.SkipString(s.b, s.i)
	if !ok {
		return nil, errHookScan
	}
	s.i = end
	return s.b[start:end], nil
}

// skip passes over one value.
func (s *hookScanner) skip() error {
	end, ok := jsonlex.SkipValue(s.b, s.i)
	if !ok {
		return errHookScan
	}
	s.i = end
	return nil
}
