package journal_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// orgsPerPartition returns, for a journal of n partitions, one org name
// per partition (found by trying names; the hash is stable).
func orgsPerPartition(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	found := 0
	for i := 0; found < n && i < 1000; i++ {
		org := fmt.Sprintf("org%d", i)
		if p := journal.PartitionOfOrg(org, n); out[p] == "" {
			out[p] = org
			found++
		}
	}
	if found < n {
		t.Fatalf("no org for every one of %d partitions", n)
	}
	return out
}

// With one partition the journal is what it was before partitions: stream
// AUDIT on audit.>, positions without partition bits.
func TestOnePartitionLayoutUnchanged(t *testing.T) {
	j := journaltest.Open(t)
	if got := len(j.Partitions()); got != 1 {
		t.Fatalf("partitions: got %d, want 1", got)
	}
	info, err := j.Partitions()[0].Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Name != "AUDIT" || !slices.Equal(info.Config.Subjects, []string{"audit.>"}) {
		t.Errorf("stream: got %s %v, want AUDIT [audit.>]", info.Config.Name, info.Config.Subjects)
	}
	if _, err := j.Append(t.Context(), events(t, "acme", "a", 3, 10)); err != nil {
		t.Fatal(err)
	}
	recs := journaltest.Records(t, j)
	for i, r := range recs {
		if want := journal.Position(1, i); r.Seq != want {
			t.Errorf("event %d: got position %d, want %d", i, r.Seq, want)
		}
	}
	names := j.JetStream().StreamNames(t.Context())
	var got []string
	for n := range names.Name() {
		got = append(got, n)
	}
	slices.Sort(got)
	if want := []string{"AUDIT", "AUDIT_DEADLETTER"}; !slices.Equal(got, want) {
		t.Errorf("streams: got %v, want %v", got, want)
	}
}

func TestPositionsCarryThePartition(t *testing.T) {
	for _, tt := range []struct {
		part  int
		seq   uint64
		index int
	}{{0, 1, 0}, {0, 1<<48 - 1, 255}, {2, 7, 99}, {255, 1<<48 - 1, 255}} {
		pos := journal.Position(journal.PartitionSeq(tt.part, tt.seq), tt.index)
		seq, index := journal.SplitPosition(pos)
		if journal.PartitionOf(pos) != tt.part || seq != tt.seq || index != tt.index || journal.MsgSeqOf(pos) != tt.seq {
			t.Errorf("%+v: got partition %d seq %d index %d", tt, journal.PartitionOf(pos), seq, index)
		}
	}
	if got := journal.Position(journal.PartitionSeq(0, 5), 3); got != journal.Position(5, 3) {
		t.Errorf("partition 0: got %d, want %d", got, journal.Position(5, 3))
	}
	if got := journal.PartitionOfSubject("audit_p2.acme"); got != 2 {
		t.Errorf("PartitionOfSubject: got %d, want 2", got)
	}
	for _, s := range []string{"audit.acme", "audit_p2.acme", "audit.acme.user.session"} {
		if got := journal.OrgOfSubject(s); got != "acme" {
			t.Errorf("OrgOfSubject(%s): got %q, want acme", s, got)
		}
	}
}

