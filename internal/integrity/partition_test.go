package integrity_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// orgIn returns an org name in partition part of n.
func orgIn(t testing.TB, part, n int) string {
	t.Helper()
	for i := range 10000 {
		if o := fmt.Sprintf("org%d", i); journal.PartitionOfOrg(o, n) == part {
			return o
		}
	}
	t.Fatalf("no org in partition %d of %d", part, n)
	return ""
}

// partStream is the JetStream stream of org's partition.
func partStream(t *testing.T, j *journal.Journal, org string) jetstream.Stream {
	t.Helper()
	s, err := j.JetStream().Stream(t.Context(), j.PartitionFor(org).Stream())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verifyAll verifies every org's trail and returns the reports by org.
func verifyAll(t *testing.T, f *fixture) map[string]integrity.Report {
	t.Helper()
	reps, err := integrity.VerifyJournal(t.Context(), f.j, "", f.kr.Lookup(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]integrity.Report{}
	for _, r := range reps {
		out[r.Org] = r
	}
	return out
}

// TestPartitionsDigestAndVerify: on a journal of three partitions, orgs in
// partitions 0 and 2 (partition 2 much busier, so that its sequences run
// past partition 0's) are each digested up to their last event by every
// pass and verify; the digester keeps a cursor per partition; a retention
// purge in partition 2 verifies as a recorded removal at the position (with
// the partition's bits) of the first remaining event; tampering in
// partition 2 is found, and partition 0's org still verifies.
func TestPartitionsDigestAndVerify(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{Partitions: 3})
	f := newFixture(t, j, keyring(t, newKeys(t, "k1"), ""))
	tr := &integrity.Truncations{Journal: j, Keys: f.kr}
	j.SetPurgeHook(tr.Hook(integrity.ReasonRetention))
	a, c := orgIn(t, 0, 3), orgIn(t, 2, 3)

	appendAll(t, j, evs(t, a, "a", 150))
	for i := range 6 {
		appendAll(t, j, evs(t, c, fmt.Sprintf("c%d", i), 90))
	}
	f.pass(t)
	appendAll(t, j, evs(t, a, "b", 20))
	for i := range 3 {
		appendAll(t, j, evs(t, c, fmt.Sprintf("d%d", i), 90))
	}
	f.pass(t)
	reps := verifyAll(t, f)
	for _, tc := range []struct {
		org          string
		part, events int
	}{{a, 0, 170}, {c, 2, 810}} {
		org, part := tc.org, tc.part
		r := reps[org]
		// Events counts the first digest (covered by the second); the
		// second is the one event not digested yet.
		if !r.OK() || r.Digests != 2 || r.Events != tc.events+2 || r.Undigested != 1 {
			t.Errorf("org %s: got %s (%d digests, %d events, %d undigested), want verified with 2 digests of %d events and the first digest",
				org, r, r.Digests, r.Events, r.Undigested, tc.events)
		}
		if journal.PartitionOf(r.FirstPosition) != part || journal.PartitionOf(r.LastPosition) != part {
			t.Errorf("org %s: got positions %d…%d, want positions of partition %d", org, r.FirstPosition, r.LastPosition, part)
		}
	}
	// A cursor per partition, at the end of each partition's stream.
	kv := journaltest.KV(t, j, integrity.Bucket)
	for _, p := range j.Partitions() {
		key := "cursor"
		if p.Index() > 0 {
			key = fmt.Sprintf("cursor.p%d", p.Index())
		}
		e, err := kv.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("cursor of partition %d: %v", p.Index(), err)
		}
		u, err := p.Usage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The pass's last digests came after it read the stream.
		var seq uint64
		if _, err := fmt.Sscanf(string(e.Value()), `{"seq":%d`, &seq); err != nil || seq > u.LastSeq || (u.LastSeq > 2 && seq < u.LastSeq-2) {
			t.Errorf("cursor of partition %d: got %s, want about its last sequence %d", p.Index(), e.Value(), u.LastSeq)
		}
	}

	// Retention purges c's first two batches (partition 2).
	bs := batches(t, j, c)
	if _, err := j.Purge(t.Context(), c, bs[2].Seq); err != nil {
		t.Fatal(err)
	}
	appendAll(t, j, evs(t, c, "z", 3))
	f.pass(t)
	reps = verifyAll(t, f)
	r := reps[c]
	want := journal.Position(journal.PartitionSeq(2, bs[2].Seq), 0)
	if !r.OK() || len(r.Truncations) != 1 || r.Truncations[0].Reason != integrity.ReasonRetention || r.Truncations[0].RemovedBefore != want {
		t.Fatalf("after the purge: got %s %+v, want verified with one retention truncation before position %d", r, r.Truncations, want)
	}
	if !strings.Contains(r.String(), "removed by retention") {
		t.Errorf("got %q, want the removal shown as retention", r)
	}
	if !reps[a].OK() || len(reps[a].Truncations) != 0 {
		t.Errorf("org %s: got %s, want verified, nothing removed", a, reps[a])
	}

	// Tampering in partition 2: a batch deleted.
	bs = batches(t, j, c)
	if err := partStream(t, j, c).DeleteMsg(t.Context(), bs[3].Seq); err != nil {
		t.Fatal(err)
	}
	reps = verifyAll(t, f)
	r = reps[c]
	// The next message of c is the first pass's digest.
	next := journal.Position(journal.PartitionSeq(2, bs[3].Seq+1), 0)
	if !hasProblem(r, integrity.ProblemBrokenLink, next) {
		t.Errorf("after deleting a batch: got %s, want a broken link at the next message (position %d)", r, next)
	}
	if !reps[a].OK() {
		t.Errorf("org %s: got %s, want verified", a, reps[a])
	}
}

