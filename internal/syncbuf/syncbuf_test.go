package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/syncbuf"
)

// TestConcurrentWrites: lines written from several goroutines while
// another reads all arrive whole (run with -race to see the locking).
func TestConcurrentWrites(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(&b, "g%d line %d\n", g, i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	got := b.String()
	if n := strings.Count(got, "\n"); n != 400 {
		t.Errorf("lines: got %d, want 400", n)
	}
	if !strings.Contains(got, "g3 line 99\n") {
		t.Errorf("got %q, want it to hold g3's last line", got[len(got)-40:])
	}
}

// TestMaxAndTail: a bounded buffer drops what it holds once it is over
// Max, and Tail is the end of what it holds.
func TestMaxAndTail(t *testing.T) {
	b := syncbuf.Buffer{Max: 10}
	fmt.Fprint(&b, "0123456789ab") // over Max: dropped at the next write
	if got := b.Tail(4); got != "89ab" {
		t.Errorf("Tail(4): got %q, want %q", got, "89ab")
	}
	fmt.Fprint(&b, "cd")
	if got := b.String(); got != "cd" {
		t.Errorf("after a write over Max: got %q, want %q", got, "cd")
	}
	if got := b.Tail(10); got != "cd" {
		t.Errorf("Tail(10) of 2 bytes: got %q, want %q", got, "cd")
	}
}
