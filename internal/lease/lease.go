package lease

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease is what a lease entry holds.
type Lease struct {
	Node    string    `json:"node"`
	Expires time.Time `json:"expires"`
}

// Config is what Leases need.
type Config struct {
	// KV holds the leases; nil makes every Acquire succeed (one node, no
	// bucket).
	KV jetstream.KeyValue
	// Prefix is put before each id to make its key ("lease.").
	Prefix string
	// Node is this node's id.
	Node string
	// TTL is how long a lease lasts without a renewal.
	TTL time.Duration
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
}

// Leases takes, renews and gives up the leases of one node. Its methods
// are safe for concurrent use.
type Leases struct {
	cfg Config

	mu sync.Mutex
	// held maps the id of each lease this node holds to the revision it
	// last wrote and when that write makes it expire.
	held map[string]heldLease
}

type heldLease struct {
	rev     uint64
	expires time.Time
	since   time.Time // when this node took it (its first write of this term)
}

// New prepares the leases of one node.
func New(cfg Config) *Leases {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Leases{cfg: cfg, held: map[string]heldLease{}}
}

// Node is this node's id.
func (l *Leases) Node() string { return l.cfg.Node }

// Enabled reports whether the leases have a bucket.
func (l *Leases) Enabled() bool { return l != nil && l.cfg.KV != nil }

func (l *Leases) key(id string) string { return l.cfg.Prefix + id }

// Acquire takes the lease of id when it is free, expired or already this
// node's, or renews it when this node holds it. False means another node
// holds it, or, for a lease held here, that the renewal was refused (the
// lease was taken over) or could not be made: the caller must stop the
// work at once.
func (l *Leases) Acquire(ctx context.Context, id string) bool {
	if !l.Enabled() {
		return true
	}
	l.mu.Lock()
	h, ok := l.held[id]
	l.mu.Unlock()
	if ok {
		return l.renew(ctx, id, h.rev)
	}
	cur, rev, found, err := l.Get(ctx, id)
	if err != nil {
		return false
	}
	if found && cur.Node != l.cfg.Node && l.cfg.Now().Before(cur.Expires) {
		return false
	}
	return l.write(ctx, id, rev, found)
}

// renew writes id's lease with the revision this node last wrote.
func (l *Leases) renew(ctx context.Context, id string, rev uint64) bool {
	if l.write(ctx, id, rev, true) {
		return true
	}
	l.mu.Lock()
	delete(l.held, id)
	l.mu.Unlock()
	return false
}

func (l *Leases) write(ctx context.Context, id string, rev uint64, exists bool) bool {
	expires := l.cfg.Now().Add(l.cfg.TTL)
	val, _ := json.Marshal(Lease{Node: l.cfg.Node, Expires: expires})
	var err error
	if exists {
		rev, err = l.cfg.KV.Update(ctx, l.key(id), val, rev)
	} else {
		rev, err = l.cfg.KV.Create(ctx, l.key(id), val)
	}
	if err != nil {
		return false
	}
	l.mu.Lock()
	since := l.held[id].since
	if since.IsZero() {
		since = l.cfg.Now()
	}
	l.held[id] = heldLease{rev: rev, expires: expires, since: since}
	l.mu.Unlock()
	return true
}

// Holds reports whether this node holds id's lease and, by its own
// clock, it has not expired.
func (l *Leases) Holds(id string) bool {
	if !l.Enabled() {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.held[id]
	return ok && l.cfg.Now().Before(h.expires)
}

// Since is when this node took the lease it holds on id (zero when it
// holds none).
func (l *Leases) Since(id string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[id].since
}

// Expires is when the lease this node holds on id expires unless renewed
// (zero when it holds none).
func (l *Leases) Expires(id string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[id].expires
}

// Release gives the lease of id up if this node still holds it (a
// delete fenced with the revision this node last wrote).
func (l *Leases) Release(ctx context.Context, id string) {
	if !l.Enabled() {
		return
	}
	l.mu.Lock()
	h, ok := l.held[id]
	delete(l.held, id)
	l.mu.Unlock()
	if !ok {
		return
	}
	_ = l.cfg.KV.Delete(ctx, l.key(id), jetstream.LastRevision(h.rev))
}

// Get reads the lease of id: found is false when none is written (or it
// was given up); rev is the entry's revision either way (0 when it never
// existed).
func (l *Leases) Get(ctx context.Context, id string) (cur Lease, rev uint64, found bool, err error) {
	e, err := l.cfg.KV.Get(ctx, l.key(id))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		// A deleted key has a revision of its own (its delete marker):
		// Update with it recreates the key; Create works too.
		return Lease{}, 0, false, nil
	case err != nil:
		return Lease{}, 0, false, err
	}
	if json.Unmarshal(e.Value(), &cur) != nil {
		// Unreadable: treat it as expired, to be overwritten.
		return Lease{}, e.Revision(), true, nil
	}
	return cur, e.Revision(), true, nil
}

// All returns every lease written in kv under prefix, by id (expired
// ones too).
func All(ctx context.Context, kv jetstream.KeyValue, prefix string) (map[string]Lease, error) {
	out := map[string]Lease{}
	if kv == nil {
		return out, nil
	}
	err := readAll(ctx, kv, prefix, func(key string, l Lease) { out[key] = l })
	if err != nil && !errors.Is(err, errWatchClosed) {
		return nil, err
	}
	return out, nil
}

// errWatchClosed is readAll's error when the watch ends before it has
// given every current value.
var errWatchClosed = errors.New("watch closed")

// readAll calls each with the key (prefix removed) and the decoded value
// of every JSON value in kv under prefix; values that do not decode as a
// T are passed over.
func readAll[T any](ctx context.Context, kv jetstream.KeyValue, prefix string, each func(key string, v T)) error {
	w, err := kv.Watch(ctx, prefix+">", jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errWatchClosed
			}
			if e == nil {
				return nil
			}
			var v T
			if json.Unmarshal(e.Value(), &v) == nil {
				each(strings.TrimPrefix(e.Key(), prefix), v)
			}
		}
	}
}
