package notifytest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Webhook is an incoming webhook (Slack's, Teams') on loopback: it keeps
// every body posted to it and answers as scripted, closed when the test
// ends.
type Webhook struct {
	*httptest.Server
	mu         sync.Mutex
	path       string
	bodies     [][]byte
	status     int
	text       string
	retryAfter string
}

// NewWebhook starts a webhook that answers status with text. When path is
// not empty, a request to any other path is answered 404 no_service (as
// Slack answers an unknown hook) and not kept.
func NewWebhook(t *testing.T, path string, status int, text string) *Webhook {
	t.Helper()
	h := &Webhook{path: path, status: status, text: text}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.path != "" && r.URL.Path != h.path {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte("no_service"))
			return
		}
		h.bodies = append(h.bodies, buf.Bytes())
		if h.retryAfter != "" {
			w.Header().Set("Retry-After", h.retryAfter)
		}
		w.WriteHeader(h.status)
		_, _ = w.Write([]byte(h.text))
	}))
	t.Cleanup(h.Close)
	return h
}

// Answer scripts the answers from now on: status with text, and a
// Retry-After header when retryAfter is not empty.
func (h *Webhook) Answer(status int, text, retryAfter string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status, h.text, h.retryAfter = status, text, retryAfter
}

// Bodies are the bodies posted so far, oldest first.
func (h *Webhook) Bodies() [][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bodies)
}
