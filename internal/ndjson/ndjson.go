// Package ndjson reads newline-delimited JSON the way every reader of it
// in auditstream does: line by line, white space trimmed, blank lines
// skipped, lines numbered from 1 for error messages. It does not decode:
// what a line must be is the caller's business.
package ndjson

import (
	"bufio"
	"bytes"
	"io"
)

// ErrTooLong is Err's error when a line is longer than the Scanner's
// maximum; it is line Line()+1.
var ErrTooLong = bufio.ErrTooLong

// Scanner reads the non-blank lines of an NDJSON input.
type Scanner struct {
	sc   *bufio.Scanner
	b    []byte
	line int
}

// NewScanner reads r, whose lines may be up to max bytes long with their
// line ending.
func NewScanner(r io.Reader, max int) *Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(max, 64<<10)), max)
	return &Scanner{sc: sc}
}

// Scan advances to the next non-blank line and reports whether there is
// one; at the end of the input or on an error it returns false (see Err).
func (s *Scanner) Scan() bool {
	for s.sc.Scan() {
		s.line++
		if s.b = bytes.TrimSpace(s.sc.Bytes()); len(s.b) > 0 {
			return true
		}
	}
	return false
}

// Bytes is the current line, white space trimmed. It is overwritten by
// the next Scan: clone what is kept.
func (s *Scanner) Bytes() []byte { return s.b }

// Line is the current line's number, counting blank lines, from 1.
func (s *Scanner) Line() int { return s.line }

// Err is the first error reading the input, nil at its end.
func (s *Scanner) Err() error { return s.sc.Err() }
