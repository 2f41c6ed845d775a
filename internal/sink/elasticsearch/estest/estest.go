// Package estest is an in-process Elasticsearch/OpenSearch _bulk endpoint
// for tests: POST /<index>/_bulk with NDJSON action and source lines,
// create-only semantics (an existing _id answers 409), per-item results in
// request order, and basic or API key auth.
package estest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/sink/fake"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// Doc is one stored document.
type Doc struct {
	Index  string
	ID     string
	Source json.RawMessage
}

// Failure is a scripted per-item failure.
type Failure struct {
	Status int
	Type   string
}

// Options configure a Server.
type Options struct {
	// Authorization is the exact Authorization header requests need;
	// empty accepts any.
	Authorization string
	// Fail, if set, is asked for each new document and returns a failure
	// for it, or nil to store it.
	Fail func(d Doc) *Failure
}

// Server is a fake cluster. Build it with NewServer.
type Server struct {
	t    testing.TB
	opts Options
	fake.Server

	mu       sync.Mutex
	docs     []Doc
	ids      map[string]bool
	requests int
	status   int
}

// NewServer starts a fake cluster on loopback and closes it when the test
// ends.
func NewServer(t testing.TB, opts Options) *Server {
	s := &Server{t: t, opts: opts, ids: map[string]bool{}}
	s.Serve(t, s.serve)
	return s
}

// SetStatus makes _bulk requests answer status as a whole (0 restores
// normal answers).
func (s *Server) SetStatus(status int) { fake.Set(&s.mu, &s.status, status) }

// Docs returns the stored documents in arrival order.
func (s *Server) Docs() []Doc { return fake.Copy(&s.mu, &s.docs) }

// Requests returns how many _bulk requests arrived.
func (s *Server) Requests() int { return fake.Get(&s.mu, &s.requests) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	if s.opts.Authorization != "" && r.Header.Get("Authorization") != s.opts.Authorization {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`))
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/" {
		_, _ = w.Write([]byte(`{"name":"fake","cluster_name":"estest","version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`))
		return
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.status != 0 {
		w.WriteHeader(s.status)
		_, _ = fmt.Fprintf(w, `{"error":{"type":"scripted"},"status":%d}`, s.status)
		return
	}
	docs, err := Parse(r, body)
	if err != nil {
		s.t.Errorf("estest: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprintf(w, `{"error":{"type":"illegal_argument_exception","reason":%q},"status":400}`, err.Error())
		return
	}
	items := make([]map[string]any, len(docs))
	anyErr := false
	for i, d := range docs {
		res := map[string]any{"_index": d.Index, "_id": d.ID}
		var f *Failure
		switch {
		case s.ids[d.Index+"/"+d.ID]:
			f = &Failure{Status: http.StatusConflict, Type: "version_conflict_engine_exception"}
		case s.opts.Fail != nil:
			f = s.opts.Fail(d)
		}
		if f != nil {
			anyErr = true
			res["status"] = f.Status
			res["error"] = map[string]string{"type": f.Type, "reason": "scripted " + f.Type}
		} else {
			s.ids[d.Index+"/"+d.ID] = true
			s.docs = append(s.docs, d)
			res["status"] = http.StatusCreated
			res["result"] = "created"
		}
		items[i] = map[string]any{"create": res}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": anyErr, "items": items})
}

// Parse checks a _bulk request (content type, NDJSON ending in a newline,
// create actions with an _id, @timestamp in every source) and returns its
// documents.
func Parse(r *http.Request, body []byte) ([]Doc, error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		return nil, fmt.Errorf("content-type: got %q, want application/x-ndjson", ct)
	}
	if !bytes.HasSuffix(body, []byte("\n")) {
		return nil, errors.New("body does not end with a newline")
	}
	pathIndex := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/_bulk")
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	var docs []Doc
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			return nil, fmt.Errorf("action line %d: %w", len(docs), err)
		}
		meta, ok := action["create"]
		if len(action) != 1 || !ok {
			return nil, fmt.Errorf("action line %d: got %s, want create only", len(docs), sc.Bytes())
		}
		if meta.ID == "" {
			return nil, fmt.Errorf("action line %d: no _id", len(docs))
		}
		if meta.Index == "" {
			meta.Index = pathIndex
		}
		if !sc.Scan() {
			return nil, fmt.Errorf("action line %d has no source line", len(docs))
		}
		src := bytes.Clone(sc.Bytes())
		var ts struct {
			Timestamp string `json:"@timestamp"`
		}
		if err := json.Unmarshal(src, &ts); err != nil || ts.Timestamp == "" {
			return nil, fmt.Errorf("source line %d: want a JSON object with @timestamp (%v)", len(docs), err)
		}
		docs = append(docs, Doc{Index: meta.Index, ID: meta.ID, Source: src})
	}
	if len(docs) == 0 {
		return nil, errors.New("no documents")
	}
	return docs, sc.Err()
}

// Decode is a sinktest.DecodeFunc for _bulk requests: Data is the source
// with @timestamp; compare with EventEqual.
func Decode(r *http.Request, body []byte) ([]sinktest.Received, error) {
	docs, err := Parse(r, body)
	if err != nil {
		return nil, err
	}
	out, err := sinktest.ReceivedFrom(docs, func(d Doc) []byte { return d.Source })
	if err != nil {
		return nil, err
	}
	for i, d := range docs {
		if out[i].ID != d.ID {
			return nil, fmt.Errorf("document %d: _id %q, uuid %q: want them equal", i, d.ID, out[i].ID)
		}
	}
	return out, nil
}

// EventEqual reports whether source is event plus @timestamp.
func EventEqual(event, source []byte) bool { return sinktest.EqualWithout(event, source, "@timestamp") }
