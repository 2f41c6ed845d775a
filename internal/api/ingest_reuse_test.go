package api_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
)

// TestIngestConcurrentRequestsKeepTheirEvents sends many requests at once,
// NDJSON, gzip and arrays, with events of many sizes, some with uuids and
// some without, so that bodies, gzip readers, parsers and record slices go
// from one request to the next while others are being stored. Every
// event must reach the journal exactly as it was sent.
func TestIngestConcurrentRequestsKeepTheirEvents(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{MaxBody: 1 << 20, MaxEvent: 64 << 10, MaxEvents: 1000})
	const clients, requests, perRequest = 8, 16, 40
	// want maps each event's marker (in its "m" member) to its eventType
	// and padding.
	type sent struct{ eventType, pad string }
	want := map[string]sent{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for r := range requests {
				var lines []string
				for e := range perRequest {
					m := fmt.Sprintf("c%d-r%d-e%d", c, r, e)
					ev := sent{eventType: fmt.Sprintf("type.%d", e%7), pad: strings.Repeat(string(rune('a'+e%26)), (c*131+r*17+e*53)%3000)}
					id := ""
					if e%2 == 0 {
						id = fmt.Sprintf(`"uuid":"u-%s",`, m)
					}
					lines = append(lines, fmt.Sprintf(`{%s"eventType":%q,"m":%q,"pad":%q}`, id, ev.eventType, m, ev.pad))
					mu.Lock()
					want[m] = ev
					mu.Unlock()
				}
				var body any
				var hdr []string
				switch r % 3 {
				case 0:
					body, hdr = strings.Join(lines, "\n"), []string{"Content-Type", "application/x-ndjson"}
				case 1:
					body, hdr = gz(t, strings.Join(lines, "\n")), []string{"Content-Type", "application/x-ndjson", "Content-Encoding", "gzip"}
				default:
					body = "[" + strings.Join(lines, ",") + "]"
				}
				resp := s.call("POST", "/api/v1/events", s.admin, body, hdr...)
				if resp.status != 202 {
					t.Errorf("client %d request %d: got %s, want 202", c, r, resp)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := journalEvents(t, s)
	if len(got) != len(want) {
		t.Fatalf("got %d events in the journal, want %d", len(got), len(want))
	}
	for _, ev := range got {
		var m, pad string
		if _, err := fmt.Sscanf(string(between(ev.Data, `"m":"`, `"`)), "%s", &m); err != nil {
			t.Fatalf("event %s without its marker: %s", ev.UUID, ev.Data)
		}
		pad = string(between(ev.Data, `"pad":"`, `"`))
		w, ok := want[m]
		if !ok || ev.EventType != w.eventType || pad != w.pad {
			t.Fatalf("event %s: got marker %q type %q and %d bytes of padding, want type %q and %d", ev.UUID, m, ev.EventType, len(pad), w.eventType, len(w.pad))
		}
		if strings.HasPrefix(ev.UUID, "u-") && ev.UUID != "u-"+m {
			t.Fatalf("event %s: got uuid %q, want %q", m, ev.UUID, "u-"+m)
		}
		delete(want, m)
	}
}

// between is the text of b after the first start up to the next end.
func between(b []byte, start, end string) []byte {
	_, after, ok := bytes.Cut(b, []byte(start))
	if !ok {
		return nil
	}
	v, _, _ := bytes.Cut(after, []byte(end))
	return v
}

// journalEvents reads every event of the journal, in order.
func journalEvents(t *testing.T, s *server) []event.Record {
	t.Helper()
	ctx := t.Context()
	st, err := s.j.JetStream().Stream(ctx, s.j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.j.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Record
	for seq := uint64(1); seq <= last; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		if out, err = journal.Decode(journal.RawMessage(m), out); err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
	}
	return out
}
