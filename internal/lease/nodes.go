package lease

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Timings of node heartbeats and of the log streams' leases, named with
// their reasons.
const (
	// HeartbeatInterval is how often a node announces itself.
	HeartbeatInterval = 3 * time.Second
	// NodeTTL is how long a node counts as live after its last heartbeat:
	// three heartbeats, so one slow write does not move its work.
	NodeTTL = 10 * time.Second
	// nodeForget is how long a node that stopped announcing itself stays
	// listed (not live) in the cluster view before any node deletes its
	// entry.
	nodeForget = time.Hour
	// Bucket holds the node heartbeats and the log streams' leases.
	Bucket = "auditstream_cluster"
	// NodePrefix starts the key of a node's heartbeat in its bucket.
	NodePrefix = "node."
)

// Node is one node's heartbeat entry.
type Node struct {
	ID      string    `json:"id"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// LastSeen is when the node last announced itself (its own clock).
	LastSeen time.Time `json:"lastSeen"`
}

// NodesConfig is what Nodes need.
type NodesConfig struct {
	// KV holds the heartbeats; nil makes this node the only one.
	KV      jetstream.KeyValue
	Node    string
	Version string
	Log     *slog.Logger
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
	// Interval is how often to announce (HeartbeatInterval if zero).
	Interval time.Duration
}

// Nodes announces this node and knows the live ones. Its methods are safe
// for concurrent use.
type Nodes struct {
	cfg     NodesConfig
	started time.Time
	// warned is set once a second node with this id was reported.
	warned atomic.Bool

	mu   sync.Mutex
	live []string // sorted ids, this node's included while it runs
	all  []Node
	// watched holds the heartbeats by id while Run watches them (nil
	// before its watch delivered anything).
	watched map[string]Node
}

// NewNodes prepares the heartbeat of one node; Run starts it.
func NewNodes(cfg NodesConfig) *Nodes {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval == 0 {
		cfg.Interval = HeartbeatInterval
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Nodes{cfg: cfg, started: cfg.Now(), live: []string{cfg.Node}}
}

// Self is this node's id.
func (n *Nodes) Self() string { return n.cfg.Node }

// Announce writes this node's heartbeat once and reads the others'. Run
// calls it on every interval; call it once before starting work so that
// the first choices see this node.
func (n *Nodes) Announce(ctx context.Context) error {
	if n.cfg.KV == nil {
		return nil
	}
	now := n.cfg.Now()
	val, _ := json.Marshal(Node{ID: n.cfg.Node, Version: n.cfg.Version, Started: n.started, LastSeen: now})
	if _, err := n.cfg.KV.Put(ctx, NodePrefix+n.cfg.Node, val); err != nil {
		return err
	}
	n.mu.Lock()
	watched := n.watched != nil
	n.mu.Unlock()
	if watched {
		n.update(ctx)
		return nil
	}
	all, err := ReadNodes(ctx, n.cfg.KV)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.all = all
	n.mu.Unlock()
	n.update(ctx)
	return nil
}

// update works the live nodes out from the heartbeats last read (the
// watched ones while Run watches), and deletes those long silent.
func (n *Nodes) update(ctx context.Context) {
	now := n.cfg.Now()
	n.mu.Lock()
	if n.watched != nil {
		n.all = n.all[:0]
		for _, nd := range n.watched {
			n.all = append(n.all, nd)
		}
		slices.SortFunc(n.all, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	}
	all := slices.Clone(n.all)
	n.mu.Unlock()
	live := []string{n.cfg.Node}
	for _, nd := range all {
		switch {
		case nd.ID == n.cfg.Node:
			if !nd.Started.Equal(n.started) && now.Sub(nd.LastSeen) < NodeTTL && n.warned.CompareAndSwap(false, true) {
				n.cfg.Log.Error("another node announces itself with this node's id: give each node its own cluster.nodeId",
					"node", n.cfg.Node)
			}
		case now.Sub(nd.LastSeen) < NodeTTL:
			live = append(live, nd.ID)
		case now.Sub(nd.LastSeen) > nodeForget:
			_ = n.cfg.KV.Delete(ctx, NodePrefix+nd.ID)
		}
	}
	slices.Sort(live)
	n.mu.Lock()
	n.live = live
	n.mu.Unlock()
}

// Run announces this node every interval until ctx ends, then deletes its
// heartbeat so that the other nodes stop preferring it at once. It
// watches the heartbeats meanwhile (one consumer for its whole run, not
// one per read), so a node that leaves is seen at once.
func (n *Nodes) Run(ctx context.Context) {
	if n.cfg.KV == nil {
		<-ctx.Done()
		return
	}
	var updates <-chan jetstream.KeyValueEntry
	if w, err := n.cfg.KV.Watch(ctx, NodePrefix+">"); err != nil {
		n.cfg.Log.Warn("watch node heartbeats; reading them on every heartbeat instead", "err", err)
	} else {
		defer func() { _ = w.Stop() }()
		updates = w.Updates()
	}
	t := time.NewTicker(n.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			n.Leave()
			return
		case e, ok := <-updates:
			if !ok {
				updates = nil
				n.mu.Lock()
				n.watched = nil
				n.mu.Unlock()
				continue
			}
			n.apply(e)
			n.update(ctx)
			continue
		case <-t.C:
		}
		if err := n.Announce(ctx); err != nil && ctx.Err() == nil {
			n.cfg.Log.Warn("node heartbeat", "err", err)
		}
	}
}

// apply takes one watched heartbeat change (nil: the watch caught up).
func (n *Nodes) apply(e jetstream.KeyValueEntry) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.watched == nil {
		n.watched = map[string]Node{}
	}
	if e == nil {
		return
	}
	id := strings.TrimPrefix(e.Key(), NodePrefix)
	if e.Operation() != jetstream.KeyValuePut {
		delete(n.watched, id)
		return
	}
	var nd Node
	if json.Unmarshal(e.Value(), &nd) == nil {
		n.watched[id] = nd
	}
}

// Leave deletes this node's heartbeat: the other nodes stop preferring it
// on their next pass. Its work still stops and gives its leases up on its
// own.
func (n *Nodes) Leave() {
	if n.cfg.KV == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = n.cfg.KV.Delete(ctx, NodePrefix+n.cfg.Node)
}

// Live returns the ids of the live nodes, sorted, this one included.
func (n *Nodes) Live() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.live)
}

// LastSeen returns when node last announced itself, as last read (zero
// when unknown).
func (n *Nodes) LastSeen(node string) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, nd := range n.all {
		if nd.ID == node {
			return nd.LastSeen
		}
	}
	return time.Time{}
}

// Preferred returns the node, among the live ones, that work id prefers.
func (n *Nodes) Preferred(id string) string { return Preferred(id, n.Live()) }

// Preferred picks the node of nodes that work id prefers, by rendezvous
// (highest random weight) hashing: each (id, node) pair has a score and
// the highest wins, so when a node joins or leaves only the work that
// prefers it moves. It returns "" when nodes is empty.
func Preferred(id string, nodes []string) string {
	var best string
	var bestScore uint64
	for _, node := range nodes {
		h := sha256.Sum256([]byte(id + "\x00" + node))
		score := binary.BigEndian.Uint64(h[:8])
		if best == "" || score > bestScore || score == bestScore && node < best {
			best, bestScore = node, score
		}
	}
	return best
}

// ReadNodes returns every heartbeat in kv, sorted by id.
func ReadNodes(ctx context.Context, kv jetstream.KeyValue) ([]Node, error) {
	if kv == nil {
		return nil, nil
	}
	var out []Node
	err := readAll(ctx, kv, NodePrefix, func(_ string, nd Node) { out = append(out, nd) })
	if errors.Is(err, errWatchClosed) {
		return nil, errors.New("heartbeat watch closed")
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Node) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
