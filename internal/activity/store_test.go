package activity

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// oktaEvents are the events of testdata/okta/logevents.ndjson, of org,
// but for the few the journal refuses (a "redacted" published time).
func oktaEvents(t testing.TB, org string) []event.Record {
	t.Helper()
	b, err := os.ReadFile("../../testdata/okta/logevents.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	line := 0
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		line++
		r, err := event.Parse(event.WithUUID(bytes.Clone(sc.Bytes()), fmt.Sprintf("fixture-line-%d", line)), org, now)
		if err != nil {
			continue
		}
		out = append(out, r)
	}
	return out
}

// extraEvents complete the fixture for john.doe (00uttidj01jqL21aM1d6):
// an MFA push, an app sign-on and a detection raised twice (DETECTIONS.md
// §6.1's shape: the user as a User target, the same transaction.id).
var extraEvents = []string{
	`{"uuid":"x-mfa","published":"2024-08-13T15:58:25.000Z","eventType":"user.authentication.auth_via_mfa","actor":{"id":"00uttidj01jqL21aM1d6","type":"User","alternateId":"john.doe@example.com","displayName":"John Doe"},"client":{"ipAddress":"10.0.0.1","geographicalContext":{"country":"United States"}},"securityContext":{"asNumber":394089,"asOrg":"ASN 0000"},"authenticationContext":{"externalSessionId":"idxBager62CSveUkTxvgRtonA"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH"}}}`,
	`{"uuid":"x-sso","published":"2024-08-13T16:01:00.000Z","eventType":"user.authentication.sso","actor":{"id":"00uttidj01jqL21aM1d6","type":"User","alternateId":"john.doe@example.com","displayName":"John Doe"},"client":{"ipAddress":"10.0.0.2","geographicalContext":{"country":"Canada"}},"securityContext":{"asNumber":7922,"asOrg":"comcast"},"outcome":{"result":"SUCCESS"},"target":[{"alternateId":"AWS Production","displayName":"AWS IAM Identity Center","id":"0oaua5ldoougycQAO696","type":"AppInstance"}]}`,
	`{"uuid":"x-det1","published":"2024-08-13T16:02:00.000Z","eventType":"security.detection.session_roaming","displayMessage":"Session roaming across ASNs","actor":{"id":"auditstream","type":"SystemPrincipal","alternateId":"system@auditstream"},"outcome":{"result":"UNKNOWN"},"target":[{"id":"r1","type":"DetectionRule","alternateId":"session_roaming"},{"id":"00uttidj01jqL21aM1d6","type":"User","alternateId":"john.doe@example.com"}],"transaction":{"type":"JOB","id":"det-1"},"debugContext":{"debugData":{"detectionId":"det-1","level":"high","groupBy":"actor.id=00uttidj01jqL21aM1d6"}}}`,
	`{"uuid":"x-det2","published":"2024-08-13T16:03:00.000Z","eventType":"security.detection.session_roaming","displayMessage":"Session roaming across ASNs","actor":{"id":"auditstream","type":"SystemPrincipal","alternateId":"system@auditstream"},"outcome":{"result":"UNKNOWN"},"target":[{"id":"r1","type":"DetectionRule","alternateId":"session_roaming"},{"id":"00uttidj01jqL21aM1d6","type":"User","alternateId":"john.doe@example.com"}],"transaction":{"type":"JOB","id":"det-1"},"debugContext":{"debugData":{"detectionId":"det-1","level":"high","groupBy":"actor.id=00uttidj01jqL21aM1d6"}}}`,
}

