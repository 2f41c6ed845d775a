package sink

import (
	"errors"
	"testing"
)

// TestPartialErrorIsStable: the message names the first failed record's
// error every time, not an arbitrary one.
func TestPartialErrorIsStable(t *testing.T) {
	pe := &PartialError{Failed: map[int]error{}}
	for i := 9; i >= 2; i-- {
		pe.Failed[i] = errors.New("record " + string(rune('0'+i)))
	}
	const want = "8 records failed, e.g. record 2"
	for range 50 {
		if got := pe.Error(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}
