package query

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// On a journal of 3 partitions (acme in partition 2, other in 0) the
// index follows every partition: bounded queries of one org and of every
// org page through all their events with cursors, polling of one org reads
// its partition in journal order and resumes from its cursor, and polling
// of every org keeps a position per partition.
func TestQueriesOnPartitionedJournal(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{Partitions: 3})
	if journal.PartitionOfOrg("acme", 3) != 2 || journal.PartitionOfOrg("other", 3) != 0 {
		t.Fatalf("test orgs: got partitions %d and %d, want 2 and 0", journal.PartitionOfOrg("acme", 3), journal.PartitionOfOrg("other", 3))
	}
	h := newHarnessOn(t, Config{}, j)
	now := time.Now()
	h.append(seqEvents("a", "acme", 1500, func(i int) time.Time { return now.Add(-time.Duration(i%50) * time.Minute) })...)
	h.append(seqEvents("o", "other", 300, func(int) time.Time { return now })...)

	since := now.Add(-time.Hour).UTC().Format(time.RFC3339)
	until := now.Add(time.Minute).UTC().Format(time.RFC3339)
	got, _ := h.follow(h.acme, params("since", since, "until", until, "limit", "200"), 200)
	if len(got) != 1500 {
		t.Errorf("bounded acme: got %d events, want 1500", len(got))
	}
	got, _ = h.follow(h.all, params("since", since, "until", until, "limit", "250"), 250)
	if len(got) != 1800 {
		t.Errorf("bounded every org: got %d events, want 1800", len(got))
	}
	got, last := h.follow(h.acme, params("since", since, "limit", "400"), 400)
	want := make([]string, 1500)
	for i := range want {
		want[i] = fmt.Sprintf("a-%05d", i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("polling acme: got %d events (first %v), want the 1500 acme events in journal order", len(got), got[:min(3, len(got))])
	}
	h.append(seqEvents("b", "acme", 20, func(int) time.Time { return now })...)
	h.append(seqEvents("p", "other", 20, func(int) time.Time { return now })...)
	r := h.get(h.acme, last.links()["next"])
	if len(r.events) != 20 || r.uuids()[0] != "b-00000" {
		t.Errorf("polling acme after arrivals: got %d events %v, want the 20 new acme events", len(r.events), r.uuids()[:min(2, len(r.uuids()))])
	}
	got, _ = h.follow(h.other, params("since", since, "limit", "100"), 100)
	if len(got) != 320 {
		t.Errorf("polling other: got %d events, want 320", len(got))
	}
	// Polling every org: a position per partition, each org in order,
	// nothing twice, new events of both partitions on the next page.
	all, lastAll := h.follow(h.all, params("since", since, "limit", "250"), 250)
	checkOrgs := func(got []string, wantA, wantO int) {
		t.Helper()
		seen := map[string]bool{}
		var a, o []string
		for _, u := range got {
			if seen[u] {
				t.Fatalf("polling every org: %s twice", u)
			}
			seen[u] = true
			if u[0] == 'o' || u[0] == 'p' || u[0] == 'q' {
				o = append(o, u)
			} else {
				a = append(a, u)
			}
		}
		if len(a) != wantA || len(o) != wantO || !slices.IsSorted(a) || !slices.IsSorted(o) {
			t.Errorf("polling every org: got %d acme, %d other events (in order: %v %v), want %d and %d",
				len(a), len(o), slices.IsSorted(a), slices.IsSorted(o), wantA, wantO)
		}
	}
	checkOrgs(all, 1520, 320)
	h.append(seqEvents("c", "acme", 5, func(int) time.Time { return now })...)
	h.append(seqEvents("q", "other", 7, func(int) time.Time { return now })...)
	r = h.get(h.all, lastAll.links()["next"])
	checkOrgs(r.uuids(), 5, 7)
	if r := h.get(h.all, r.links()["next"]); len(r.events) != 0 || r.links()["next"] == "" {
		t.Errorf("polling every org after reading everything: got %d events, next %q; want none and a next link", len(r.events), r.links()["next"])
	}
	for _, rec := range journaltest.Records(t, j) {
		if want := journal.PartitionOfOrg(rec.Org, 3); journal.PartitionOf(rec.Seq) != want {
			t.Fatalf("event %s of %s: position in partition %d, want %d", rec.UUID, rec.Org, journal.PartitionOf(rec.Seq), want)
		}
	}
}
