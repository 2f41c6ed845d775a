package httpsink

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// testKey is a 32-byte Standard Webhooks key and testSecret its whsec_ form.
var (
	testKey    = []byte("0123456789abcdef0123456789abcdef")
	testSecret = secret.String("whsec_" + base64.StdEncoding.EncodeToString(testKey))
)

func TestConformance(t *testing.T) {
	const maxEvents, maxBytes = 7, 4096
	for _, body := range []Body{BodyBatch, BodyNDJSON, BodyEvent} {
		t.Run(string(body), func(t *testing.T) {
			h := sinktest.Harness{
				New: func(t *testing.T) (sink.Sink, sinktest.Fake) {
					fake := sinktest.NewHTTPFake(t, sinktest.HTTPFakeOptions{
						Decode: decodeRequest,
						Check:  checkSignature(testKey),
					})
					s, err := New(Config{
						URL:       fake.URL() + "/hook",
						Body:      body,
						Signing:   Signing{Secret: testSecret},
						Auth:      Auth{Type: AuthAPIKey, APIKey: "k"},
						MaxEvents: maxEvents,
						MaxBytes:  maxBytes,
					}, sink.Deps{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close(t.Context()) })
					return s, fake
				},
				MaxRequestEvents: maxEvents,
				MaxRequestBytes:  maxBytes,
			}
			if body == BodyEvent {
				h.MaxRequestEvents = 1
			}
			sinktest.Run(t, h)
		})
	}
}

// decodeRequest reads the events of any body mode back out of a request.
func decodeRequest(r *http.Request, body []byte) ([]sinktest.Received, error) {
	var events [][]byte
	switch ct := r.Header.Get("Content-Type"); {
	case ct == "application/x-ndjson":
		if !bytes.HasSuffix(body, []byte("\n")) {
			return nil, errors.New("ndjson body does not end with a newline")
		}
		events = bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	case ct == "application/json" && bytes.HasPrefix(body, []byte("[")):
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, fmt.Errorf("json array body: %w", err)
		}
		for _, raw := range raws {
			events = append(events, raw)
		}
	case ct == "application/json":
		events = [][]byte{body}
	default:
		return nil, fmt.Errorf("content-type %q", ct)
	}
	out := make([]sinktest.Received, len(events))
	for i, ev := range events {
		id, err := sinktest.RecordID(ev)
		if err != nil {
			return nil, err
		}
		out[i] = sinktest.Received{ID: id, Data: bytes.Clone(ev)}
	}
	return out, nil
}

// checkSignature verifies Standard Webhooks headers the way a receiver
// would, independently of the sink's code.
func checkSignature(key []byte) sinktest.CheckFunc {
	return func(r *http.Request, body []byte) error {
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		if id == "" || ts == "" {
			return fmt.Errorf("webhook-id %q, webhook-timestamp %q: want both", id, ts)
		}
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		got := r.Header.Get("webhook-signature")
		if !hmac.Equal([]byte(got), []byte(want)) {
			return fmt.Errorf("webhook-signature: got %q, want %q", got, want)
		}
		return nil
	}
}
