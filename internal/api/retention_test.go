package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// gateSink is a recSink behind a switch: while closed every write fails
// as a destination answering 503 would.
type gateSink struct {
	*recSink
	open *atomic.Bool
}

func (g gateSink) Write(ctx context.Context, b sink.Batch) error {
	if !g.open.Load() {
		return errors.New("503 service unavailable")
	}
	return g.recSink.Write(ctx, b)
}

// TestIngestFullJournalProtectsUndelivered is the reviewer's repro of H2:
// a 1 MiB journal, a stream whose destination is down, 5 × 2,000 events
// of 400 bytes. Before, all were accepted and 8,054 were lost with
// lagEvents 0; now ingest answers 507 with Retry-After naming the stream,
// /readyz, status and metrics say why, no accepted event is lost, and once
// the destination is back everything is delivered and ingest accepted.
func TestIngestFullJournalProtectsUndelivered(t *testing.T) {
	gate := &atomic.Bool{}
	s, _ := newServerWith(t, env{limits: httpapi.DefaultLimits, maxBytes: 1 << 20, gate: gate, retention: true})
	r := s.call("POST", "/api/v1/logStreams?verify=false", s.admin,
		map[string]any{"type": "test", "name": "down", "settings": map[string]any{"url": "http://127.0.0.1:19010/hook"}})
	wantStatus(t, r, 200)
	var created struct{ ID string }
	r.json(t, &created)

	var accepted []string
	var full response
	for b := range 50 {
		var lines []string
		var ids []string
		for i := range 200 {
			id := fmt.Sprintf("ret-%d-%d", b, i)
			ids = append(ids, id)
			lines = append(lines, fmt.Sprintf(`{"eventType":"ret.test","uuid":%q,"pad":%q}`, id, eventtest.Noise(id, 400)))
		}
		r := s.call("POST", "/api/v1/events", s.admin, strings.Join(lines, "\n"), "Content-Type", "application/x-ndjson")
		if r.status != 202 {
			full = r
			break
		}
		accepted = append(accepted, ids...)
	}
	e := wantError(t, full, 507, httpapi.CodeFull, "log stream "+created.ID+" (down) has not delivered events from journal sequence")
	if ra := full.header.Get("Retry-After"); ra == "" {
		t.Errorf("got no Retry-After on %s, want one", full)
	}
	t.Logf("507 after %d accepted: %s", len(accepted), e.causes())

	// The same refusal for an org-scoped token names no stream of
	// another org.
	tenant := s.token("acme", auth.ScopeWriteEvents)
	r = s.call("POST", "/api/v1/events", tenant, ev("t1"))
	te := wantError(t, r, 507, httpapi.CodeFull, "1 log streams of other orgs")
	if strings.Contains(strings.Join(te.causes(), " "), created.ID) {
		t.Errorf("got causes %q for a tenant, want no other org's stream id", te.causes())
	}

	r = s.call("GET", "/readyz", "", nil)
	// /readyz needs no token: it counts the streams but names none.
	if r.status != 200 || !strings.Contains(string(r.body), `"degraded"`) || !strings.Contains(string(r.body), stream.ConditionRetention) ||
		strings.Contains(string(r.body), created.ID) {
		t.Errorf("got /readyz %s, want 200 degraded with %s, without the stream's id", r, stream.ConditionRetention)
	}
	r = s.call("GET", "/api/v1/logStreams/"+created.ID+"/status", s.admin, nil)
	var st stream.Snapshot
	r.json(t, &st)
	if !st.RetentionBlocking || st.LagEvents == 0 {
		t.Errorf("got status %s, want retentionBlocking and a lag", r.body)
	}
	r = s.call("GET", "/metrics", s.admin, nil)
	for _, want := range []string{"auditstream_journal_retention_blocked 1",
		`auditstream_stream_retention_blocking{stream="` + created.ID + `"} 1`,
		`auditstream_ingest_rejected_requests_total{code="507"}`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("got metrics without %q", want)
		}
	}

	gate.Store(true)
	rec := s.types.sink(created.ID)
	wait.Eventually(t, "every accepted event delivered", func() bool {
		got := map[string]bool{}
		rec.mu.Lock()
		for _, b := range rec.batches {
			for _, r := range b {
				got[r.UUID] = true
			}
		}
		rec.mu.Unlock()
		for _, id := range accepted {
			if !got[id] {
				return false
			}
		}
		return true
	})
	wait.Eventually(t, "ingest accepted again", func() bool {
		return s.call("POST", "/api/v1/events", s.admin, ev("after-recovery")).status == 202
	})
	wait.Eventually(t, "readyz ready", func() bool {
		r := s.call("GET", "/readyz", "", nil)
		return r.status == 200 && strings.Contains(string(r.body), `"ready"`)
	})
	r = s.call("GET", "/api/v1/logStreams/"+created.ID+"/status", s.admin, nil)
	var raw map[string]json.RawMessage
	r.json(t, &raw)
	if _, ok := raw["droppedByRetention"]; ok {
		t.Errorf("got status %s, want nothing dropped", r.body)
	}
	// A burst straight to the cap leaves no room for the event while
	// blocked; it is stored as soon as there is.
	wait.Eventually(t, "a system.journal.retention.blocked event delivered", func() bool {
		return slices.Contains(rec.eventTypes(), "system.journal.retention.blocked")
	})
}

