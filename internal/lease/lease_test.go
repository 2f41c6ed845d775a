package lease_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/fakeclock"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/syncbuf"
	"github.com/auditstream/auditstream/internal/wait"
	"github.com/nats-io/nats.go/jetstream"
)

// TestMain checks that heartbeats and watches leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// twoNodes are the leases of nodes a and b on one KV bucket, kv, with a
// TTL of 10 s on a clock the test moves.
func twoNodes(t *testing.T) (kv jetstream.KeyValue, clk *fakeclock.Clock, a, b *lease.Leases) {
	t.Helper()
	kv = journaltest.KV(t, journaltest.Open(t), "leases")
	clk = fakeclock.New(time.Unix(1_800_000_000, 0))
	a = lease.New(lease.Config{KV: kv, Prefix: "lease.", Node: "a", TTL: 10 * time.Second, Now: clk.Now})
	b = lease.New(lease.Config{KV: kv, Prefix: "lease.", Node: "b", TTL: 10 * time.Second, Now: clk.Now})
	return kv, clk, a, b
}

// TestLeaseOneHolder: a lease has one holder until it expires or is given
// up; its holder renews it.
func TestLeaseOneHolder(t *testing.T) {
	kv, clk, a, b := twoNodes(t)
	ctx := t.Context()

	if !a.Acquire(ctx, "s1") {
		t.Fatal("a acquire free lease: got false, want true")
	}
	if b.Acquire(ctx, "s1") {
		t.Fatal("b acquire a's live lease: got true, want false")
	}
	clk.Add(6 * time.Second)
	if !a.Acquire(ctx, "s1") {
		t.Fatal("a renew: got false, want true")
	}
	clk.Add(6 * time.Second) // 12 s after the take, 6 s after the renewal
	if b.Acquire(ctx, "s1") {
		t.Fatal("b acquire a renewed lease: got true, want false")
	}
	if !a.Holds("s1") || b.Holds("s1") {
		t.Fatalf("holds: got a=%v b=%v, want a only", a.Holds("s1"), b.Holds("s1"))
	}
	a.Release(ctx, "s1")
	if !b.Acquire(ctx, "s1") {
		t.Fatal("b acquire a released lease: got false, want true")
	}
	all, err := lease.All(ctx, kv, "lease.")
	if err != nil {
		t.Fatal(err)
	}
	if got := all["s1"].Node; got != "b" || len(all) != 1 {
		t.Fatalf("all leases: got %v, want s1 held by b", all)
	}
}

// TestLeaseFencing: a node that missed its renewals (paused) finds its
// lease taken over once it expired, and its renewal fails even though the
// new holder's lease has expired in turn: it renews with the revision it
// wrote, not one it reads again.
func TestLeaseFencing(t *testing.T) {
	kv, clk, a, b := twoNodes(t)
	ctx := t.Context()
	if !a.Acquire(ctx, "s1") {
		t.Fatal("a acquire: got false")
	}
	clk.Add(11 * time.Second) // a is paused past its lease
	if a.Holds("s1") {
		t.Fatal("a holds an expired lease: got true, want false")
	}
	if !b.Acquire(ctx, "s1") {
		t.Fatal("b acquire expired lease: got false, want true")
	}
	clk.Add(11 * time.Second) // b's lease expired too
	if a.Acquire(ctx, "s1") {
		t.Fatal("a renew after b took the lease: got true, want false (fenced)")
	}
	if a.Holds("s1") {
		t.Fatal("a holds after a refused renewal: got true, want false")
	}
	// A fresh take by a is allowed now (b's lease expired): a new term.
	if !a.Acquire(ctx, "s1") {
		t.Fatal("a fresh acquire of an expired lease: got false, want true")
	}
	// b's renewal is fenced the same way, and its release deletes nothing.
	if b.Acquire(ctx, "s1") {
		t.Fatal("b renew after a took the lease: got true, want false")
	}
	b.Release(ctx, "s1")
	all, err := lease.All(ctx, kv, "lease.")
	if err != nil {
		t.Fatal(err)
	}
	if all["s1"].Node != "a" {
		t.Fatalf("lease after b's release: got %v, want held by a", all)
	}
}

// TestPreferred: rendezvous hashing spreads ids over nodes, and removing
// a node moves only the ids that preferred it.
func TestPreferred(t *testing.T) {
	nodes := []string{"n1", "n2", "n3"}
	count := map[string]int{}
	before := map[string]string{}
	for i := range 300 {
		id := string(rune('a'+i%26)) + time.Duration(i).String()
		p := lease.Preferred(id, nodes)
		count[p]++
		before[id] = p
	}
	for _, n := range nodes {
		if count[n] < 60 {
			t.Errorf("node %s preferred by %d of 300 ids, want about 100", n, count[n])
		}
	}
	for id, p := range before {
		after := lease.Preferred(id, []string{"n1", "n3"})
		if p != "n2" && after != p {
			t.Errorf("id %s moved from %s to %s when n2 left, want it to stay", id, p, after)
		}
	}
	if got := lease.Preferred("x", nil); got != "" {
		t.Errorf("preferred among no nodes: got %q, want empty", got)
	}
}

// TestNodes: each node sees the others that announce themselves, and not
// one that left or stopped announcing.
func TestNodes(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, "nodes")
	clk := fakeclock.New(time.Unix(1_800_000_000, 0))
	a := lease.NewNodes(lease.NodesConfig{KV: kv, Node: "a", Version: "v1", Now: clk.Now})
	b := lease.NewNodes(lease.NodesConfig{KV: kv, Node: "b", Version: "v1", Now: clk.Now})
	c := lease.NewNodes(lease.NodesConfig{KV: kv, Node: "c", Version: "v1", Now: clk.Now})
	ctx := t.Context()
	for _, n := range []*lease.Nodes{a, b, c, a} {
		if err := n.Announce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Live(); len(got) != 3 {
		t.Fatalf("live: got %v, want a b c", got)
	}
	c.Leave()
	clk.Add(lease.NodeTTL + time.Second) // b stops announcing
	if err := a.Announce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Live(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("live after c left and b went quiet: got %v, want [a]", got)
	}
	all, err := lease.ReadNodes(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != "a" || all[1].ID != "b" || all[0].Version != "v1" {
		t.Fatalf("nodes: got %+v, want a and b (b not live)", all)
	}
}

// TestNodesDuplicateID: a node that sees another announce itself under
// its own id says so.
func TestNodesDuplicateID(t *testing.T) {
	j := journaltest.Open(t)
	kv := journaltest.KV(t, j, "nodes")
	var logs syncbuf.Buffer
	a := lease.NewNodes(lease.NodesConfig{KV: kv, Node: "same", Log: slog.New(slog.NewTextHandler(&logs, nil)), Interval: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	b := lease.NewNodes(lease.NodesConfig{KV: kv, Node: "same", Now: func() time.Time { return time.Now().Add(time.Millisecond) }})
	wait.Eventually(t, "a warning about the duplicate id", func() bool {
		if err := b.Announce(t.Context()); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(logs.String(), "another node announces itself with this node's id")
	})
}
