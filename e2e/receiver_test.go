package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook destination that records every event it accepts.
type receiver struct {
	t    *testing.T
	addr string

	mu       sync.Mutex
	srv      *http.Server
	seen     map[string]int // uuid → times received
	order    []string
	requests int
	// reject answers 400 to events whose eventType is this.
	reject string
	// down makes the receiver refuse connections.
	down bool
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.close)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

func (r *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle)}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (r *receiver) close() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// setDown stops listening (connections refused) or listens again on the
// same address.
func (r *receiver) setDown(down bool) {
	if down {
		r.close()
		return
	}
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listen again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

type hookEvent struct {
	UUID      string `json:"uuid"`
	EventType string `json:"eventType"`
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodHead || req.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var evs []hookEvent
	if err := json.Unmarshal(body, &evs); err != nil {
		http.Error(w, "want a JSON array", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	if r.reject != "" {
		for _, e := range evs {
			if e.EventType == r.reject {
				http.Error(w, fmt.Sprintf("event %s is not accepted here", e.UUID), http.StatusBadRequest)
				return
			}
		}
	}
	for _, e := range evs {
		if r.seen[e.UUID] == 0 {
			r.order = append(r.order, e.UUID)
		}
		r.seen[e.UUID]++
	}
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *receiver) has(uuid string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[uuid] > 0
}

func (r *receiver) times(uuid string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[uuid]
}

func (r *receiver) setReject(eventType string) {
	r.mu.Lock()
	r.reject = eventType
	r.mu.Unlock()
}

// events makes n LogEvent-shaped events with the given type prefix.
func events(prefix string, n int, eventType func(i int) string) ([][]byte, []string) {
	lines := make([][]byte, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s-%06d", prefix, i)
		ev := map[string]any{
			"uuid":      ids[i],
			"eventType": eventType(i),
			"published": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
			"severity":  "INFO",
			"actor":     map[string]any{"id": "00u1", "type": "User", "alternateId": fmt.Sprintf("user%d@example.com", i%7)},
			"outcome":   map[string]any{"result": []string{"SUCCESS", "FAILURE"}[i%2]},
			"client":    map[string]any{"ipAddress": fmt.Sprintf("10.0.%d.%d", i%3, i%250)},
		}
		lines[i], _ = json.Marshal(ev)
	}
	return lines, ids
}

func constType(t string) func(int) string { return func(int) string { return t } }
