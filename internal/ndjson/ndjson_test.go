package ndjson

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestScanner(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		max      int
		want     []string
		lines    []int
		err      error
	}{
		{"blank lines skipped, numbers kept", "{\"a\":1}\n\n  \r\n {\"b\":2} \r\n{\"c\":3}", 100, []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}, []int{1, 4, 5}, nil},
		{"empty", "", 100, nil, nil, nil},
		{"too long", "{}\n" + strings.Repeat("x", 20) + "\n{}\n", 10, []string{"{}"}, []int{1}, ErrTooLong},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScanner(strings.NewReader(tt.in), tt.max)
			var got []string
			var lines []int
			for s.Scan() {
				got = append(got, string(s.Bytes()))
				lines = append(lines, s.Line())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !slices.Equal(lines, tt.lines) {
				t.Errorf("lines: got %v, want %v", lines, tt.lines)
			}
			if err := s.Err(); !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Errorf("err: got %v, want %v", err, tt.err)
			}
		})
	}
}
