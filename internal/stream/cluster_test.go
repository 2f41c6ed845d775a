package stream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/lease"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/httpsink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// clusterLeaseTTL keeps the cluster tests' failovers short.
const clusterLeaseTTL = 2 * time.Second

// receiver is a webhook endpoint that records, per stream (the URL's
// path), the uuids it received in order, and which node (the X-Node
// header) delivered each batch.
type receiver struct {
	srv *httptest.Server

	mu   sync.Mutex
	got  map[string][]string
	byNd map[string][]delivery // deliveries by stream, tagged with the node
	seq  int
}

// delivery is one batch a node delivered, numbered in the order batches
// were accepted across every node.
type delivery struct {
	node string
	seq  int
	n    int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{got: map[string][]string{}, byNd: map[string][]delivery{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ids []string
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev struct {
				UUID string `json:"uuid"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ids = append(ids, ev.UUID)
		}
		id := r.URL.Path[1:]
		rc.mu.Lock()
		rc.got[id] = append(rc.got[id], ids...)
		rc.seq++
		rc.byNd[id] = append(rc.byNd[id], delivery{node: r.Header.Get("X-Node"), seq: rc.seq, n: len(ids)})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// delivered returns stream id's uuids, each once, in the order they first
// arrived, and how many arrived in all.
func (rc *receiver) delivered(id string) (first []string, total int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	for _, u := range rc.got[id] {
		if !seen[u] {
			seen[u] = true
			first = append(first, u)
		}
	}
	return first, len(rc.got[id])
}

// nodesOf returns the nodes that delivered batches of stream id.
func (rc *receiver) nodesOf(id string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, d := range rc.byNd[id] {
		if !slices.Contains(out, d.node) {
			out = append(out, d.node)
		}
	}
	return out
}

func (rc *receiver) deliveries(id string) []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.byNd[id])
}

// gatedKV is a lease bucket whose updates (renewals) a test can hold, as
// if the node were paused.
type gatedKV struct {
	jetstream.KeyValue
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func (g *gatedKV) block() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedKV) unblock() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

func (g *gatedKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return g.KeyValue.Update(ctx, key, value, rev)
}

// node is one auditstream node of a cluster test: its own journal
// connection, stream store, heartbeat and supervisor.
type node struct {
	id     string
	j      *journal.Journal
	store  *stream.Store
	leases *gatedKV
	sup    *stream.Supervisor
	cancel context.CancelFunc
	done   chan struct{}
	// cut: the node lost its connection to NATS (cutOff).
	cut bool
}

// cutOff closes the node's connection to NATS, as a crash or a network
// partition would: it neither renews its leases nor gives them up, and
// its heartbeat stays until it is too old.
func (n *node) cutOff() {
	n.cut = true
	n.j.Close()
}

// stop stops the node gracefully: its heartbeat goes, then its runners
// finish their batches and give their leases up.
func (n *node) stop() {
	n.cancel()
	<-n.done
}

// cluster is several nodes sharing one nats-server.
type cluster struct {
	t     *testing.T
	url   string
	rc    *receiver
	nodes []*node
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	srv := journaltest.StartNATS(t, nil)
	c := &cluster{t: t, url: srv.ClientURL(), rc: newReceiver(t)}
	for i := range n {
		c.nodes = append(c.nodes, c.start(fmt.Sprintf("node-%d", i+1)))
	}
	return c
}

// start runs one node until the test ends (or its stop).
func (c *cluster) start(id string) *node {
	t := c.t
	t.Helper()
	j := journaltest.OpenWith(t, journal.Options{URL: c.url})
	store, err := stream.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketStreams), nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	kv := journaltest.KV(t, j, lease.Bucket)
	n := &node{id: id, j: j, store: store, leases: &gatedKV{KeyValue: kv}, done: make(chan struct{})}
	nodes := lease.NewNodes(lease.NodesConfig{KV: kv, Node: id, Version: "test", Interval: 200 * time.Millisecond})
	if err := nodes.Announce(t.Context()); err != nil {
		t.Fatal(err)
	}
	build := func(d stream.Definition) (sink.Sink, stream.Filter, error) {
		// The header tells the receiver which node delivered each batch.
		hs, err := httpsink.New(httpsink.Config{URL: c.rc.srv.URL + "/" + d.ID, Body: httpsink.BodyNDJSON,
			Headers: map[string]string{"X-Node": id}}, sink.Deps{})
		if err != nil {
			return nil, nil, err
		}
		return hs, nil, nil
	}
	n.sup = stream.NewSupervisor(stream.SupervisorConfig{Store: store, Journal: j, Build: build, Log: discard,
		Metrics: stream.NewMetrics(prometheus.NewRegistry()), StopTimeout: 2 * time.Second, Runner: fast,
		StatusKV: journaltest.KV(t, j, journal.BucketStatus), LeaseKV: n.leases, Nodes: nodes, LeaseTTL: clusterLeaseTTL})
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	hctx, hcancel := context.WithCancel(context.WithoutCancel(t.Context()))
	var wg sync.WaitGroup
	wg.Go(func() { nodes.Run(hctx) })
	wg.Go(func() { n.sup.Run(ctx) })
	n.cancel = func() {
		hcancel() // the heartbeat goes first, as in app's lifecycle
		cancel()
		n.leases.unblock()
	}
	go func() {
		wg.Wait()
		close(n.done)
	}()
	t.Cleanup(n.stop)
	return n
}

// owners returns, for each stream, the nodes that run it.
func (c *cluster) owners() map[string][]string {
	out := map[string][]string{}
	for _, n := range c.nodes {
		select {
		case <-n.done:
			continue
		default:
		}
		if n.cut {
			continue
		}
		for _, id := range n.sup.Local() {
			out[id] = append(out[id], n.id)
		}
	}
	return out
}

// waitOwned waits until each of ids runs on exactly one node, the one
// rendezvous hashing prefers among the running nodes, and returns the
// owner of each.
func (c *cluster) waitOwned(ids []string) map[string]string {
	c.t.Helper()
	var live []string
	for _, n := range c.nodes {
		select {
		case <-n.done:
		default:
			if !n.cut {
				live = append(live, n.id)
			}
		}
	}
	var got map[string][]string
	wait.Eventually(c.t, "each stream on its preferred node only", func() bool {
		got = c.owners()
		for _, id := range ids {
			if len(got[id]) != 1 || got[id][0] != lease.Preferred(id, live) {
				return false
			}
		}
		return true
	}, wait.Within(15*time.Second), wait.Seen(func() string { return fmt.Sprint(got) }))
	out := map[string]string{}
	for _, id := range ids {
		out[id] = got[id][0]
	}
	return out
}

func (c *cluster) node(id string) *node {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

func (c *cluster) append(from, to int) {
	c.t.Helper()
	var evs []eventT
	for i := from; i < to; i++ {
		evs = append(evs, mkEvent(c.t, "acme", "t", idOf(i), 0))
	}
	res, err := c.nodes[0].j.Append(c.t.Context(), evs)
	if err != nil || res.Stored != len(evs) {
		c.t.Fatalf("append: got %+v, %v", res, err)
	}
}

// waitDelivered waits until stream id received events 0…n-1, each first
// arriving in journal order.
func (c *cluster) waitDelivered(id string, n int) {
	c.t.Helper()
	var first []string
	wait.Eventually(c.t, fmt.Sprintf("%s received %d events", id, n), func() bool {
		first, _ = c.rc.delivered(id)
		return len(first) >= n
	}, wait.Within(20*time.Second), wait.Seen(func() string { return fmt.Sprint(len(first)) }))
	if want := ids(0, n); !slices.Equal(first[:n], want) {
		c.t.Fatalf("stream %s order: got %v, want %v", id, first, want)
	}
}

// TestClusterOneOwnerPerStream: with three nodes on one NATS, every log
// stream runs on exactly one node, the streams spread over the nodes, and
// stopping a node moves its streams to the others within seconds, where
// delivery goes on in order.
func TestClusterOneOwnerPerStream(t *testing.T) {
	c := newCluster(t, 3)
	streamIDs := []string{"s1", "s2", "s3", "s4", "s5", "s6"}
	for _, id := range streamIDs {
		d := def(id)
		if err := c.nodes[0].store.Put(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	owner := c.waitOwned(streamIDs)
	used := map[string]bool{}
	for _, o := range owner {
		used[o] = true
	}
	if len(used) < 2 {
		t.Errorf("owners: got %v, want the streams spread over the nodes", owner)
	}
	c.append(0, 60)
	for _, id := range streamIDs {
		c.waitDelivered(id, 60)
		if got := c.rc.nodesOf(id); len(got) != 1 || got[0] != owner[id] {
			t.Errorf("stream %s delivered by %v, want only its owner %s", id, got, owner[id])
		}
	}

	// Stop the owner of s1: its streams move to the other nodes.
	gone := c.node(owner["s1"])
	start := time.Now()
	gone.stop()
	var moved []string
	for id, o := range owner {
		if o == gone.id {
			moved = append(moved, id)
		}
	}
	after := c.waitOwned(streamIDs)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("failover took %s, want seconds", took)
	}
	for _, id := range moved {
		if after[id] == gone.id {
			t.Errorf("stream %s still on stopped node %s", id, gone.id)
		}
	}
	for id, o := range owner {
		if o != gone.id && after[id] != o {
			t.Errorf("stream %s moved from %s to %s though its node is still up", id, o, after[id])
		}
	}
	c.append(60, 120)
	for _, id := range streamIDs {
		c.waitDelivered(id, 120)
	}
	for _, id := range moved {
		if got := c.rc.nodesOf(id); len(got) != 2 || got[1] != after[id] {
			t.Errorf("stream %s delivered by %v, want %s then %s", id, got, gone.id, after[id])
		}
		// The new owner goes on from the counters the old one saved: the
		// status is a total across nodes.
		statusKV := journaltest.KV(t, c.nodes[0].j, journal.BucketStatus)
		var snap stream.Snapshot
		wait.Eventually(t, id+"'s saved status counts every delivery", func() bool {
			snap, _ = kvstore.GetJSON[stream.Snapshot](statusKV, id)
			return snap.Delivered >= 120
		}, wait.Within(10*time.Second), wait.Seen(func() string { return fmt.Sprint(snap.Delivered) }))
	}
}

// TestClusterFencedOwnerStopsDelivering: an owner whose lease renewals
// hang (a paused node) stops its runner before its lease expires; another
// node takes the stream over, and the old owner delivers nothing more.
// Once the old owner wakes, its stale renewal is refused; delivery goes on
// in order.
func TestClusterFencedOwnerStopsDelivering(t *testing.T) {
	c := newCluster(t, 2)
	if err := c.nodes[0].store.Put(t.Context(), def("s1")); err != nil {
		t.Fatal(err)
	}
	owner := c.node(c.waitOwned([]string{"s1"})["s1"])
	c.append(0, 20)
	c.waitDelivered("s1", 20)

	owner.leases.block()
	var other *node
	for _, n := range c.nodes {
		if n != owner {
			other = n
		}
	}
	wait.Eventually(t, "the other node takes s1 over", func() bool {
		return slices.Contains(other.sup.Local(), "s1")
	}, wait.Within(15*time.Second))
	c.append(20, 40)
	c.waitDelivered("s1", 40)
	ds := c.rc.deliveries("s1")
	firstOther := -1
	for _, d := range ds {
		if d.node == other.id {
			firstOther = d.seq
			break
		}
	}
	if firstOther < 0 {
		t.Fatalf("deliveries %v: want some by %s", ds, other.id)
	}
	for _, d := range ds {
		if d.node == owner.id && d.seq > firstOther {
			t.Fatalf("deliveries %v: %s delivered after %s took the stream over", ds, owner.id, other.id)
		}
	}

	// The paused node wakes: its renewal is refused, the stream runs on
	// one node and delivery goes on in order.
	owner.leases.unblock()
	c.waitOwned([]string{"s1"})
	c.append(40, 60)
	c.waitDelivered("s1", 60)
}

// TestClusterCutOffOwner: a node cut off from NATS (a crash, a partition)
// neither renews nor gives up its leases; the other nodes take its
// streams once the leases expire, before its heartbeat stops counting,
// and delivery goes on in order.
func TestClusterCutOffOwner(t *testing.T) {
	c := newCluster(t, 3)
	streamIDs := []string{"s1", "s2", "s3", "s4", "s5", "s6"}
	for _, id := range streamIDs {
		if err := c.nodes[0].store.Put(t.Context(), def(id)); err != nil {
			t.Fatal(err)
		}
	}
	owner := c.waitOwned(streamIDs)
	c.append(0, 30)
	for _, id := range streamIDs {
		c.waitDelivered(id, 30)
	}
	cut := c.node(owner["s1"])
	if cut == c.nodes[0] {
		// c.append writes through the first node's connection.
		c.nodes[0], c.nodes[1] = c.nodes[1], c.nodes[0]
	}
	start := time.Now()
	cut.cutOff()
	c.append(30, 60)
	for _, id := range streamIDs {
		c.waitDelivered(id, 60)
	}
	if took := time.Since(start); took >= lease.NodeTTL {
		t.Errorf("failover took %s, want it within the lease's TTL, not the node's (%s)", took, lease.NodeTTL)
	}
	for id, o := range owner {
		if o != cut.id {
			continue
		}
		ds := c.rc.deliveries(id)
		if last := ds[len(ds)-1]; last.node == cut.id {
			t.Errorf("stream %s: last delivery by %s, which was cut off", id, cut.id)
		}
	}
	// Once the cut-off node's heartbeat is too old, every stream runs on
	// its preferred node among the others.
	after := c.waitOwned(streamIDs)
	c.append(60, 90)
	for _, id := range streamIDs {
		c.waitDelivered(id, 90)
		if after[id] == cut.id {
			t.Errorf("stream %s on the cut-off node", id)
		}
	}
}
