package detect

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// orgsInPartitions returns one org name in each of n partitions.
func orgsInPartitions(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	found := 0
	for i := 0; found < n && i < 10000; i++ {
		o := fmt.Sprintf("org%d", i)
		if k := journal.PartitionOfOrg(o, n); out[k] == "" {
			out[k] = o
			found++
		}
	}
	if found < n {
		t.Fatalf("found orgs in %d of %d partitions", found, n)
	}
	return out
}

// caughtUpAll waits until svc has evaluated every message of every
// partition of j.
func caughtUpAll(t *testing.T, j *journal.Journal, svc *Service) {
	t.Helper()
	var last []uint64
	wait.Eventually(t, "the runtime evaluated every partition", func() bool {
		last = last[:0]
		for _, p := range j.Partitions() {
			u, err := p.Usage(t.Context())
			if err != nil {
				return false
			}
			last = append(last, u.LastSeq)
		}
		pos := svc.Positions()
		if len(pos) != len(last) {
			return false
		}
		for i := range last {
			if pos[i] < last[i] {
				return false
			}
		}
		return true
	}, wait.Within(15*time.Second), wait.Seen(func() string { return fmt.Sprintf("positions %v, last %v", svc.Positions(), last) }))
}

// bruteForceByOrg counts the brute force detections in j by org.
func bruteForceByOrg(t *testing.T, j *journal.Journal) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, d := range detections(t, j) {
		if d.EventType == EventTypePrefix+"okta_brute_force_user" {
			out[d.Org]++
		}
	}
	return out
}

// On a journal of three partitions, orgs in each partition raise their
// brute force detection exactly once: the runtime reads every partition.
func TestServicePartitionsBruteForceOnce(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{Partitions: 3})
	orgs := orgsInPartitions(t, 3)
	svc, stop := startService(t, j, nativeRegistry(t), Config{}, nil)
	defer stop()
	start := recent()
	var recs []event.Record
	for i, o := range orgs {
		recs = append(recs, failuresEvery(o, "00uJANE", 6, start, time.Second, fmt.Sprintf("p%d-", i))...)
	}
	appendAll(t, j, recs)
	// Three brute force detections and their three alert-on-alert ones.
	waitRaised(t, svc, 6)
	caughtUpAll(t, j, svc)
	got := bruteForceByOrg(t, j)
	for _, o := range orgs {
		if got[o] != 1 {
			t.Errorf("org %s (partition %d): got %d brute force detections, want 1", o, journal.PartitionOfOrg(o, 3), got[o])
		}
	}
	if len(got) != len(orgs) {
		t.Errorf("got detections of orgs %v, want %v", got, orgs)
	}
}

