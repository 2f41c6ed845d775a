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
func sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// batchID is the webhook-id of a batch: "batch_" and 128 bits of the
// SHA-256 of its record IDs in order. The runner retries a batch with the
// same records, so a retry carries the same id and receivers can
// de-duplicate on it; any other batch gets another id.
func batchID(b sink.Batch) string {
	h := sha256.New()
	for _, r := range b.Records {
		h.Write([]byte(r.UUID))
		h.Write([]byte{'\n'})
	}
	return "batch_" + hex.EncodeToString(h.Sum(nil)[:16])
}
