package stream

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditstream/auditstream/internal/lease"
)

// Ownership timings, named with their reasons.
const (
	// LeaseTTL is how long a node owns a log stream without renewing its
	// lease: a node that dies hands its streams over within about this
	// long. The owner renews on every reconcile pass (every 2 s,
	// supervise.DefaultInterval), so it survives four missed renewals
	// before it loses the stream.
	LeaseTTL = 10 * time.Second
	// LeasePrefix starts the keys of the log streams' leases in the
	// cluster bucket (lease.Bucket).
	LeasePrefix = "stream."
	// fenceMargin stops a runner this long before its lease expires by its
	// own clock when the lease could not be renewed in time, so that it
	// is stopped before another node may take the stream.
	fenceMargin = time.Second
)

// ownership decides which log streams run on this node when several nodes
// share the journal: each stream has a lease (package lease), and the
// streams spread over the live nodes by rendezvous hashing. A node takes a
// stream's lease only when it is the stream's preferred live node or the
// lease has expired (or stayed free longer than LeaseTTL, which no
// preferred node took); it gives the stream up, stopping its runner
// first, when another live node is preferred; and it stops a runner at
// once when its lease was lost or could not be renewed (fencing).
type ownership struct {
	leases *lease.Leases
	nodes  *lease.Nodes
	now    func() time.Time
	ttl    time.Duration

	mu sync.Mutex
	// freeSince is when each stream's lease was first seen free while
	// another node was preferred.
	freeSince map[string]time.Time
}

// enabled reports whether streams are owned (a lease bucket and the live
// nodes); without them every stream runs on this node.
func (o *ownership) enabled() bool { return o != nil && o.leases.Enabled() && o.nodes != nil }

// claim reports whether this node may run stream id now, taking its lease
// when so. A holder that stopped without handing back what it held (its
// lease expired) leaves messages unacknowledged: the runner's feed resets
// the consumer to its ack floor (see feed).
func (o *ownership) claim(ctx context.Context, id string) bool {
	if !o.enabled() {
		return true
	}
	cur, _, found, err := o.leases.Get(ctx, id)
	if err != nil {
		return false
	}
	if o.nodes.Preferred(id) != o.nodes.Self() {
		now := o.now()
		o.mu.Lock()
		free := !found
		if !free {
			delete(o.freeSince, id)
		} else if _, ok := o.freeSince[id]; !ok {
			o.freeSince[id] = now
		}
		since := o.freeSince[id]
		o.mu.Unlock()
		switch {
		case found && now.Before(cur.Expires):
			return false // its owner holds it (this node too, from an earlier run: it expires)
		case free && now.Sub(since) < o.ttl:
			return false // the preferred node takes it
		}
	}
	if !o.leases.Acquire(ctx, id) {
		return false
	}
	o.mu.Lock()
	delete(o.freeSince, id)
	o.mu.Unlock()
	return true
}

// keep renews the lease of a stream running here. It returns keep=false
// when the stream must stop; lost is true when the lease was lost (stop
// at once, write nothing), false when another live node is preferred
// and announced itself since this node took the stream (finish the
// batch, save the status, give the lease up).
func (o *ownership) keep(ctx context.Context, id string) (keep, lost bool) {
	if !o.enabled() {
		return true, false
	}
	if !o.leases.Acquire(ctx, id) {
		return false, true
	}
	// Give the stream up to the node it prefers only once that node has
	// announced itself after this one took the stream: a node that took
	// it over from a dead owner keeps it while the dead owner's last
	// heartbeat still counts as live (NodeTTL), instead of handing it
	// back and forth.
	if pref := o.nodes.Preferred(id); pref != o.nodes.Self() && o.nodes.LastSeen(pref).After(o.leases.Since(id)) {
		return false, false
	}
	return true, false
}

// fence stops a runner at once when its lease runs out before it was
// renewed: a node that cannot reach the bucket, or was paused, stops
// delivering before another node may take the stream.
type fence struct {
	o     *ownership
	id    string
	stop  func()
	fired atomic.Bool
	mu    sync.Mutex
	timer *time.Timer
}

// newFence arms a fence for stream id that calls stop when its lease is
// about to expire; nil when streams are not owned.
func (o *ownership) newFence(id string, stop func()) *fence {
	if !o.enabled() {
		return nil
	}
	f := &fence{o: o, id: id, stop: stop}
	f.extend()
	return f
}

// extend re-arms the fence after a renewal.
func (f *fence) extend() {
	if f == nil {
		return
	}
	d := f.o.leases.Expires(f.id).Sub(f.o.now()) - fenceMargin
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.timer = time.AfterFunc(max(d, 0), func() {
		f.fired.Store(true)
		f.stop()
	})
}

// expired reports whether the runner must not deliver any more: the fence
// fired, or the lease is within the fence's margin of expiring (a runner
// that was paused past its lease finds so before its next write, whatever
// runs first when the process wakes). Never for a nil fence.
func (f *fence) expired() bool {
	if f == nil {
		return false
	}
	return f.fired.Load() || !f.o.now().Before(f.o.leases.Expires(f.id).Add(-fenceMargin))
}

// tripped reports whether the fence stopped the runner.
func (f *fence) tripped() bool { return f != nil && f.fired.Load() }

// disarm stops the fence's timer.
func (f *fence) disarm() {
	if f == nil {
		return
	}
	f.mu.Lock()
	if f.timer != nil {
		f.timer.Stop()
	}
	f.mu.Unlock()
}
