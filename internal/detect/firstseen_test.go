package detect

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

const newCountryRule = `title: Sign-in from a new country (test)
id: 7d1c9a52-0000-4000-8000-00000000f001
name: test_new_country
author: auditstream
level: medium
match:
  detail:
    eventType: [user.session.start]
    outcome:
      result: [SUCCESS]
firstSeen: [country]
suppress:
  for: "0"
`

func firstSeenPack(t testing.TB, doc string) *Pack {
	t.Helper()
	p := LoadPack("fs", "", []sigma.File{{Name: "fs.yml", Data: []byte(doc)}}, nil)
	for _, in := range p.Infos {
		if in.Status != StatusLoaded {
			t.Fatalf("rule %s: got status %s (%s), want loaded", in.ID, in.Status, in.Reason)
		}
	}
	return p
}

// signIn is a successful sign-in of actor from country.
func signIn(uuid, actor, country string, t time.Time) event.Record {
	data := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"user.session.start","version":"0","severity":"INFO",`+
		`"actor":{"id":%q,"type":"User","alternateId":"%s@example.com"},`+
		`"client":{"ipAddress":"203.0.113.7","userAgent":{"rawUserAgent":"curl"},"geographicalContext":{"country":%q}},`+
		`"outcome":{"result":"SUCCESS"},"securityContext":{"asNumber":7922},"target":[]}`,
		uuid, t.UTC().Format(time.RFC3339Nano), actor, actor, country)
	return event.Record{UUID: uuid, Org: "acme", EventType: "user.session.start", Published: t, Source: oktaSource, Data: []byte(data)}
}

// openActivity opens an activity store on j; run starts its fold (stopped
// at the test's end).
func openActivity(t *testing.T, j *journal.Journal) (*activity.Store, func()) {
	t.Helper()
	s, err := activity.Open(t.Context(), activity.Config{}, activity.Deps{KV: journaltest.KV(t, j, activity.Bucket), Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	run := func() {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return s, run
}

func startWithFirstSeen(t *testing.T, j *journal.Journal, reg *Registry, fs FirstSeenSource) (*Service, func()) {
	t.Helper()
	return startService(t, j, reg, Config{}, func(s *Service) { s.deps.FirstSeen = fs })
}

// firstSeenInput is jane's first sign-in from Norway (new), again from
// Norway (not new), then France (new), and bob's first from Norway (new),
// in three journal messages.
func firstSeenInput(start time.Time) [][]event.Record {
	return [][]event.Record{
		{signIn("s-1", "00uJANE", "Norway", start), signIn("s-2", "00uJANE", "Norway", start.Add(time.Second))},
		{signIn("s-3", "00uJANE", "France", start.Add(2*time.Second))},
		{signIn("s-4", "00uBOB", "Norway", start.Add(3*time.Second)), signIn("s-5", "00uJANE", "France", start.Add(4*time.Second))},
	}
}

// The first sign-in from a country raises, the next from the same country
// does not; the runtime, started ahead of the activity fold, waits for it.
// A replay over a journal the fold has already read gives byte-identical
// detections.
func TestFirstSeenCountryRuntime(t *testing.T) {
	reg := NewRegistry(DefaultRoutes(), firstSeenPack(t, newCountryRule))
	start := recent()

	j := journaltest.Open(t)
	store, runFold := openActivity(t, j)
	svc, stop := startWithFirstSeen(t, j, reg, store)
	for _, msg := range firstSeenInput(start) {
		appendAll(t, j, msg)
	}
	runFold() // after the runtime read the events: it must wait for the fold
	waitRaised(t, svc, 3)
	caughtUp(t, j, svc)
	stop()
	got := detections(t, j)
	want := map[string]bool{"s-1": true, "s-3": true, "s-4": true}
	if len(got) != len(want) {
		t.Fatalf("got %d detections, want 3 (s-1, s-3, s-4)", len(got))
	}
	for _, d := range got {
		found := ""
		for id := range want {
			if bytes.Contains(d.Data, []byte(`"`+id+`"`)) {
				found = id
			}
		}
		if found == "" {
			t.Errorf("detection %s refers to none of s-1, s-3, s-4: %s", d.UUID, d.Data)
		}
		delete(want, found)
	}

	// Replay: the same events in a journal whose fold is complete before
	// the runtime starts.
	j2 := journaltest.Open(t)
	store2, runFold2 := openActivity(t, j2)
	for _, msg := range firstSeenInput(start) {
		appendAll(t, j2, msg)
	}
	runFold2()
	last, err := j2.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the fold read the journal", func() bool { return store2.Covered() >= last }, wait.Within(15*time.Second))
	svc2, stop2 := startWithFirstSeen(t, j2, reg, store2)
	waitRaised(t, svc2, 3)
	caughtUp(t, j2, svc2)
	stop2()
	got2 := detections(t, j2)
	if len(got2) != len(got) {
		t.Fatalf("replay: got %d detections, want %d", len(got2), len(got))
	}
	for i := range got {
		if got[i].UUID != got2[i].UUID || !bytes.Equal(got[i].Data, got2[i].Data) {
			t.Errorf("replay detection %d: got %s %s, want %s %s", i, got2[i].UUID, got2[i].Data, got[i].UUID, got[i].Data)
		}
	}
}

// A rule using firstSeen without an activity store is listed as "no source"
// with the reason, and a runtime given it anyway never raises it (counted).
func TestFirstSeenWithoutSource(t *testing.T) {
	p := firstSeenPack(t, newCountryRule)
	rules, err := OpenRules(t.Context(), RulesConfig{Routes: DefaultRoutes(), Packs: []*Pack{p}})
	if err != nil {
		t.Fatal(err)
	}
	in, ok := rules.Registry().Info("7d1c9a52-0000-4000-8000-00000000f001")
	if !ok || in.Status != StatusNoSource || in.Reason != NoFirstSeenReason {
		t.Errorf("got status %q reason %q, want %q %q", in.Status, in.Reason, StatusNoSource, NoFirstSeenReason)
	}
	rules2, err := OpenRules(t.Context(), RulesConfig{Routes: DefaultRoutes(), Packs: []*Pack{firstSeenPack(t, newCountryRule)}, FirstSeen: true})
	if err != nil {
		t.Fatal(err)
	}
	if in, _ := rules2.Registry().Info("7d1c9a52-0000-4000-8000-00000000f001"); in.Status != StatusLoaded {
		t.Errorf("with a source: got status %q, want loaded", in.Status)
	}

	m, err := NewMatcher(NewRegistry(DefaultRoutes(), firstSeenPack(t, newCountryRule)), correlate.Config{}, Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	r := signIn("s-1", "00uJANE", "Norway", t0)
	r.Seq = journal.Position(1, 0)
	if out := m.Feed(&r, nil); len(out) != 0 {
		t.Errorf("without a source: got %d detections, want 0", len(out))
	}
	if n := m.Stats().FirstSeenUnavailable; n != 1 {
		t.Errorf("got FirstSeenUnavailable %d, want 1", n)
	}
}

// firstSeen names known kinds only; every listed kind must be new.
func TestFirstSeenLoadAndKinds(t *testing.T) {
	bad := strings.Replace(newCountryRule, "[country]", "[country, planet]", 1)
	p := LoadPack("fs", "", []sigma.File{{Name: "fs.yml", Data: []byte(bad)}}, nil)
	if len(p.Infos) != 1 || p.Infos[0].Status != StatusRefused || !strings.Contains(p.Infos[0].Reason, `unknown kind "planet"`) {
		t.Fatalf("got %+v, want refused for the unknown kind", p.Infos)
	}
	both := strings.Replace(newCountryRule, "[country]", "[country, asn]", 1)
	m, err := NewMatcher(NewRegistry(DefaultRoutes(), firstSeenPack(t, both)), correlate.Config{}, Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"country=Norway": true} // Norway seen, ASN 7922 new
	m.FirstSeen = func(_, _ string, kind activity.Kind, value string, _ uint64) bool {
		return !known[string(kind)+"="+value]
	}
	r := signIn("s-1", "00uJANE", "Norway", t0)
	if out := m.Feed(&r, nil); len(out) != 0 {
		t.Errorf("country known, asn new: got %d detections, want 0", len(out))
	}
	r = signIn("s-2", "00uJANE", "France", t0.Add(time.Second))
	if out := m.Feed(&r, nil); len(out) != 1 {
		t.Errorf("country and asn new: got %d detections, want 1", len(out))
	}

}

// The shipped "sign-in from a new country" rule through the runtime with
// the activity profiles: a user's first sign-in from the United States
// raises, the second does not; another user's first does.
func TestShippedSignInNewCountry(t *testing.T) {
	o := newOkta(t)
	j := journaltest.Open(t)
	store, runFold := openActivity(t, j)
	runFold()
	svc, stop := startWithFirstSeen(t, j, shippedRegistry(t), store)
	defer stop()
	start := recent()
	const lineSignIn = 23 // a successful OIE user.session.start from the United States
	appendAll(t, j, []event.Record{o.event(lineSignIn, "", "n-1", "JANE", "203.0.113.7", start)})
	appendAll(t, j, []event.Record{o.event(lineSignIn, "", "n-2", "JANE", "203.0.113.8", start.Add(time.Second)),
		o.event(lineSignIn, "", "n-3", "BOB", "203.0.113.9", start.Add(2*time.Second))})
	waitRaised(t, svc, 2)
	caughtUp(t, j, svc)
	if n := byType(detections(t, j))["signin_new_country"]; n != 2 {
		t.Errorf("got %d signin_new_country detections, want 2 (JANE's first, BOB's first)", n)
	}
}

// A backtest of a firstSeen rule with the activity store (which has read
// the journal) reports what the runtime raises; without a store, nothing.
func TestFirstSeenBacktest(t *testing.T) {
	reg := NewRegistry(DefaultRoutes(), firstSeenPack(t, newCountryRule))
	j := journaltest.Open(t)
	store, runFold := openActivity(t, j)
	for _, msg := range firstSeenInput(recent()) {
		appendAll(t, j, msg)
	}
	runFold()
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the fold read the journal", func() bool { return store.Covered() >= last }, wait.Within(15*time.Second))
	for _, tc := range []struct {
		name string
		fs   FirstSeenSource
		want int
	}{{"with the activity store", store, 3}, {"without", nil, 0}} {
		res, err := Backtest(t.Context(), j, reg, correlate.Config{}, Envelope{},
			BacktestRequest{Org: "acme", Rule: "7d1c9a52-0000-4000-8000-00000000f001", FirstSeen: tc.fs})
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != tc.want || res.Events != 5 {
			t.Errorf("%s: got %d detections over %d events, want %d over 5", tc.name, res.Count, res.Events, tc.want)
		}
	}
}
