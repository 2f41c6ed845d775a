package httpsink

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/auditstream/auditstream/internal/sink"
)

// sign returns the Standard Webhooks v1 signature header value: the
// base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" under key.
func sign(key []byte, id, timestamp string, body payload) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	body.writeTo(mac)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// batchID is the webhook-id of a batch: "batch_" and 128 bits of the
// SHA-256 of its record IDs in order. The runner retries a batch with the
// same records, so a retry carries the same id and receivers can
// de-duplicate on it; any other batch gets another id.
func batchID(b sink.Batch) string {
	h := sha256.New()
	// The ids go to the hash in chunks: a conversion of each to []byte
	// would be an allocation per record (h.Write is an interface call).
	buf := make([]byte, 0, 4096)
	for _, r := range b.Records {
		if len(buf)+len(r.UUID)+1 > cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
		if len(r.UUID)+1 > cap(buf) {
			h.Write([]byte(r.UUID))
			h.Write([]byte{'\n'})
			continue
		}
		buf = append(buf, r.UUID...)
		buf = append(buf, '\n')
	}
	h.Write(buf)
	var sum [sha256.Size]byte
	return "batch_" + hex.EncodeToString(h.Sum(sum[:0])[:16])
}
