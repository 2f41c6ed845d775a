package eventtest

import (
	"encoding/base64"
	"hash/fnv"
	"math/rand/v2"
)

// Noise is n pseudo-random characters (base64url, nothing JSON escapes),
// the same for the same key: padding for events in tests of the
// journal's size on disk (caps, a full disk, how far a reader lags in
// bytes), which the journal's compression does not shrink as it shrinks a
// repeated character. (Random hex would not do: its four-character runs
// repeat often enough for S2 to find.) Give each event its own key (its
// uuid).
func Noise(key string, n int) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(n)))
	b := make([]byte, n*3/4+3)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