// TestIngestFullJournalDeactivateUnblocks checks that deactivating the
// lagging stream lets ingest in again, and its status then shows what it
// lost.
func TestIngestFullJournalDeactivateUnblocks(t *testing.T) {
	gate := &atomic.Bool{}
	s, board := newServerWith(t, env{limits: httpapi.DefaultLimits, maxBytes: 512 << 10, gate: gate, retention: true})
	r := s.call("POST", "/api/v1/logStreams?verify=false", s.admin,
		map[string]any{"type": "test", "name": "down", "settings": map[string]any{"url": "http://127.0.0.1:19010/hook"}})
	wantStatus(t, r, 200)
	var created struct{ ID string }
	r.json(t, &created)
	n := 0
	for ; n < 100; n++ {
		var lines []string
		for i := range 200 {
			id := fmt.Sprintf("d-%d-%d", n, i)
			lines = append(lines, fmt.Sprintf(`{"eventType":"ret.test","uuid":%q,"pad":%q}`, id, eventtest.Noise(id, 400)))
		}
		if r = s.call("POST", "/api/v1/events", s.admin, strings.Join(lines, "\n"), "Content-Type", "application/x-ndjson"); r.status != 202 {
			break
		}
	}
	wantError(t, r, 507, httpapi.CodeFull, created.ID)
	wantStatus(t, s.call("POST", "/api/v1/logStreams/"+created.ID+"/lifecycle/deactivate", s.admin, nil), 200)
	wait.Eventually(t, "ingest accepted after deactivation", func() bool {
		return s.call("POST", "/api/v1/events", s.admin, ev("after-deactivate")).status == 202
	})
	wait.Eventually(t, "the condition cleared", func() bool {
		for _, c := range board.Conditions() {
			if c.Name == stream.ConditionRetention {
				return false
			}
		}
		return true
	})
	wait.Eventually(t, "the stream's loss in its status", func() bool {
		r := s.call("GET", "/api/v1/logStreams/"+created.ID+"/status", s.admin, nil)
		var st stream.Snapshot
		r.json(t, &st)
		// From the first event the stream had not delivered (sequence 1
		// is its own creation event, which it did deliver).
		return st.DroppedByRetention != nil && st.DroppedByRetention.FromSeq == 2 && st.DroppedByRetention.Events > 0 &&
			st.State == stream.StateInactive && !st.RetentionBlocking
	})
}