// checkPartitioned appends events of one org per partition, in one append
// and again (duplicates), and checks where and how they were stored.
func checkPartitioned(t *testing.T, j *journal.Journal, n int) {
	t.Helper()
	orgs := orgsPerPartition(t, n)
	var evs []event.Record
	for i := range 300 {
		evs = append(evs, parse(t, orgs[i%n], fmt.Sprintf("e-%d", i), "user.session.start", 10))
	}
	res, err := j.Append(t.Context(), evs)
	if err != nil || res.Stored != 300 {
		t.Fatalf("append: got %+v %v, want 300 stored", res, err)
	}
	res, err = j.Append(t.Context(), evs)
	if err != nil || res.Stored != 0 || res.Duplicates != 300 {
		t.Fatalf("append again: got %+v %v, want 300 duplicates", res, err)
	}
	for k, org := range orgs {
		p := j.PartitionFor(org)
		if p.Index() != k || p.Stream() != fmt.Sprintf("AUDIT_P%d", k) || j.StreamOf(org) != p.Stream() {
			t.Errorf("org %s: got partition %d stream %s, want %d AUDIT_P%d", org, p.Index(), p.Stream(), k, k)
		}
		info, err := p.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("audit_p%d.>", k); !slices.Equal(info.Config.Subjects, []string{want}) {
			t.Errorf("stream %s subjects: got %v, want [%s]", p.Stream(), info.Config.Subjects, want)
		}
		// Each org's events: in order, in its partition only, with
		// increasing positions carrying the partition.
		var got []string
		last := uint64(0)
		err = j.Scan(t.Context(), org, journal.ScanFrom{}, func(recs []event.Record, _ uint64, _ time.Time) bool {
			for _, r := range recs {
				if r.Org != org || journal.PartitionOf(r.Seq) != k || r.Seq <= last {
					t.Errorf("org %s: event %s/%s at position %x (partition %d) after %x", org, r.Org, r.UUID, r.Seq, journal.PartitionOf(r.Seq), last)
				}
				last = r.Seq
				got = append(got, r.UUID)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := k; i < 300; i += n {
			want = append(want, fmt.Sprintf("e-%d", i))
		}
		if !slices.Equal(got, want) {
			t.Errorf("org %s: got %d events %v…, want %d", org, len(got), got[:min(3, len(got))], len(want))
		}
		u, err := p.Usage(t.Context())
		if err != nil || u.Msgs == 0 {
			t.Errorf("partition %d usage: got %+v %v, want messages", k, u, err)
		}
		if next, ok, err := j.NextSeq(t.Context(), org, 1); err != nil || !ok || next != 1 {
			t.Errorf("NextSeq(%s): got %d %v %v, want 1", org, next, ok, err)
		}
	}
	if got := len(journaltest.Records(t, j)); got != 300 {
		t.Errorf("every org's events: got %d, want 300", got)
	}
	// Purge of one org removes its events from its partition only.
	p := j.PartitionFor(orgs[n-1])
	u, _ := p.Usage(t.Context())
	purged, err := j.Purge(t.Context(), orgs[n-1], u.LastSeq+1)
	if err != nil || purged != uint64(len(evs)/n) {
		t.Errorf("purge %s: got %d %v, want %d", orgs[n-1], purged, err, len(evs)/n)
	}
	if got := len(journaltest.Records(t, j)); got != 300-len(evs)/n {
		t.Errorf("after the purge: got %d events, want %d", got, 300-len(evs)/n)
	}
}

func TestPartitionsEmbedded(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{Partitions: 3})
	if got := len(j.Partitions()); got != 3 {
		t.Fatalf("partitions: got %d, want 3", got)
	}
	checkPartitioned(t, j, 3)
}

func TestPartitionsOnNATSServer(t *testing.T) {
	srv := journaltest.StartNATS(t, nil)
	j, err := journal.Open(t.Context(), journal.Options{URL: srv.ClientURL(), Partitions: 3}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	checkPartitioned(t, j, 3)
	// A second node with the same count shares the journal; one with
	// another count is refused.
	j2, err := journal.Open(t.Context(), journal.Options{URL: srv.ClientURL(), Partitions: 3}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("second node: %v", err)
	}
	j2.Close()
	for _, n := range []int{1, 2, 4} {
		_, err := journal.Open(t.Context(), journal.Options{URL: srv.ClientURL(), Partitions: n}, slog.New(slog.DiscardHandler))
		if !errors.Is(err, journal.ErrPartitions) {
			t.Errorf("open with %d partitions: got %v, want ErrPartitions", n, err)
		}
	}
}

// A restart with another partition count is refused with a message that
// names the setting, both ways.
func TestPartitionCountIsFixed(t *testing.T) {
	for _, tt := range []struct{ created, reopened int }{{3, 2}, {3, 1}, {1, 3}} {
		t.Run(fmt.Sprintf("%d to %d", tt.created, tt.reopened), func(t *testing.T) {
			dir := t.TempDir()
			j := journaltest.OpenWith(t, journal.Options{DataDir: dir, Partitions: tt.created})
			if _, err := j.Append(t.Context(), events(t, "acme", "a", 2, 10)); err != nil {
				t.Fatal(err)
			}
			j.Close()
			_, err := journal.Open(t.Context(), journal.Options{DataDir: dir, Partitions: tt.reopened}, slog.New(slog.DiscardHandler))
			if !errors.Is(err, journal.ErrPartitions) {
				t.Fatalf("reopen: got %v, want ErrPartitions", err)
			}
			j = journaltest.OpenWith(t, journal.Options{DataDir: dir, Partitions: tt.created})
			if got := len(journaltest.Records(t, j)); got != 2 {
				t.Errorf("reopened with the right count: got %d events, want 2", got)
			}
			if l, lost := j.LostEvents(); lost {
				t.Errorf("reopened: got lost events %+v, want none", l)
			}
			// The record of what each partition held, one file each.
			for _, p := range j.Partitions() {
				name := journal.StateFile
				if tt.created > 1 {
					name = "journal-state-" + p.Stream() + ".json"
				}
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("state record of %s: %v", p.Stream(), err)
				}
			}
		})
	}
}

// Appends to orgs of different partitions go to their own writers at the
// same time; the result maps back to the caller's events.
func TestPartitionedAppendFromManyGoroutines(t *testing.T) {
	srv := journaltest.StartNATS(t, &server.Options{})
	j, err := journal.Open(t.Context(), journal.Options{URL: srv.ClientURL(), Partitions: 2}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	orgs := orgsPerPartition(t, 2)
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			var evs []event.Record
			for i := range 50 {
				evs = append(evs, parse(t, orgs[(g+i)%2], fmt.Sprintf("g%d-%d", g, i), "user.session.start", 10))
			}
			res, err := j.Append(t.Context(), evs)
			if err == nil && res.Stored != 50 {
				err = fmt.Errorf("got %+v, want 50 stored", res)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(journaltest.Records(t, j)); got != 400 {
		t.Errorf("got %d events, want 400", got)
	}
}

// On a three-server cluster (R3) a journal of 3 partitions has its three
// stream leaders on three different servers, and appends across orgs of
// every partition are stored.
func TestPartitionLeadersSpreadOverCluster(t *testing.T) {
	srvs := journaltest.StartCluster(t, 3)
	j, err := journal.Open(t.Context(), journal.Options{URL: journaltest.ClusterURL(srvs), Replicas: 3, Partitions: 3},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	leaders := map[string]bool{}
	for _, p := range j.Partitions() {
		info, err := p.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Fatalf("%s: got cluster %+v, want a leader and 2 replicas", p.Stream(), info.Cluster)
		}
		leaders[info.Cluster.Leader] = true
	}
	if len(leaders) != 3 {
		t.Errorf("partition leaders: got %v, want 3 different servers", leaders)
	}
	orgs := orgsPerPartition(t, 3)
	var evs []event.Record
	for i := range 90 {
		evs = append(evs, parse(t, orgs[i%3], fmt.Sprintf("c-%d", i), "user.session.start", 10))
	}
	if res, err := j.Append(t.Context(), evs); err != nil || res.Stored != 90 {
		t.Fatalf("append: got %+v %v, want 90 stored", res, err)
	}
}
