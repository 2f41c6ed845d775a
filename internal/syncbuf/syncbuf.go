// Package syncbuf is a buffer goroutines may share: a logger, a command
// or a child process writes to it while a test reads what it wrote so
// far.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent Write and String. The
// zero value is an empty buffer ready to use.
type Buffer struct {
	// Max, when set, bounds what the buffer keeps: a Write that finds more
	// than Max bytes drops them first (a long-running process's log, of
	// which a test shows the Tail).
	Max int

	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Max > 0 && s.b.Len() > s.Max {
		s.b.Reset()
	}
	return s.b.Write(p)
}

// Tail is the last n bytes written so far (all of them when fewer).
func (s *Buffer) Tail(n int) string {
	x := s.String()
	if len(x) > n {
		x = x[len(x)-n:]
	}
	return x
}

// String is what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
