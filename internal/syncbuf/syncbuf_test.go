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