// parseAll parses raw events of org.
func parseAll(t testing.TB, org string, raws ...string) []event.Record {
	t.Helper()
	var out []event.Record
	for _, raw := range raws {
		r, err := event.Parse([]byte(raw), org, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// appendAll appends evs to j in batches of n.
func appendAll(t testing.TB, j *journal.Journal, evs []event.Record, n int) {
	t.Helper()
	for i := 0; i < len(evs); i += n {
		if _, err := j.Append(t.Context(), evs[i:min(i+n, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// running is a Store with its Run under way.
type running struct {
	s    *Store
	stop func()
}

func start(t *testing.T, j *journal.Journal, kv jetstream.KeyValue, cfg Config) running {
	t.Helper()
	s, err := Open(t.Context(), cfg, Deps{KV: kv, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: got %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("run: still running 10s after its context ended")
		}
	}
	t.Cleanup(stop)
	return running{s, stop}
}

// caughtUp waits until s has stored every message of j.
func caughtUp(t *testing.T, j *journal.Journal, s *Store) {
	t.Helper()
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, fmt.Sprintf("the fold stored up to message %d", last), func() bool { return s.Cursor() >= last },
		wait.Seen(func() string { return fmt.Sprintf("cursor %d", s.Cursor()) }))
}

// profiles reads every stored profile of org from the bucket, by user id.
func profiles(t *testing.T, kv jetstream.KeyValue, org string) map[string]Profile {
	t.Helper()
	keys, err := kv.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Profile{}
	for k := range keys.Keys() {
		if k == cursorKey || !strings.HasPrefix(k, "p.") {
			continue
		}
		e, err := kv.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		var p Profile
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Org == org {
			out[p.UserID] = p
		}
	}
	return out
}

// golden compares got (as indented JSON) with testdata/name.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s: got\n%s\nwant the golden file (go test -run %s -update rewrites it after review)", path, b, t.Name())
	}
}

// withoutPositions blanks what depends on how the journal batched the
// events, for golden comparison.
func withoutPositions(ps map[string]Profile) map[string]Profile {
	for id, p := range ps {
		p.Position = 0
		for k, l := range p.Lists {
			for i := range l {
				l[i].FirstPos = 0
			}
			p.Lists[k] = l
		}
		ps[id] = p
	}
	return ps
}

// TestFoldOktaEvents folds the Okta fixture's 56 real-shaped events and
// compares every profile with the reviewed golden file.
func TestFoldOktaEvents(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	appendAll(t, j, oktaEvents(t, "acme"), 10)
	// The fixture has no MFA factor, app sign-on by a user, nor detection:
	// three events in its shape add them for john.doe.
	appendAll(t, j, parseAll(t, "acme", extraEvents...), 10)
	r := start(t, j, kv, Config{})
	caughtUp(t, j, r.s)
	r.stop()
	got := withoutPositions(profiles(t, kv, "acme"))
	golden(t, "okta-profiles.golden.json", got)

	// Spot checks that do not depend on reading the golden file.
	p := got["00uttidj01jqL21aM1d6"]
	if p.LastSignIn == nil || p.LastSignIn.Event != "user.session.start" {
		t.Errorf("john.doe last sign-in: got %+v, want a user.session.start", p.LastSignIn)
	}
	if _, ok := p.has(KindIP, "10.0.0.1"); !ok {
		t.Errorf("john.doe IPs: got %+v, want 10.0.0.1", p.Lists[KindIP])
	}
	if p.LastMFA == nil || p.LastMFA.Factor != "OKTA_VERIFY_PUSH" {
		t.Errorf("john.doe last MFA: got %+v, want OKTA_VERIFY_PUSH", p.LastMFA)
	}
	if _, ok := p.has(KindApp, "0oaua5ldoougycQAO696"); !ok {
		t.Errorf("john.doe apps: got %+v, want 0oaua5ldoougycQAO696", p.Lists[KindApp])
	}
	if len(p.Detections) != 1 || p.Detections[0].Count != 2 {
		t.Errorf("john.doe detections: got %+v, want one, raised twice", p.Detections)
	}
	if q := got["00abc123"]; len(q.AdminActions) != 0 {
		t.Errorf("homer's sign-in with a user target: got admin actions %+v, want none", q.AdminActions)
	}
}

// TestRestartResumes stops the fold halfway and starts a new store on the
// same bucket: it resumes after its checkpoint and counts every event
// once, as a single uninterrupted fold does.
func TestRestartResumes(t *testing.T) {
	evs := oktaEvents(t, "acme")
	half := len(evs) / 2

	// Reference: one fold over everything.
	jRef := journaltest.Open(t)
	kvRef := journaltest.KV(t, jRef, Bucket)
	appendAll(t, jRef, evs[:half], 7)
	appendAll(t, jRef, evs[half:], 7)
	ref := start(t, jRef, kvRef, Config{})
	caughtUp(t, jRef, ref.s)
	ref.stop()
	want := profiles(t, kvRef, "acme")

	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	appendAll(t, j, evs[:half], 7)
	first := start(t, j, kv, Config{})
	caughtUp(t, j, first.s)
	first.stop()
	cursor := first.s.Cursor()
	appendAll(t, j, evs[half:], 7)
	second := start(t, j, kv, Config{})
	if got := second.s.Cursor(); got != cursor {
		t.Errorf("checkpoint after restart: got %d, want %d", got, cursor)
	}
	caughtUp(t, j, second.s)
	second.stop()
	got := profiles(t, kv, "acme")
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("profiles: got %d, want %d", len(got), len(want))
	}
	for id, w := range want {
		g := got[id]
		if g.AsActor != w.AsActor || g.AsTarget != w.AsTarget || g.Position != w.Position {
			t.Errorf("%s: got actor %d target %d position %d, want %d %d %d", id, g.AsActor, g.AsTarget, g.Position, w.AsActor, w.AsTarget, w.Position)
		}
		if !slices.Equal(g.Lists[KindIP], w.Lists[KindIP]) {
			t.Errorf("%s IPs: got %+v, want %+v", id, g.Lists[KindIP], w.Lists[KindIP])
		}
	}
}

// TestCrashBeforeCheckpoint stores the profiles but not the checkpoint (a
// crash between the two): the next fold reads those messages again and
// folds none of their events twice.
func TestCrashBeforeCheckpoint(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	appendAll(t, j, oktaEvents(t, "acme"), 10)
	first := start(t, j, kv, Config{})
	caughtUp(t, j, first.s)
	first.stop()
	want := profiles(t, kv, "acme")
	// The crash: the checkpoint goes back to the start.
	if _, err := kv.Put(t.Context(), cursorKey, []byte("0")); err != nil {
		t.Fatal(err)
	}
	second := start(t, j, kv, Config{})
	caughtUp(t, j, second.s)
	second.stop()
	got := profiles(t, kv, "acme")
	for id, w := range want {
		if g := got[id]; g.AsActor != w.AsActor || g.AsTarget != w.AsTarget {
			t.Errorf("%s: got actor %d target %d, want %d %d (folded twice?)", id, g.AsActor, g.AsTarget, w.AsActor, w.AsTarget)
		}
	}
}

// TestApplyRedelivery applies the same message twice (a redelivery): the
// second changes nothing.
func TestApplyRedelivery(t *testing.T) {
	j := journaltest.Open(t)
	s, err := Open(t.Context(), Config{}, Deps{KV: journaltest.KV(t, j, Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	evs := oktaEvents(t, "acme")[:5]
	for i := range evs {
		evs[i].Seq = journal.Position(1, i)
	}
	var got []Profile
	for range 2 {
		if err := s.Apply(t.Context(), 1, evs); err != nil {
			t.Fatal(err)
		}
		p, ok, err := s.Profile(t.Context(), "acme", "00uttidj01jqL21aM1d6")
		if err != nil || !ok {
			t.Fatalf("profile: got %v %v, want it", ok, err)
		}
		got = append(got, p)
	}
	if got[0].AsActor == 0 {
		t.Fatalf("events as actor: got 0, want some")
	}
	a, _ := json.Marshal(got[0])
	b, _ := json.Marshal(got[1])
	if !bytes.Equal(a, b) {
		t.Errorf("after a redelivery: got\n%s\nwant unchanged\n%s", b, a)
	}
}

// rec builds an event of user u from ip at minute m, position pos.
func rec(u, ip, country string, m int, pos uint64) event.Record {
	pub := time.Date(2026, 12, 1, 10, m, 0, 0, time.UTC)
	data := fmt.Sprintf(`{"uuid":"e%d","eventType":"user.session.start","actor":{"id":%q,"type":"User","alternateId":"u@example.com"},`+
		`"client":{"ipAddress":%q,"geographicalContext":{"country":%q}},"outcome":{"result":"SUCCESS"}}`, pos, u, ip, country)
	return event.Record{Org: "acme", Seq: pos, Published: pub, EventType: "user.session.start", Data: []byte(data)}
}

// TestBoundsAndEviction folds more distinct IPs than the limit: the
// stalest go, each eviction is counted in the profile and the metric.
func TestBoundsAndEviction(t *testing.T) {
	j := journaltest.Open(t)
	s, err := Open(t.Context(), Config{Limits: Limits{Items: 3, Actions: 2}}, Deps{KV: journaltest.KV(t, j, Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Record
	for i := range 5 {
		evs = append(evs, rec("00uA", fmt.Sprintf("203.0.113.%d", i), "Norway", i, journal.Position(1, i)))
	}
	// 203.0.113.0 again, later: it is the freshest, 203.0.113.2 the stalest.
	evs = append(evs, rec("00uA", "203.0.113.0", "Norway", 9, journal.Position(1, 5)))
	if err := s.Apply(t.Context(), 1, evs); err != nil {
		t.Fatal(err)
	}
	p, _, _ := s.Profile(t.Context(), "acme", "00uA")
	var ips []string
	for _, it := range p.Lists[KindIP] {
		ips = append(ips, it.Value)
	}
	if want := []string{"203.0.113.3", "203.0.113.4", "203.0.113.0"}; !slices.Equal(ips, want) {
		t.Errorf("IPs kept: got %v, want %v", ips, want)
	}
	if got := p.Evicted[string(KindIP)]; got != 3 {
		t.Errorf("IP evictions: got %d, want 3", got)
	}
	if got := p.Evicted[string(KindCountry)]; got != 0 {
		t.Errorf("country evictions: got %d, want 0", got)
	}
	if got := counterValue(t, s.evicted.WithLabelValues(string(KindIP))); got != 3 {
		t.Errorf("metric auditstream_activity_evicted_total{list=ip}: got %v, want 3", got)
	}

	// Three admin actions with a limit of two: the newest two stay.
	var acts []event.Record
	for i := range 3 {
		pub := time.Date(2026, 12, 1, 11, i, 0, 0, time.UTC)
		data := fmt.Sprintf(`{"uuid":"g%d","eventType":"group.privilege.grant","actor":{"id":"00uA","type":"User"},"target":[{"id":"00g%d","type":"UserGroup"}]}`, i, i)
		acts = append(acts, event.Record{Org: "acme", Seq: journal.Position(2, i), Published: pub, Data: []byte(data)})
	}
	if err := s.Apply(t.Context(), 2, acts); err != nil {
		t.Fatal(err)
	}
	p, _, _ = s.Profile(t.Context(), "acme", "00uA")
	var uuids []string
	for _, a := range p.AdminActions {
		uuids = append(uuids, a.UUID)
	}
	if want := []string{"g2", "g1"}; !slices.Equal(uuids, want) {
		t.Errorf("admin actions kept: got %v, want %v (newest first)", uuids, want)
	}
	if got := p.Evicted["adminActions"]; got != 1 {
		t.Errorf("admin action evictions: got %d, want 1", got)
	}
}

// TestFirstSeen answers "first seen for this user" from the profile, the
// same before and after the fold reached the event asked about.
func TestFirstSeen(t *testing.T) {
	j := journaltest.Open(t)
	s, err := Open(t.Context(), Config{}, Deps{KV: journaltest.KV(t, j, Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	a := rec("00uA", "203.0.113.1", "Norway", 0, journal.Position(1, 0))
	b := rec("00uA", "203.0.113.2", "Sweden", 1, journal.Position(2, 0))
	if !s.FirstSeen(ctx, "acme", "00uA", KindCountry, "Norway", a.Seq) {
		t.Errorf("unknown user: got not first seen, want first seen")
	}
	if err := s.Apply(ctx, 1, []event.Record{a}); err != nil {
		t.Fatal(err)
	}
	// Asked about a itself after it was folded: still its first sighting.
	if !s.FirstSeen(ctx, "acme", "00uA", KindCountry, "Norway", a.Seq) {
		t.Errorf("Norway at its first event: got not first seen, want first seen")
	}
	if s.FirstSeen(ctx, "acme", "00uA", KindCountry, "Norway", b.Seq) {
		t.Errorf("Norway at a later event: got first seen, want not")
	}
	if !s.FirstSeen(ctx, "acme", "00uA", KindCountry, "Sweden", b.Seq) {
		t.Errorf("Sweden before b was folded: got not first seen, want first seen")
	}
	if err := s.Apply(ctx, 2, []event.Record{b}); err != nil {
		t.Fatal(err)
	}
	if !s.FirstSeen(ctx, "acme", "00uA", KindCountry, "Sweden", b.Seq) {
		t.Errorf("Sweden after b was folded: got not first seen, want first seen")
	}
	if !s.FirstSeen(ctx, "other", "00uA", KindCountry, "Norway", b.Seq) {
		t.Errorf("another org's user: got not first seen, want first seen (orgs are apart)")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestMissedMessagesCounted removes messages the fold has not read yet
// (retention): the next start says so in a metric.
func TestMissedMessagesCounted(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	evs := oktaEvents(t, "acme")
	appendAll(t, j, evs[:10], 5)
	first := start(t, j, kv, Config{})
	caughtUp(t, j, first.s)
	first.stop()
	cursor := first.s.Cursor()
	for i := 10; i < 30; i += 5 { // messages after the checkpoint
		appendAll(t, j, evs[i:i+5], 5)
	}
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if last < cursor+2 {
		t.Fatalf("journal: got last message %d, want at least %d", last, cursor+2)
	}
	// Retention removes every message but the last, unread ones included.
	if _, err := j.Purge(t.Context(), "", last); err != nil {
		t.Fatal(err)
	}
	second := start(t, j, kv, Config{})
	caughtUp(t, j, second.s)
	second.stop()
	if got, want := counterValue(t, second.s.missed), float64(last-cursor-1); got != want {
		t.Errorf("auditstream_activity_missed_messages_total: got %v, want %v (messages %d to %d)", got, want, cursor+1, last-1)
	}
	if got := counterValue(t, first.s.missed); got != 0 {
		t.Errorf("missed on a first start: got %v, want 0", got)
	}
}

// flakyKV fails its first n Gets as a bucket without a leader does.
type flakyKV struct {
	jetstream.KeyValue
	n atomic.Int32
}

func (f *flakyKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if f.n.Add(-1) >= 0 {
		return nil, nats.ErrNoResponders
	}
	return f.KeyValue.Get(ctx, key)
}

// TestOpenWaitsForTheBucket: a checkpoint read that finds no responders
// (a leader election at start on a cluster) is retried; Open then reads
// the stored checkpoint.
func TestOpenWaitsForTheBucket(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	if _, err := kv.Put(t.Context(), cursorKey, checkpoint([]uint64{42})); err != nil {
		t.Fatal(err)
	}
	f := &flakyKV{KeyValue: kv}
	f.n.Store(2)
	s, err := Open(t.Context(), Config{}, Deps{KV: f, Journal: j})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if got := s.cursor[0]; got != 42 {
		t.Errorf("cursor: got %d, want 42", got)
	}
}
