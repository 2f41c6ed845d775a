package detect

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/benchcost"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/pattern"
)

// benchEvents are the Okta fixture's LogEvents as records from the Okta
// poller's source.
func benchEvents(b *testing.B) []event.Record {
	b.Helper()
	f, err := os.ReadFile(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	var out []event.Record
	sc := bufio.NewScanner(bytes.NewReader(f))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.Clone(sc.Bytes())
		r, err := event.Parse(line, "acme", t0)
		if err != nil {
			// Some fixture events have redacted fields Parse refuses: the
			// runtime sees the journal's records, so build one as stored.
			r = event.Record{UUID: fmt.Sprintf("fixture-%d", len(out)), Org: "acme", Published: t0, Data: line}
		}
		r.Source = oktaSource
		out = append(out, r)
	}
	return out
}

// benchRegistry loads every published rule (one of the two Sigma packs:
// they hold the same rules under the same ids, in two field spellings) and
// the native test pack.
func benchRegistry(b *testing.B, sigmaDir string, disabled ...string) *Registry {
	b.Helper()
	files, err := ReadFiles(filepath.Join("..", "..", "testdata", "detections", sigmaDir))
	if err != nil {
		b.Fatal(err)
	}
	ov := &overlay.Overlay{Placeholders: map[string][]string{"legtimate_identifiers": {"@example.com"}}, Rules: map[string]overlay.Tuning{}}
	off := false
	for _, id := range disabled {
		ov.Rules[id] = overlay.Tuning{Enabled: &off}
	}
	reg := NewRegistry(DefaultRoutes(), LoadPack(sigmaDir, "", files, ov), nativePack(b))
	for _, in := range reg.Infos() {
		if in.Status == StatusRefused && in.Pack == sigmaDir {
			b.Fatalf("%s refused: %s", in.File, in.Reason)
		}
	}
	return reg
}

// BenchmarkMatcher measures events per second through the runtime's match
// path (routing, prefilter Set, full predicates, correlation engine,
// detection events built) with every published Sigma Okta rule and the
// native pack loaded, over the 56 fixture events (each fed with a fresh
// uuid and an advancing time, so de-duplication and windows work as live).
func BenchmarkMatcher(b *testing.B) {
	// The two rules without a prefilter (requestUri|contains): they make
	// every event parsed for full evaluation.
	unindexed := []string{"0d58814b-1660-4d31-8c93-d1086ed24cba", "9058ca8b-f397-4fd1-a9fa-2b7aad4d6309"}
	for _, tc := range []struct {
		name, dir string
		disabled  []string
	}{{"sigma", "sigma", nil}, {"sigma-r2026-01-01", "sigma-r2026-01-01", nil}, {"sigma-indexed-only", "sigma", unindexed}} {
		b.Run(tc.name, func(b *testing.B) {
			reg := benchRegistry(b, tc.dir, tc.disabled...)
			m, err := NewMatcher(reg, correlate.Config{}, Envelope{})
			if err != nil {
				b.Fatal(err)
			}
			evs := benchEvents(b)
			uuids := make([]string, 4096)
			for i := range uuids {
				uuids[i] = fmt.Sprintf("bench-%06d", i)
			}
			var out []Raised
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := benchcost.CPU(b)
			for i := 0; b.Loop(); i++ {
				r := evs[i%len(evs)]
				r.UUID = uuids[i%len(uuids)]
				r.Published = t0.Add(time.Duration(i) * time.Millisecond)
				out = m.Feed(&r, out[:0])
			}
			benchcost.ReportRates(b, cpu0)
			b.ReportMetric(float64(m.Stats().Detections)/float64(b.N), "detections/event")
		})
	}
}

// BenchmarkPrefilterOnly is the pattern matcher alone with the same rules'
// prefilters: the floor the runtime is compared with.
func BenchmarkPrefilterOnly(b *testing.B) {
	reg := benchRegistry(b, "sigma")
	set := pattern.NewSet()
	for _, r := range reg.rules {
		switch {
		case r.pat != nil:
			set.Add(pattern.ID(r.ID), r.pat)
		case r.prefilter != nil:
			set.Add(pattern.ID(r.ID), pattern.MustCompile(string(r.prefilter)))
		}
	}
	evs := benchEvents(b)
	var ids []pattern.ID
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := benchcost.CPU(b)
	for i := 0; b.Loop(); i++ {
		r := &evs[i%len(evs)]
		env := pattern.Envelope{Version: "0", ID: r.UUID, DetailType: "SystemLog", Source: r.Source, Detail: r.Data}
		ids = set.MatchAllEnvelope(&env, ids[:0])
	}
	benchcost.ReportRates(b, cpu0)
}

// BenchmarkMatcherAPIUnrouted is the runtime's cost for an event of the
// API when no rule is routed to the API's sources (the default): the
// route lookup only.
func BenchmarkMatcherAPIUnrouted(b *testing.B) {
	m, err := NewMatcher(benchRegistry(b, "sigma"), correlate.Config{}, Envelope{})
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(b)
	for i := range evs {
		evs[i].Source = ""
	}
	var out []Raised
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		out = m.Feed(&evs[i%len(evs)], out[:0])
	}
}
