package activity

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// orgIn returns an org name that journal partition part of n holds.
func orgIn(t *testing.T, part, n int) string {
	t.Helper()
	for i := range 1000 {
		if org := fmt.Sprintf("org%d", i); journal.PartitionOfOrg(org, n) == part {
			return org
		}
	}
	t.Fatalf("no org name in partition %d of %d", part, n)
	return ""
}

// lastSeqs is, per partition of j, its newest message sequence.
func lastSeqs(t *testing.T, j *journal.Journal) []uint64 {
	t.Helper()
	var out []uint64
	for _, p := range j.Partitions() {
		u, err := p.Usage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u.LastSeq)
	}
	return out
}

// caughtUpAll waits until s has stored every message of every partition
// of j.
func caughtUpAll(t *testing.T, j *journal.Journal, s *Store) {
	t.Helper()
	last := lastSeqs(t, j)
	wait.Eventually(t, fmt.Sprintf("the fold stored up to messages %v", last), func() bool {
		got := s.Cursors()
		for i := range last {
			if got[i] < last[i] {
				return false
			}
		}
		return true
	}, wait.Seen(func() string { return fmt.Sprintf("cursors %v", s.Cursors()) }))
}

// interleave alternates the events of a and b.
func interleave(a, b []event.Record) []event.Record {
	var out []event.Record
	for i := range max(len(a), len(b)) {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) {
			out = append(out, b[i])
		}
	}
	return out
}

