package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/pattern"
	"github.com/auditstream/auditstream/internal/stream"
)

// oktaRecords parses the real Okta LogEvents of testdata/okta as ingest
// does, so each record's EventType is the one the journal indexes.
func oktaRecords(tb testing.TB) []event.Record {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var recs []event.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		// The load tool's way: each template with a fresh uuid and
		// published time (some templates have them redacted).
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("logevents.ndjson line %d: %v", len(recs)+1, err)
		}
		m["uuid"], m["published"] = fmt.Sprintf("bench-%08d", len(recs)), now.Format(time.RFC3339)
		raw, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		r, err := event.Parse(raw, "acme", now)
		if err != nil {
			tb.Fatalf("logevents.ndjson line %d: %v", len(recs)+1, err)
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		tb.Fatal("logevents.ndjson: no events")
	}
	return recs
}

// typeFilters deals the distinct event types of recs out to n patterns
// {"detail":{"eventType":[...]}}, as bench/load --streams does.
func typeFilters(tb testing.TB, recs []event.Record, n int) []*pattern.Pattern {
	tb.Helper()
	var types []string
	for _, r := range recs {
		if !slices.Contains(types, r.EventType) {
			types = append(types, r.EventType)
		}
	}
	shares := make([][]string, n)
	for i, typ := range types {
		shares[i%n] = append(shares[i%n], typ)
	}
	pats := make([]*pattern.Pattern, n)
	for i, s := range shares {
		q := ""
		for j, typ := range s {
			if j > 0 {
				q += ","
			}
			q += fmt.Sprintf("%q", typ)
		}
		pats[i] = pattern.MustCompile(`{"detail":{"eventType":[` + q + `]}}`)
	}
	return pats
}

// TestFilterEventTypeIndex: a filter naming event types with exact strings
// refuses a record from its journal event type alone, without reading its
// JSON; other filters, and records without an event type, are matched in
// full.
func TestFilterEventTypeIndex(t *testing.T) {
	d := &destinations{envelope: envelopeDefaults{account: "000000000000", region: "us-east-1"}}
	byType := d.filter(pattern.MustCompile(`{"detail":{"eventType":["keep"],"x":["1"]}}`))
	byPrefix := d.filter(pattern.MustCompile(`{"detail":{"eventType":[{"prefix":"keep"}]}}`))
	rec := func(indexed, inJSON string) *event.Record {
		return &event.Record{UUID: "u", Org: "acme", EventType: indexed, Published: time.Unix(0, 0),
			Data: []byte(`{"eventType":"` + inJSON + `","x":"1"}`)}
	}
	for _, c := range []struct {
		name string
		f    stream.Filter
		r    *event.Record
		want bool
	}{
		{"type selected", byType, rec("keep", "keep"), true},
		{"type not selected", byType, rec("drop", "drop"), false},
		{"refused from the index alone", byType, rec("drop", "keep"), false},
		{"index selects, the JSON decides", byType, rec("keep", "drop"), false},
		{"no index: matched in full", byType, rec("", "keep"), true},
		{"prefix: matched in full", byPrefix, rec("drop", "keep.more"), true},
	} {
		if got := c.f(c.r); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if raceEnabled {
		return
	}
	r := rec("drop", "drop")
	if n := testing.AllocsPerRun(100, func() { byType(r) }); n != 0 {
		t.Errorf("allocations per refusal: got %v, want 0", n)
	}
}

// TestFilterEventTypeIndexAgrees: over the real Okta events, every filter
// answers with the index what it answers from the JSON alone, and every
// event is selected by exactly one of the ten bench-style filters.
func TestFilterEventTypeIndexAgrees(t *testing.T) {
	d := &destinations{envelope: envelopeDefaults{account: "000000000000", region: "us-east-1"}}
	recs := oktaRecords(t)
	pats := append(typeFilters(t, recs, 10),
		pattern.MustCompile(`{"detail":{"eventType":["user.session.start"],"outcome":{"result":["FAILURE"]}}}`),
		pattern.MustCompile(`{"detail":{"$or":[{"eventType":["user.session.start"]},{"eventType":["user.session.end"],"severity":["INFO"]}]}}`),
		pattern.MustCompile(`{"detail":{"eventType":[{"prefix":"user."}]}}`))
	selected := make([]int, len(recs))
	for pi, p := range pats {
		indexed, full := d.filter(p), d.filter(p)
		for i := range recs {
			r := recs[i]
			got := indexed(&r)
			r.EventType = ""
			if want := full(&r); got != want {
				t.Errorf("pattern %s, event %d (%s): got %v with the index, want %v", p, i, recs[i].EventType, got, want)
			}
			if got && pi < 10 {
				selected[i]++
			}
		}
	}
	for i, n := range selected {
		if n != 1 {
			t.Errorf("event %d (%s): selected by %d of the ten filters, want 1", i, recs[i].EventType, n)
		}
	}
}

// BenchmarkFilterTenStreams is the filtering of the streams10 scenario: each
// Okta event through ten filters, each selecting a tenth of the event types.
// "index" is what runners do (records read from the journal carry their
// event type); "json" is each filter reading the event's JSON (records
// without an event type: what every record cost before). One op is one
// event through all ten filters.
func BenchmarkFilterTenStreams(b *testing.B) {
	d := &destinations{envelope: envelopeDefaults{account: "000000000000", region: "us-east-1"}}
	recs := oktaRecords(b)
	pats := typeFilters(b, recs, 10)
	for _, mode := range []string{"index", "json"} {
		b.Run(mode, func(b *testing.B) {
			rs := slices.Clone(recs)
			if mode == "json" {
				for i := range rs {
					rs[i].EventType = ""
				}
			}
			fs := make([]stream.Filter, len(pats))
			for i, p := range pats {
				fs[i] = d.filter(p)
			}
			raw := 0
			for _, r := range rs {
				raw += len(r.Data)
			}
			b.SetBytes(int64(raw / len(rs)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				r := &rs[n%len(rs)]
				for _, f := range fs {
					f(r)
				}
				n++
			}
		})
	}
}