// TestPartitionsRecordedLossVerifies: truncation digests of partition 2's
// cuts (a loss the digester records, journal.Cut of partition 2) name
// positions of partition 2, and the trail verifies.
func TestPartitionsRecordedLossVerifies(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{Partitions: 3})
	f := newFixture(t, j, keyring(t, newKeys(t, "k1"), ""))
	c := orgIn(t, 2, 3)
	appendAll(t, j, evs(t, orgIn(t, 0, 3), "a", 5))
	appendAll(t, j, evs(t, c, "c", 250))
	f.pass(t)
	appendAll(t, j, evs(t, c, "x", 250))
	bs := batches(t, j, c)
	gone := bs[len(bs)-2]
	if err := partStream(t, j, c).DeleteMsg(t.Context(), gone.Seq); err != nil {
		t.Fatal(err)
	}
	after := bs[len(bs)-1]
	head, _ := journal.ChainedBatch(after.Data)
	tr := &integrity.Truncations{Journal: j, Keys: f.kr}
	if err := tr.Record(t.Context(), journal.Cut{Org: c, Partition: 2, KeepFrom: after.Seq, HeadAtCut: head}, integrity.ReasonLost); err != nil {
		t.Fatal(err)
	}
	r := f.verify(t, c)
	want := journal.Position(journal.PartitionSeq(2, after.Seq), 0)
	if !r.OK() || len(r.Truncations) != 1 || r.Truncations[0].Reason != integrity.ReasonLost || r.Truncations[0].RemovedBefore != want {
		t.Fatalf("got %s %+v, want verified with the loss before position %d", r, r.Truncations, want)
	}
	// The digest event itself names the partition's position.
	ev, ok := journaltest.Last(t, j, c, integrity.EventTruncation)
	if !ok {
		t.Fatal("no truncation digest")
	}
	sd, err := integrity.ParseDigestEvent(ev.Data)
	if err != nil || sd.RemovedBefore != want {
		t.Errorf("got removedBefore %d (%v), want %d", sd.RemovedBefore, err, want)
	}
}