// TestFoldPartitioned folds a journal of three partitions holding two
// orgs, in partitions 0 and 2, stopped halfway and restarted: every user
// of both orgs gets the profile a fold of an unpartitioned journal gives,
// each event counted once; the checkpoint has a cursor per partition, and
// FirstSeen and CoveredPos answer for positions of partition 2.
func TestFoldPartitioned(t *testing.T) {
	const n = 3
	org0, org2 := orgIn(t, 0, n), orgIn(t, 2, n)
	evs := interleave(oktaEvents(t, org0), oktaEvents(t, org2))
	half := len(evs) / 2

	// Reference: one fold of an unpartitioned journal.
	jRef := journaltest.Open(t)
	kvRef := journaltest.KV(t, jRef, Bucket)
	appendAll(t, jRef, evs, 7)
	ref := start(t, jRef, kvRef, Config{})
	caughtUp(t, jRef, ref.s)
	ref.stop()

	j := journaltest.OpenWith(t, journal.Options{Partitions: n})
	kv := journaltest.KV(t, j, Bucket)
	appendAll(t, j, evs[:half], 7)
	first := start(t, j, kv, Config{})
	caughtUpAll(t, j, first.s)
	first.stop()
	cursors := first.s.Cursors()
	if cursors[0] == 0 || cursors[2] == 0 || cursors[1] != 0 {
		t.Errorf("cursors after the first half: got %v, want partitions 0 and 2 above 0, partition 1 at 0", cursors)
	}
	e, err := kv.Get(t.Context(), cursorKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(e.Value()), string(checkpoint(cursors)); got != want || strings.Count(got, ",") != n-1 {
		t.Errorf("stored checkpoint: got %q, want %q (one cursor per partition)", got, want)
	}

	appendAll(t, j, evs[half:], 7)
	second := start(t, j, kv, Config{})
	if got := second.s.Cursors(); !slices.Equal(got, cursors) {
		t.Errorf("checkpoint after restart: got %v, want %v", got, cursors)
	}
	caughtUpAll(t, j, second.s)
	second.stop()

	for part, org := range map[int]string{0: org0, 2: org2} {
		want, got := profiles(t, kvRef, org), profiles(t, kv, org)
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s (partition %d) profiles: got %d, want %d", org, part, len(got), len(want))
		}
		for id, w := range want {
			g := got[id]
			if g.AsActor != w.AsActor || g.AsTarget != w.AsTarget {
				t.Errorf("%s %s: got actor %d target %d, want %d %d", org, id, g.AsActor, g.AsTarget, w.AsActor, w.AsTarget)
			}
			if gp := journal.PartitionOf(g.Position); gp != part {
				t.Errorf("%s %s: position %#x is of partition %d, want %d", org, id, g.Position, gp, part)
			}
			if len(g.Lists[KindIP]) != len(w.Lists[KindIP]) {
				t.Errorf("%s %s IPs: got %d, want %d", org, id, len(g.Lists[KindIP]), len(w.Lists[KindIP]))
			}
		}
	}

	// FirstSeen and CoveredPos on positions of partition 2.
	s, err := Open(t.Context(), Config{}, Deps{KV: kv, Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	var user string
	var ip Item
	for id, p := range profiles(t, kv, org2) {
		if l := p.Lists[KindIP]; len(l) > 0 && (user == "" || id < user) {
			user, ip = id, l[0]
		}
	}
	if user == "" {
		t.Fatalf("no profile of %s with an IP", org2)
	}
	if got := journal.PartitionOf(ip.FirstPos); got != 2 {
		t.Fatalf("%s %s first saw %s at %#x, of partition %d, want 2", org2, user, ip.Value, ip.FirstPos, got)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		value string
		pos   uint64
		want  bool
	}{
		{"at its first sighting", ip.Value, ip.FirstPos, true},
		{"after it", ip.Value, ip.FirstPos + 1, false},
		{"a value never seen", "192.0.2.99", ip.FirstPos + 1, true},
	} {
		if got := s.FirstSeen(ctx, org2, user, KindIP, tc.value, tc.pos); got != tc.want {
			t.Errorf("FirstSeen %s (%s at %#x): got %v, want %v", tc.name, tc.value, tc.pos, got, tc.want)
		}
	}
	last := lastSeqs(t, j)
	for _, tc := range []struct {
		name string
		pos  uint64
		want bool
	}{
		{"the first sighting", ip.FirstPos, true},
		{"partition 2's last message", journal.Position(journal.PartitionSeq(2, last[2]), 99), true},
		{"past partition 2's last message", journal.Position(journal.PartitionSeq(2, last[2]+1), 0), false},
		{"partition 1's first message (nothing folded)", journal.Position(journal.PartitionSeq(1, 1), 0), false},
		{"a partition the journal lacks", journal.Position(journal.PartitionSeq(5, 1), 0), false},
	} {
		if got := s.CoveredPos(tc.pos); got != tc.want {
			t.Errorf("CoveredPos(%s %#x): got %v, want %v", tc.name, tc.pos, got, tc.want)
		}
	}
}

// TestCheckpointOfOnePartition: with one partition the checkpoint is the
// single sequence a release before partitions wrote and read, and such a
// checkpoint resumes exactly after it.
func TestCheckpointOfOnePartition(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, Bucket)
	evs := oktaEvents(t, "acme")
	appendAll(t, j, evs[:20], 5)
	mid, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The previous release's checkpoint: every message up to mid folded.
	if _, err := kv.Put(t.Context(), cursorKey, []byte(strconv.FormatUint(mid, 10))); err != nil {
		t.Fatal(err)
	}
	appendAll(t, j, evs[20:30], 5)
	s := start(t, j, kv, Config{})
	if got := s.s.Cursors(); !slices.Equal(got, []uint64{mid}) {
		t.Errorf("cursors read from %q: got %v, want [%d]", strconv.FormatUint(mid, 10), got, mid)
	}
	caughtUp(t, j, s.s)
	s.stop()
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(t.Context(), cursorKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(e.Value()), strconv.FormatUint(last, 10); got != want {
		t.Errorf("stored checkpoint: got %q, want %q", got, want)
	}
	// Only the events after mid were folded: as a fold of them alone (the
	// fixture repeats some uuids: the journal's, not evs[20:30]).
	var after []event.Record
	for _, r := range journaltest.Records(t, j) {
		if journal.MsgSeqOf(r.Seq) > mid {
			after = append(after, r)
		}
	}
	jRef := journaltest.Open(t)
	kvRef := journaltest.KV(t, jRef, Bucket)
	appendAll(t, jRef, after, 5)
	ref := start(t, jRef, kvRef, Config{})
	caughtUp(t, jRef, ref.s)
	ref.stop()
	want, got := profiles(t, kvRef, "acme"), profiles(t, kv, "acme")
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("profiles after resuming at message %d: got %d, want %d", mid, len(got), len(want))
	}
	for id, w := range want {
		if g := got[id]; g.AsActor != w.AsActor || g.AsTarget != w.AsTarget {
			t.Errorf("%s: got actor %d target %d, want %d %d", id, g.AsActor, g.AsTarget, w.AsActor, w.AsTarget)
		}
	}
}

// TestMissedMessagesPerPartition removes messages of partition 2 the fold
// has not read yet: the next start counts them, and nothing of partition
// 0, whose messages are all there.
func TestMissedMessagesPerPartition(t *testing.T) {
	const n = 3
	org0, org2 := orgIn(t, 0, n), orgIn(t, 2, n)
	j := journaltest.OpenWith(t, journal.Options{Partitions: n})
	kv := journaltest.KV(t, j, Bucket)
	evs0, evs2 := oktaEvents(t, org0), oktaEvents(t, org2)
	appendAll(t, j, evs0[:10], 5)
	appendAll(t, j, evs2[:10], 5)
	first := start(t, j, kv, Config{})
	caughtUpAll(t, j, first.s)
	first.stop()
	cursors := first.s.Cursors()
	appendAll(t, j, evs0[10:30], 5)
	appendAll(t, j, evs2[10:30], 5)
	last := lastSeqs(t, j)
	if last[2] < cursors[2]+2 {
		t.Fatalf("partition 2: got last message %d, want at least %d", last[2], cursors[2]+2)
	}
	// Retention removes every message of partition 2 but its last.
	if _, err := j.Purge(t.Context(), org2, last[2]); err != nil {
		t.Fatal(err)
	}
	second := start(t, j, kv, Config{})
	caughtUpAll(t, j, second.s)
	second.stop()
	if got, want := counterValue(t, second.s.missed), float64(last[2]-cursors[2]-1); got != want {
		t.Errorf("auditstream_activity_missed_messages_total: got %v, want %v (partition 2's messages %d to %d)", got, want, cursors[2]+1, last[2]-1)
	}
}

func TestParseCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		stored string
		n      int
		want   []uint64 // nil: refused
	}{
		{"12", 1, []uint64{12}},
		{"0", 1, []uint64{0}},
		{"1,2,3", 3, []uint64{1, 2, 3}},
		{"12", 3, []uint64{12, 0, 0}}, // a single cursor is partition 0's
		{"1,2", 3, nil},
		{"1,2,3", 1, nil},
		{"x", 1, nil},
		{"1,,3", 3, nil},
	} {
		s := &Store{cursor: make([]uint64, tc.n)}
		err := s.parseCheckpoint(tc.stored)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%q with %d partitions: got cursors %v, want an error", tc.stored, tc.n, s.cursor)
		case tc.want != nil && err != nil:
			t.Errorf("%q with %d partitions: got %v, want %v", tc.stored, tc.n, err, tc.want)
		case tc.want != nil && !slices.Equal(s.cursor, tc.want):
			t.Errorf("%q with %d partitions: got %v, want %v", tc.stored, tc.n, s.cursor, tc.want)
		case tc.want != nil && tc.stored != "12" && string(checkpoint(tc.want)) != tc.stored:
			t.Errorf("checkpoint(%v): got %q, want %q", tc.want, checkpoint(tc.want), tc.stored)
		}
	}
}