// kill -9 mid-window on a journal of three partitions: the checkpoint
// holds a position per partition, and a new runtime resumes each partition
// from its own, raising each org's detection exactly once.
func TestServicePartitionsRestartMidWindowExactlyOnce(t *testing.T) {
	for _, crashAfterDetection := range []bool{false, true} {
		t.Run(fmt.Sprintf("crashAfterDetection=%v", crashAfterDetection), func(t *testing.T) {
			j := journaltest.OpenWith(t, journal.Options{Partitions: 3})
			orgs := orgsInPartitions(t, 3)
			// Orgs in partitions 0 and 2; partition 1 gets unrelated events
			// so that the partitions' sequences differ.
			a, c := orgs[0], orgs[2]
			reg := nativeRegistry(t)
			start := recent()
			ea := failuresEvery(a, "00uJANE", 5, start, time.Second, "a")
			ec := failuresEvery(c, "00uBOB", 5, start, time.Second, "c")
			for i := range 4 {
				appendAll(t, j, []event.Record{oktaEvent(orgs[1], fmt.Sprintf("x%d", i), "user.session.start", "SUCCESS", "00uX", start)})
			}
			appendAll(t, j, ea[:3])
			appendAll(t, j, ec[:1])
			appendAll(t, j, ec[1:3])
			svc, stop := startService(t, j, reg, Config{CheckpointInterval: time.Millisecond}, func(s *Service) { s.noFinalSave = true })
			caughtUpAll(t, j, svc)
			kv := journaltest.KV(t, j, BucketState)
			wait.Eventually(t, "a checkpoint covering 3 failures of each org", func() bool {
				cp, ok, err := loadCheckpoint(t.Context(), kv)
				if err != nil || !ok || len(cp.Seqs) != 3 {
					return false
				}
				pos := svc.Positions()
				for i := range pos {
					if cp.Seqs[i] < pos[i] {
						return false
					}
				}
				return cp.Seq == cp.Seqs[0]
			}, wait.Within(15*time.Second))
			if crashAfterDetection {
				svc.freezeCheckpoint.Store(true)
				appendAll(t, j, append(append([]event.Record{}, ea[3:]...), ec[3:]...))
				waitRaised(t, svc, 2)
				caughtUpAll(t, j, svc)
				stop()
			} else {
				stop()
				appendAll(t, j, append(append([]event.Record{}, ea[3:]...), ec[3:]...))
			}
			svc2, stop2 := startService(t, j, reg, Config{}, nil)
			defer stop2()
			if crashAfterDetection {
				caughtUpAll(t, j, svc2)
				if n := svc2.raised.Load(); n != 0 {
					t.Errorf("restarted runtime appended %d detections, want 0", n)
				}
			} else {
				waitRaised(t, svc2, 2)
			}
			caughtUpAll(t, j, svc2)
			got := bruteForceByOrg(t, j)
			if got[a] != 1 || got[c] != 1 || len(got) != 2 {
				t.Fatalf("got brute force detections %v, want exactly 1 for %s and %s", got, a, c)
			}
		})
	}
}

// With one partition the checkpoint is stored as before partitions (no
// per-partition sequences), so a data directory of the previous release
// resumes exactly and the previous release could read this one's.
func TestCheckpointOnePartitionFormat(t *testing.T) {
	j := journaltest.Open(t)
	appendAll(t, j, failuresEvery("acme", "00uJANE", 3, recent(), time.Second, "f"))
	svc, stop := startService(t, j, nativeRegistry(t), Config{}, nil)
	caughtUp(t, j, svc)
	stop()
	kv := journaltest.KV(t, j, BucketState)
	e, err := kv.Get(t.Context(), checkpointKey)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(e.Value()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2 || raw["seq"] == nil || raw["snapshot"] == nil {
		t.Errorf("got checkpoint members %v, want exactly seq and snapshot", keys(raw))
	}
	var seq uint64
	if err := json.Unmarshal(raw["seq"], &seq); err != nil || seq != svc.Position() {
		t.Errorf("got seq %s, want %d", raw["seq"], svc.Position())
	}
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A checkpoint's positions fit the journal's partition count, or it is
// not restored.
func TestCheckpointPositions(t *testing.T) {
	for _, tc := range []struct {
		name string
		cp   checkpoint
		n    int
		want []uint64
		ok   bool
	}{
		{"one partition, previous release", checkpoint{Seq: 7}, 1, []uint64{7}, true},
		{"three partitions", checkpoint{Seq: 7, Seqs: []uint64{7, 2, 9}}, 3, []uint64{7, 2, 9}, true},
		{"one partition's checkpoint on three", checkpoint{Seq: 7}, 3, []uint64{0, 0, 0}, false},
		{"three partitions' checkpoint on two", checkpoint{Seq: 7, Seqs: []uint64{7, 2, 9}}, 2, []uint64{0, 0}, false},
		{"three partitions' checkpoint on one", checkpoint{Seq: 7, Seqs: []uint64{7, 2, 9}}, 1, []uint64{0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.cp.positions(tc.n)
			if ok != tc.ok || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