// TestPartitionsVerifyThroughAPI: on a partitioned journal the batches
// endpoint pages through the org's partition (seq and nextSeq are
// sequences of its stream) and a tenant's verification sees every event.
func TestPartitionsVerifyThroughAPI(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{Partitions: 3})
	h := newAPIHarnessOn(t, j)
	// acme's partition, and traffic of an org in each other partition
	// before, so that acme's sequences are not the journal's first.
	part := journal.PartitionOfOrg("acme", 3)
	for k := range 3 {
		if k != part {
			appendAll(t, j, evs(t, orgIn(t, k, 3), fmt.Sprintf("o%d", k), 150))
		}
	}
	appendAll(t, j, evs(t, "acme", "a", 250))
	h.pass(t)
	appendAll(t, j, evs(t, "acme", "b", 120))
	h.pass(t)
	var seqs []uint64
	from := uint64(0)
	for range 20 {
		var page struct {
			Org     string                 `json:"org"`
			Batches []integrity.BatchEntry `json:"batches"`
			NextSeq uint64                 `json:"nextSeq"`
		}
		if code := h.get(t, h.acme, fmt.Sprintf("/api/v1/integrity/batches?fromSeq=%d&limit=2", from), &page); code != 200 {
			t.Fatalf("got %d", code)
		}
		for _, b := range page.Batches {
			m, err := b.Message()
			if err != nil {
				t.Fatal(err)
			}
			recs, err := journal.Decode(m, nil)
			if err != nil || len(recs) == 0 || recs[0].Org != "acme" || journal.PartitionOf(recs[0].Seq) != part {
				t.Fatalf("batch %d: got %v %v, want acme's events in partition %d", b.Seq, recs, err, part)
			}
			seqs = append(seqs, b.Seq)
		}
		if page.NextSeq == 0 {
			break
		}
		from = page.NextSeq
	}
	want := batches(t, j, "acme")
	if len(seqs) != len(want)+2 { // and its two digests
		t.Errorf("got %d batches %v, want acme's %d and 2 digests", len(seqs), seqs, len(want))
	}
	r, err := integrity.VerifyAPI(t.Context(), clientGet(h, h.acme), "", h.kr.Lookup(), nil)
	if err != nil || !r.OK() || r.Events != 372 || r.Undigested != 1 {
		t.Fatalf("got %s, %v, want acme's 372 events verified", r, err)
	}
	if err := partStream(t, j, "acme").DeleteMsg(t.Context(), want[1].Seq); err != nil {
		t.Fatal(err)
	}
	r, err = integrity.VerifyAPI(t.Context(), clientGet(h, h.acme), "", h.kr.Lookup(), nil)
	if err != nil || r.OK() {
		t.Fatalf("after deleting a batch: got %s, %v, want problems", r, err)
	}
}

// clientGet is an API client's GetJSON with token.
func clientGet(h *apiHarness, token string) integrity.Getter {
	return newClient(h.srv.URL, token).GetJSON
}

// TestPartitionsMaxAgeTruncationVerifies: events partition 2 drops by
// journal.maxAge are recorded by the digester (its cursor in partition 2
// sees that partition's first sequence move) and the trail verifies.
func TestPartitionsMaxAgeTruncationVerifies(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{Partitions: 3, MaxAge: 2 * time.Second, DuplicateWindow: time.Second})
	kr := keyring(t, newKeys(t, "k1"), "")
	dg := integrity.NewDigester(integrity.DigesterConfig{Interval: time.Minute, MaxAge: 2 * time.Second},
		integrity.DigesterDeps{Journal: j, Keys: kr, State: journaltest.KV(t, j, integrity.Bucket)})
	f := &fixture{j: j, kr: kr, dg: dg}
	c := orgIn(t, 2, 3)
	appendAll(t, j, evs(t, c, "old", 150))
	f.pass(t)
	wait.Eventually(t, "the old events to age out", func() bool {
		u, err := j.PartitionFor(c).Usage(t.Context())
		return err == nil && u.Msgs == 0
	}, wait.Within(20*time.Second), wait.Every(100*time.Millisecond))
	appendAll(t, j, evs(t, c, "new", 30))
	f.pass(t)
	r := f.verify(t, c)
	if !r.OK() || len(r.Truncations) != 1 || r.Truncations[0].Reason != integrity.ReasonMaxAge ||
		journal.PartitionOf(r.Truncations[0].RemovedBefore) != 2 {
		t.Fatalf("got %s %+v, want verified with a maxAge truncation in partition 2", r, r.Truncations)
	}
}
