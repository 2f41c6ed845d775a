package main

import (
	"bytes"
	"encoding/json"
	"errors"
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

func (s *hookScanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\r' || s.b[s.i] == '\t') {
		s.i++
	}
}

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
			if err := json.Unmarshal(v, &id); err != nil {
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
	s.i++
	for s.i < len(s.b) {
		k := bytes.IndexAny(s.b[s.i:], `"\`)
		if k < 0 {
			return nil, errHookScan
		}
		s.i += k
		if s.b[s.i] == '\\' {
			s.i += 2
			continue
		}
		s.i++
		return s.b[start:s.i], nil
	}
	return nil, errHookScan
}

// skip passes over one value.
func (s *hookScanner) skip() error {
	switch s.peek() {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				if _, err := s.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			}
			s.i++
		}
		return errHookScan
	default:
		start := s.i
		for s.i < len(s.b) && !bytes.ContainsRune([]byte(",}] \n\r\t"), rune(s.b[s.i])) {
			s.i++
		}
		if s.i == start {
			return errHookScan
		}
		return nil
	}
}
