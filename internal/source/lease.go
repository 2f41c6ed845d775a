package source

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaseTTL is how long a node holds a polling source without renewing it.
// Nodes renew every reconcile tick (2 s), so a node that dies hands its
// sources over within LeaseTTL.
const LeaseTTL = 15 * time.Second

// leases makes sure that, when several nodes share the journal, each
// polling source runs on one node at a time: two pollers of one org would
// double its share of the rate limit. A lease is a KV entry changed only
// with compare-and-set on its revision.
type leases struct {
	kv   jetstream.KeyValue
	node string
	now  func() time.Time
}

type lease struct {
	Node    string    `json:"node"`
	Expires time.Time `json:"expires"`
}

func newNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func leaseKey(id string) string { return "lease." + id }

// acquire takes or renews the lease of source id; false means another
// node holds it.
func (l *leases) acquire(ctx context.Context, id string) bool {
	if l == nil || l.kv == nil {
		return true
	}
	now := l.now()
	val, _ := json.Marshal(lease{Node: l.node, Expires: now.Add(LeaseTTL)})
	e, err := l.kv.Get(ctx, leaseKey(id))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = l.kv.Create(ctx, leaseKey(id), val)
		return err == nil
	case err != nil:
		return false
	}
	var cur lease
	if json.Unmarshal(e.Value(), &cur) == nil && cur.Node != l.node && now.Before(cur.Expires) {
		return false
	}
	_, err = l.kv.Update(ctx, leaseKey(id), val, e.Revision())
	return err == nil
}

// release gives the lease of id up if this node holds it.
func (l *leases) release(ctx context.Context, id string) {
	if l == nil || l.kv == nil {
		return
	}
	e, err := l.kv.Get(ctx, leaseKey(id))
	if err != nil {
		return
	}
	var cur lease
	if json.Unmarshal(e.Value(), &cur) == nil && cur.Node == l.node {
		_ = l.kv.Delete(ctx, leaseKey(id), jetstream.LastRevision(e.Revision()))
	}
}
