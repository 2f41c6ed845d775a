package pattern

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestSpecialBytes checks the word trick against the byte-by-byte definition: the
// lowest flag must be the first '"', '\\' or control byte, and no flag without one.
func TestSpecialBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	interesting := []byte{0, 1, 0x1f, 0x20, 0x21, '"', 0x23, '\\', 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	var b [8]byte
	for n := 0; n < 2_000_000; n++ {
		for i := range b {
			if r.IntN(3) == 0 {
				b[i] = interesting[r.IntN(len(interesting))]
			} else {
				b[i] = byte(r.IntN(256))
			}
		}
		if n < 256*8 { // every byte value at every position, among plain bytes
			for i := range b {
				b[i] = 'a'
			}
			b[n/256] = byte(n % 256)
		}
		want := -1
		for i, c := range b {
			if strClass[c] {
				want = i
				break
			}
		}
		m := specialBytes(binary.LittleEndian.Uint64(b[:]))
		got := -1
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("specialBytes(% x): first special byte %d, want %d", b, got, want)
		}
	}
}
