package integrity_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/integrity"
	"github.com/auditstream/auditstream/internal/integrity/integritytest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/wait"
)

func newKeys(t testing.TB, ids ...string) []integrity.KeySpec {
	t.Helper()
	var out []integrity.KeySpec
	for _, id := range ids {
		out = append(out, integritytest.Spec(t, id))
	}
	return out
}

func keyring(t testing.TB, specs []integrity.KeySpec, signing string) *integrity.Keyring {
	t.Helper()
	kr, err := integrity.NewKeyring(specs, signing)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func evs(t testing.TB, org, prefix string, n int) []event.Record {
	t.Helper()
	out := make([]event.Record, n)
	for i := range out {
		ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"%s-%d","eventType":"user.session.start","published":"2026-12-04T10:00:%02d.000Z","displayMessage":"event %d"}`,
			prefix, i, i%60, i), org, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ev
	}
	return out
}

func appendAll(t testing.TB, j *journal.Journal, recs []event.Record) {
	t.Helper()
	if _, err := j.Append(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	j   *journal.Journal
	kr  *integrity.Keyring
	dg  *integrity.Digester
	reg *prometheus.Registry
}

func newFixture(t *testing.T, j *journal.Journal, kr *integrity.Keyring) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	kv := journaltest.KV(t, j, integrity.Bucket)
	dg := integrity.NewDigester(integrity.DigesterConfig{Interval: time.Minute, SystemOrg: "default"},
		integrity.DigesterDeps{Journal: j, Keys: kr, State: kv, Registry: reg})
	return &fixture{j: j, kr: kr, dg: dg, reg: reg}
}

func (f *fixture) pass(t *testing.T) []integrity.SignedDigest {
	t.Helper()
	out, err := f.dg.Pass(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) verify(t *testing.T, org string, expect ...[]byte) integrity.Report {
	t.Helper()
	reps, err := integrity.VerifyJournal(t.Context(), f.j, org, f.kr.Lookup(), expect)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 {
		t.Fatalf("got %d reports, want 1", len(reps))
	}
	return reps[0]
}

// batches returns the journal's messages of org's record batches (not
// digests) in order.
func batches(t *testing.T, j *journal.Journal, org string) []journal.Message {
	t.Helper()
	var out []journal.Message
	err := j.ScanMessages(t.Context(), org, journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		recs, _ := journal.Decode(m, nil)
		if len(recs) > 0 && !integrity.IsDigestType(recs[0].EventType) {
			m.Data = bytes.Clone(m.Data)
			out = append(out, m)
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kinds(r integrity.Report) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.Kind)
	}
	return out
}

func hasProblem(r integrity.Report, kind string, pos uint64) bool {
	for _, p := range r.Problems {
		if p.Kind == kind && (pos == 0 || p.Position == pos) {
			return true
		}
	}
	return false
}

// populate writes two digested rounds for acme (and traffic of globex in
// between) and returns the digests.
func populate(t *testing.T, f *fixture) []integrity.SignedDigest {
	t.Helper()
	appendAll(t, f.j, evs(t, "acme", "a", 250))
	appendAll(t, f.j, evs(t, "globex", "g", 30))
	d1 := f.pass(t)
	appendAll(t, f.j, evs(t, "acme", "b", 120))
	d2 := f.pass(t)
	return append(d1, d2...)
}

// TestVerifyUntouched: an untouched trail verifies, every event counted,
// and digests chain; an org's only new events being its digests gives no
// new digest.
func TestVerifyUntouched(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	ds := populate(t, f)
	if len(ds) != 3 || ds[0].Org != "acme" || ds[1].Org != "globex" || ds[2].Org != "acme" {
		t.Fatalf("digests: got %d, want acme, globex, acme", len(ds))
	}
	if ds[0].Count != 250 || ds[2].PrevDigest != ds[0].Hash() || ds[2].Count != 121 {
		t.Errorf("digests: got counts %d, %d and prev %q, want 250, 121 (with the first digest) and %q", ds[0].Count, ds[2].Count, ds[2].PrevDigest, ds[0].Hash())
	}
	if again := f.pass(t); len(again) != 0 {
		t.Errorf("a pass with only digests new: got %d digests, want none", len(again))
	}
	r := f.verify(t, "acme")
	if !r.OK() || r.Events != 372 || r.Digests != 2 || r.Undigested != 1 {
		t.Fatalf("got %s(%+v), want 372 events, 2 digests, the last digest undigested", r, r)
	}
	if !strings.Contains(r.String(), "verified 372 events from 2026-12-04T10:00:00Z to") {
		t.Errorf("summary: got %q", r.String())
	}
	if g := f.verify(t, "globex"); !g.OK() || g.Events != 31 {
		t.Errorf("globex: got %s", g)
	}
}

// TestTamperDetected: each way of changing the journal by hand is
// reported, at the place it happened.
func TestTamperDetected(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, f *fixture, bs []journal.Message)
		want   []string // problem kinds that must be reported
	}{
		{"delete a batch", func(t *testing.T, f *fixture, bs []journal.Message) {
			if err := stream(t, f.j).DeleteMsg(t.Context(), bs[1].Seq); err != nil {
				t.Fatal(err)
			}
		}, []string{integrity.ProblemBrokenLink, integrity.ProblemMissing}},
		{"modify an event (delete and publish a changed copy)", func(t *testing.T, f *fixture, bs []journal.Message) {
			b := bytes.Replace(bs[1].Data, []byte("event 120"), []byte("event 666"), 1)
			if bytes.Equal(b, bs[1].Data) {
				t.Fatal("nothing to change")
			}
			if err := stream(t, f.j).DeleteMsg(t.Context(), bs[1].Seq); err != nil {
				t.Fatal(err)
			}
			if _, err := f.j.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: bs[1].Subject, Data: b}); err != nil {
				t.Fatal(err)
			}
		}, []string{integrity.ProblemBrokenLink, integrity.ProblemMissing}},
		{"forge a digest", func(t *testing.T, f *fixture, bs []journal.Message) {
			other := keyring(t, newKeys(t, "k1"), "")
			ev, _, err := integrity.DigestEvent(other, integrity.Digest{Kind: integrity.KindDigest, Org: "acme", Count: 1}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, f.j, []event.Record{ev})
		}, []string{integrity.ProblemSignature}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Uncompressed batches, so that a tamper can change an
			// event's bytes in place (a tamperer of compressed ones
			// decompresses first; the chain is over the JSON either way).
			j := journaltest.OpenWith(t, journal.Options{Compression: journal.CompressNone})
			f := newFixture(t, j, keyring(t, newKeys(t, "k1"), ""))
			populate(t, f)
			bs := batches(t, f.j, "acme")
			if r := f.verify(t, "acme"); !r.OK() {
				t.Fatalf("before: got %s", r)
			}
			tt.tamper(t, f, bs)
			r := f.verify(t, "acme")
			for _, k := range tt.want {
				if !hasProblem(r, k, 0) {
					t.Errorf("got problems %v, want %s among them:\n%s", kinds(r), k, r)
				}
			}
			if r.OK() || !strings.Contains(r.String(), "FAILED") {
				t.Errorf("summary: got %q, want FAILED", r)
			}
		})
	}
}

// TestDeleteNamesPosition: a deleted batch is reported as the broken link
// of the batch after it (position and uuid), and the digest that covered
// it names how many events are missing.
func TestDeleteNamesPosition(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	populate(t, f)
	bs := batches(t, f.j, "acme")
	if err := stream(t, f.j).DeleteMsg(t.Context(), bs[1].Seq); err != nil {
		t.Fatal(err)
	}
	r := f.verify(t, "acme")
	next, _ := journal.Decode(bs[2], nil)
	if len(r.Problems) == 0 || r.Problems[0].Kind != integrity.ProblemMissing && r.Problems[0].Kind != integrity.ProblemBrokenLink {
		t.Fatalf("got %s", r)
	}
	if !hasProblem(r, integrity.ProblemBrokenLink, next[0].Seq) {
		t.Errorf("got %s, want the broken link at position %d (uuid %s)", r, next[0].Seq, next[0].UUID)
	}
	if !strings.Contains(r.String(), "100 are missing") {
		t.Errorf("got %s, want 100 events reported missing", r)
	}
	// The digester finds the break too, loudly.
	appendAll(t, f.j, evs(t, "acme", "c", 5))
	if _, err := f.dg.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The digester goes on from its last digest, after the deleted
	// batch: a batch deleted after it is what it finds.
	appendAll(t, f.j, evs(t, "acme", "d", 5))
	bs = batches(t, f.j, "acme")
	if err := stream(t, f.j).DeleteMsg(t.Context(), bs[len(bs)-1].Seq); err != nil {
		t.Fatal(err)
	}
	appendAll(t, f.j, evs(t, "acme", "e", 5))
	ds := f.pass(t)
	if len(ds) != 1 || len(ds[0].Breaks) != 1 {
		t.Fatalf("got %d digests, want one recording one break", len(ds))
	}
	if got := counter(t, f.reg, "auditstream_integrity_chain_breaks_total"); got < 1 {
		t.Errorf("chain breaks metric: got %v, want at least 1", got)
	}
	if _, ok := journaltest.Last(t, f.j, "acme", integrity.EventChainBroken); !ok {
		t.Error("no system.integrity.chain_broken event in the org")
	}
}

// TestDropInTheMiddleNamesTheRange: one message deleted by hand through
// the JetStream API from the middle of an org's trail (other orgs'
// messages around it) is reported with the range it held: the events
// after the org's last event before it and before the next batch, and how
// many the signed digest counts that the journal no longer holds. The
// other org's trail still verifies.
func TestDropInTheMiddleNamesTheRange(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	for i := range 9 {
		appendAll(t, f.j, evs(t, "acme", string(rune('a'+i)), 100))
		appendAll(t, f.j, evs(t, "globex", string(rune('a'+i)), 10))
	}
	f.pass(t)
	bs := batches(t, f.j, "acme")
	if len(bs) != 9 {
		t.Fatalf("got %d batches of acme, want 9", len(bs))
	}
	before, _ := journal.Decode(bs[3], nil)
	gone, _ := journal.Decode(bs[4], nil)
	after, _ := journal.Decode(bs[5], nil)
	from, to := before[len(before)-1].Seq, after[0].Seq
	if err := stream(t, f.j).DeleteMsg(t.Context(), bs[4].Seq); err != nil {
		t.Fatal(err)
	}
	r := f.verify(t, "acme")
	if !hasProblem(r, integrity.ProblemBrokenLink, to) {
		t.Fatalf("got %s, want the broken link at position %d (uuid %s)", r, to, after[0].UUID)
	}
	want := fmt.Sprintf("events after position %d and before %d were removed", from, to)
	if !strings.Contains(r.String(), want) {
		t.Errorf("got %s, want %q", r, want)
	}
	if g := gone[0].Seq; g <= from || gone[len(gone)-1].Seq >= to {
		t.Errorf("the deleted batch holds positions %d to %d, outside the reported range (%d, %d)", g, gone[len(gone)-1].Seq, from, to)
	}
	// Events counts the org's digest event too.
	if !strings.Contains(r.String(), "100 are missing") || r.Events != 801 {
		t.Errorf("got %s (%d events), want 800 events and the digest, and 100 reported missing", r, r.Events)
	}
	if r := f.verify(t, "globex"); !r.OK() || r.Events != 91 {
		t.Errorf("globex: got %s, want its 90 events and its digest verified", r)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestRollbackDetectedWithAKeptDigest: removing the journal's newest
// messages (digest included) leaves a consistent chain; a digest kept
// outside the journal (exported, or fetched by the auditor) shows the
// rollback.
func TestRollbackDetectedWithAKeptDigest(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	ds := populate(t, f)
	kept := ds[len(ds)-1]
	// Roll back: everything from the last round on goes.
	bs := batches(t, f.j, "acme")
	last, _ := f.j.LastSeq(t.Context())
	for seq := bs[len(bs)-2].Seq; seq <= last; seq++ {
		_ = stream(t, f.j).DeleteMsg(t.Context(), seq)
	}
	if r := f.verify(t, "acme"); !r.OK() {
		t.Fatalf("without the kept digest: got %s, want a consistent (shorter) trail", r)
	}
	r := f.verify(t, "acme", kept.Envelope)
	if !hasProblem(r, integrity.ProblemRolledBack, kept.LastPosition) {
		t.Errorf("got %s, want rolled back at position %d", r, kept.LastPosition)
	}
}

// TestRetentionTruncationVerifies: a purge by retention, or an
// operator's (journal.PurgeFor), recorded by the purge hook, verifies as
// a truncation with its reason; the same purge unrecorded is reported as
// missing events.
func TestRetentionTruncationVerifies(t *testing.T) {
	tests := []struct {
		name     string
		recorded bool
		reason   string // "" purges by retention (journal.Purge)
		want     string
	}{
		{"retention", true, "", "removed by retention (journal.maxBytes)"},
		{"operator's purge", true, integrity.ReasonPurge, "removed by an operator's purge"},
		{"unrecorded", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
			if tt.recorded {
				tr := &integrity.Truncations{Journal: f.j, Keys: f.kr}
				f.j.SetPurgeHook(tr.Hook(integrity.ReasonRetention))
			}
			populate(t, f)
			bs := batches(t, f.j, "acme")
			if _, err := f.j.PurgeFor(t.Context(), "", bs[2].Seq, tt.reason); err != nil {
				t.Fatal(err)
			}
			appendAll(t, f.j, evs(t, "acme", "z", 3))
			f.pass(t)
			r := f.verify(t, "acme")
			if !tt.recorded {
				if !hasProblem(r, integrity.ProblemMissing, 0) {
					t.Errorf("got %s, want missing events", r)
				}
				return
			}
			if !r.OK() || len(r.Truncations) != 1 || !strings.Contains(r.String(), tt.want) {
				t.Fatalf("got %s, want it verified with one truncation %q", r, tt.want)
			}
		})
	}
}

// TestKeyRotation: digests signed before a rotation verify with the old
// key kept for verification; new ones are signed with the new key.
func TestKeyRotation(t *testing.T) {
	specs := newKeys(t, "old", "new")
	j := journaltest.Open(t)
	f := newFixture(t, j, keyring(t, specs[:1], ""))
	appendAll(t, j, evs(t, "acme", "a", 10))
	d1 := f.pass(t)
	rotated := keyring(t, specs, "new")
	f2 := &fixture{j: j, kr: rotated, dg: integrity.NewDigester(integrity.DigesterConfig{Interval: time.Minute},
		integrity.DigesterDeps{Journal: j, Keys: rotated, State: journaltest.KV(t, j, integrity.Bucket)})}
	appendAll(t, j, evs(t, "acme", "b", 10))
	d2 := f2.pass(t)
	if len(d1) != 1 || len(d2) != 1 || d1[0].KeyID != "old" || d2[0].KeyID != "new" {
		t.Fatalf("got key ids %v, %v, want old then new", d1, d2)
	}
	if r := f2.verify(t, "acme"); !r.OK() || r.Digests != 2 {
		t.Errorf("with both keys: got %s", r)
	}
	onlyNew := keyring(t, specs[1:], "")
	reps, err := integrity.VerifyJournal(t.Context(), j, "acme", onlyNew.Lookup(), nil)
	if err != nil || len(reps) != 1 || !hasProblem(reps[0], integrity.ProblemSignature, 0) {
		t.Errorf("without the old key: got %v, %v, want the old digest unverifiable", reps, err)
	}
}

// TestChainContinuesAcrossRestart: a journal reopened on its directory
// continues each org's chain from its last batch.
func TestChainContinuesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	kr := keyring(t, newKeys(t, "k1"), "")
	j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
	appendAll(t, j, evs(t, "acme", "a", 150))
	j.Close()
	j = journaltest.OpenWith(t, journal.Options{DataDir: dir})
	appendAll(t, j, evs(t, "acme", "b", 50))
	f := newFixture(t, j, kr)
	f.pass(t)
	r := f.verify(t, "acme")
	if !r.OK() || r.Events != 201 {
		t.Fatalf("got %s, want 201 events verified", r)
	}
	if bs := batches(t, j, "acme"); len(bs) != 3 {
		t.Fatalf("got %d batches, want 3", len(bs))
	}
}

// TestTwoWritersOneChain: two journals writing one stream (two nodes)
// keep one chain per org: each batch stores the head after the batch
// before it, whichever node wrote it.
func TestTwoWritersOneChain(t *testing.T) {
	srv := journaltest.StartNATS(t, nil)
	a := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	b := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	var wg sync.WaitGroup
	for w, j := range []*journal.Journal{a, b, a, b} {
		wg.Go(func() {
			for r := range 15 {
				for _, org := range []string{"acme", "globex"} {
					// Under this much contention a group can be fenced more
					// often than the writer retries (a limit of the writer,
					// not of the chain): the caller appends again, which
					// uuids make safe.
					var err error
					for range 10 {
						if _, err = j.Append(t.Context(), evs(t, org, fmt.Sprintf("w%d-r%d", w, r), 40)); err == nil {
							break
						}
					}
					if err != nil {
						t.Errorf("append: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	f := newFixture(t, a, keyring(t, newKeys(t, "k1"), ""))
	f.pass(t)
	for _, org := range []string{"acme", "globex"} {
		r := f.verify(t, org)
		if !r.OK() || r.Events != 4*15*40+1 {
			t.Errorf("%s: got %s, want %d events verified", org, r, 4*15*40+1)
		}
	}
}

// TestUnchainedBatchesStayReadable: batches written before the chain
// (flags 0) and version 1 messages decode as before; the chain starts at
// the first chained batch.
func TestUnchainedBatchesStayReadable(t *testing.T) {
	j := journaltest.Open(t)
	journaltest.AppendLegacy(t, j, evs(t, "acme", "legacy", 3))
	appendAll(t, j, evs(t, "acme", "a", 5))
	f := newFixture(t, j, keyring(t, newKeys(t, "k1"), ""))
	f.pass(t)
	r := f.verify(t, "acme")
	if !r.OK() || r.Events != 6 || r.Unchained != 3 {
		t.Errorf("got %s (%+v), want 6 chained events and 3 unchained", r, r)
	}
}

func stream(t *testing.T, j *journal.Journal) jetstream.Stream {
	t.Helper()
	s, err := j.JetStream().Stream(t.Context(), j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMaxAgeTruncationVerifies: events JetStream drops by journal.maxAge
// are recorded by the digester in a truncation digest (maxAge), and the
// trail verifies with the drop shown as a policy deletion.
func TestMaxAgeTruncationVerifies(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{MaxAge: 2 * time.Second, DuplicateWindow: time.Second})
	kr := keyring(t, newKeys(t, "k1"), "")
	dg := integrity.NewDigester(integrity.DigesterConfig{Interval: time.Minute, MaxAge: 2 * time.Second},
		integrity.DigesterDeps{Journal: j, Keys: kr, State: journaltest.KV(t, j, integrity.Bucket)})
	f := &fixture{j: j, kr: kr, dg: dg}
	appendAll(t, j, evs(t, "acme", "old", 150))
	f.pass(t)
	wait.Eventually(t, "the old events to age out", func() bool {
		u, err := j.Usage(t.Context())
		return err == nil && u.Msgs == 0
	}, wait.Within(20*time.Second), wait.Every(100*time.Millisecond))
	// New events right after, digested before they age out too.
	appendAll(t, j, evs(t, "acme", "new", 30))
	f.pass(t)
	r := f.verify(t, "acme")
	if !r.OK() || len(r.Truncations) != 1 || r.Truncations[0].Reason != integrity.ReasonMaxAge {
		t.Fatalf("got %s, want verified with a maxAge truncation", r)
	}
}

// TestRecordedLossVerifies: a gap in the chain that a signed truncation
// digest records (reason lost: what the digester writes for a range the
// journal found missing at start) is reported as a recorded removal, not
// a broken link; the same gap unrecorded is a broken link.
func TestRecordedLossVerifies(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	populate(t, f)
	appendAll(t, f.j, evs(t, "acme", "x", 250)) // three batches, not digested
	bs := batches(t, f.j, "acme")
	gone := bs[len(bs)-2]
	if err := stream(t, f.j).DeleteMsg(t.Context(), gone.Seq); err != nil {
		t.Fatal(err)
	}
	r := f.verify(t, "acme")
	if !hasProblem(r, integrity.ProblemBrokenLink, 0) {
		t.Fatalf("unrecorded: got %s, want a broken link", r)
	}
	after := bs[len(bs)-1]
	head, _ := journal.ChainedBatch(after.Data)
	tr := &integrity.Truncations{Journal: f.j, Keys: f.kr}
	if err := tr.Record(t.Context(), journal.Cut{Org: "acme", KeepFrom: after.Seq, HeadAtCut: head}, integrity.ReasonLost); err != nil {
		t.Fatal(err)
	}
	r = f.verify(t, "acme")
	if !r.OK() || len(r.Truncations) != 1 || r.Truncations[0].Reason != integrity.ReasonLost {
		t.Fatalf("recorded: got %s, want verified with the loss shown", r)
	}
}

// TestOneDigesterInACluster: two nodes run the digester on one journal;
// the lease lets one digest at a time, so the org's digests form one
// chain and the trail verifies.
func TestOneDigesterInACluster(t *testing.T) {
	srv := journaltest.StartNATS(t, nil)
	kr := keyring(t, newKeys(t, "k1"), "")
	var js []*journal.Journal
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, node := range []string{"a", "b"} {
		j := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
		js = append(js, j)
		leases := lease.New(lease.Config{KV: journaltest.KV(t, j, lease.Bucket), Node: node, TTL: 600 * time.Millisecond})
		dg := integrity.NewDigester(integrity.DigesterConfig{Interval: 100 * time.Millisecond},
			integrity.DigesterDeps{Journal: j, Keys: kr, State: journaltest.KV(t, j, integrity.Bucket), Leases: leases})
		wg.Go(func() { dg.Run(ctx) })
	}
	for r := range 15 {
		appendAll(t, js[r%2], evs(t, "acme", fmt.Sprintf("r%d", r), 20))
		time.Sleep(50 * time.Millisecond) // traffic spread over several digest intervals, not an assertion
	}
	f := &fixture{j: js[0], kr: kr}
	wait.Eventually(t, "every event digested", func() bool {
		r := f.verify(t, "acme")
		return r.Undigested <= 1
	}, wait.Within(10*time.Second), wait.Every(100*time.Millisecond))
	cancel()
	wg.Wait()
	r := f.verify(t, "acme")
	if !r.OK() || r.Digests < 2 {
		t.Fatalf("got %s, want one chain of several digests", r)
	}
}

// TestRecordLoss: gaps in the range the journal reported lost at start
// are recorded once, signed, and verify as a recorded loss, also inside
// an already digested range; a gap outside the range stays a problem.
func TestRecordLoss(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	populate(t, f)
	appendAll(t, f.j, evs(t, "acme", "x", 250))
	bs := batches(t, f.j, "acme")
	for _, m := range []journal.Message{bs[1], bs[len(bs)-2]} { // digested, and not
		if err := stream(t, f.j).DeleteMsg(t.Context(), m.Seq); err != nil {
			t.Fatal(err)
		}
	}
	// Only the first gap is in the range the journal reported lost.
	lost := journal.Lost{Count: 1, FirstSeq: bs[1].Seq, LastSeq: bs[1].Seq}
	n, err := integrity.RecordLoss(t.Context(), f.j, f.kr, lost, nil)
	if err != nil || n != 1 {
		t.Fatalf("got %d, %v, want 1 gap recorded", n, err)
	}
	if n, err := integrity.RecordLoss(t.Context(), f.j, f.kr, lost, nil); err != nil || n != 0 {
		t.Fatalf("again: got %d, %v, want none (already recorded)", n, err)
	}
	r := f.verify(t, "acme")
	if len(r.Truncations) != 1 || r.Truncations[0].Reason != integrity.ReasonLost {
		t.Fatalf("got %s, want the loss recorded", r)
	}
	next, _ := journal.Decode(bs[len(bs)-1], nil)
	if len(r.Problems) != 1 || r.Problems[0].Kind != integrity.ProblemBrokenLink || r.Problems[0].Position != next[0].Seq {
		t.Fatalf("got %s, want only the unrecorded gap at position %d", r, next[0].Seq)
	}
	if !strings.Contains(r.String(), "a loss the journal found at start") {
		t.Errorf("summary: got %s", r)
	}
}

// TestDigesterStateLost: a digester whose state bucket lost the org's
// entry goes on from the org's last digest in the journal, so the
// digests stay one chain.
func TestDigesterStateLost(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	populate(t, f)
	kv := journaltest.KV(t, f.j, integrity.Bucket)
	for _, k := range []string{"org.acme", "cursor"} {
		if err := kv.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	appendAll(t, f.j, evs(t, "acme", "after", 7))
	ds := f.pass(t)
	var acme *integrity.SignedDigest
	for i := range ds {
		if ds[i].Org == "acme" {
			acme = &ds[i]
		}
	}
	if acme == nil || acme.Count != 8 {
		t.Fatalf("got %+v, want a digest of acme's 7 new events and the last digest", acme)
	}
	if r := f.verify(t, "acme"); !r.OK() || r.Digests != 3 {
		t.Fatalf("got %s, want one chain of 3 digests", r)
	}
}

// TestDigesterFindsJournalBehind: a journal that ends before what the
// digester already digested (restored from an older copy) is reported:
// metric, and an ERROR event in the system org.
func TestDigesterFindsJournalBehind(t *testing.T) {
	f := newFixture(t, journaltest.Open(t), keyring(t, newKeys(t, "k1"), ""))
	populate(t, f)
	last, err := f.j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// As if the journal's files were replaced by an older copy: the
	// digester's cursor is past its end.
	if _, err := journaltest.KV(t, f.j, integrity.Bucket).Put(t.Context(), "cursor", fmt.Appendf(nil, `{"seq":%d}`, last+50)); err != nil {
		t.Fatal(err)
	}
	f.pass(t)
	if got := counter(t, f.reg, "auditstream_integrity_rollbacks_total"); got != 1 {
		t.Errorf("rollbacks metric: got %v, want 1", got)
	}
	ev, ok := journaltest.Last(t, f.j, "default", integrity.EventChainBroken)
	if !ok || !strings.Contains(string(ev.Data), "rolled back") {
		t.Errorf("system event: got %v %s, want a chain_broken event naming the rollback", ok, ev.Data)
	}
}
