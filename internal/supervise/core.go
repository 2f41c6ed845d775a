package supervise

import (
	"context"
	"log/slog"
	"maps"
	"reflect"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/kvstore"
)

// Timings of a Core.
const (
	// DefaultInterval is how often a Core reconciles without a change, and
	// saves the statuses of the work running on its node.
	DefaultInterval = 2 * time.Second
	// cleanupTimeout bounds what one deleted or retired definition's
	// clean-up may take.
	cleanupTimeout = 10 * time.Second
	// stopTimeout bounds what stopping may still do once the work has
	// ended (giving a lease up), and the final save of the statuses.
	stopTimeout = 5 * time.Second
)

// Catalog is where a Core reads its definitions; *kvstore.Catalog is one.
type Catalog[D any] interface {
	// List returns every definition.
	List() []D
	// Changes receives a value (coalesced) whenever a definition changes.
	Changes() <-chan struct{}
}

// Work is the running work of one definition, as Kind.Start returns it.
type Work interface {
	// Stop ends the work and returns once it has ended. ctx bounds what
	// stopping still does afterwards (give a lease up); a Work with a
	// bound of its own may ignore it.
	Stop(ctx context.Context)
}

// Kind is what one kind of definition adds to a Core. The Core calls its
// methods from the goroutine that runs Run, one at a time.
type Kind[D kvstore.Entry, S any] interface {
	// Same reports whether work started for a may go on serving b, the
	// definition of the same key now; false restarts it.
	Same(a, b D) bool
	// Active reports whether d should run (an operator may deactivate it).
	Active(d D) bool
	// Start starts d's work in the background with st as its status and
	// returns it. It returns nil when d does not run on this node for now
	// (another node holds it); the Core asks again on the next pass. Work
	// that cannot start records why in st and returns a Work that is
	// already done, so that it is tried again only once d changes.
	Start(ctx context.Context, d D, st S) Work
	// Idle is called on every pass for a definition that is not active,
	// after its work stopped.
	Idle(d D, st S)
	// Forget removes what a deleted definition left behind (cursors,
	// consumers, metrics); the Core deletes its saved status itself.
	Forget(ctx context.Context, d D)
	// Tick runs on every tick before the statuses are saved (metrics).
	Tick(ctx context.Context)
}

// Retirer is a Kind whose definitions have generations: a log stream's
// replay starts a new epoch with a new journal consumer. When a
// definition's generation changes, the Core retires the old one once.
type Retirer[D any] interface {
	// Generation is d's generation.
	Generation(d D) int
	// Retire removes what old's generation left (its consumer), after the
	// work serving it stopped.
	Retire(ctx context.Context, old D)
}

// Keeper is a Kind whose work must be confirmed on every pass: a polling
// source runs on one node at a time and renews its lease here.
type Keeper[D any] interface {
	// Keep reports whether w, serving d, may go on running on this node;
	// false stops it.
	Keep(ctx context.Context, d D, w Work) bool
}

// Fencer is a Kind whose statuses only the node that holds the work may
// write: a log stream's owner, while its lease holds. The Core saves a
// status only when MaySave allows it, so a node that was paused and lost
// its lease does not overwrite the new owner's status on waking.
type Fencer interface {
	// MaySave reports whether this node may save id's status now.
	MaySave(id string) bool
}

// Drainer is a Kind with background work of its own (a source's
// backfills) that Run waits for on the way down.
type Drainer interface {
	// Drain is called once Run's context ended and every Work stopped,
	// before the statuses are saved a last time. It starts nothing new
	// and returns when the kind's own work ended.
	Drain()
}

// Deps are what a Core is handed.
type Deps[D kvstore.Entry, S Status[P], P any] struct {
	Catalog Catalog[D]
	Kind    Kind[D, S]
	// NewStatus returns a fresh status for a definition.
	NewStatus func() S
	// Statuses is where statuses are saved and restored from.
	Statuses StatusStore[P]
	Log      *slog.Logger
	// Noun names the kind in log messages and attributes ("stream").
	Noun string
	// Now returns the current time (tests may fix it); time.Now if nil.
	Now func() time.Time
	// Interval is how often to reconcile without a change;
	// DefaultInterval if zero.
	Interval time.Duration
}

// Core keeps one Work per active definition of a Catalog in step with it.
// Its methods are safe for concurrent use.
type Core[D kvstore.Entry, S Status[P], P any] struct {
	deps    Deps[D, S, P]
	retirer Retirer[D]
	keeper  Keeper[D]
	fencer  Fencer
	drainer Drainer

	mu       sync.Mutex
	running  map[string]running[D]
	statuses map[string]S
	known    map[string]D // last definitions seen, for clean-up
	// written is the record this node last wrote of each status, so that
	// a tick writes only what changed.
	written map[string]P
}

type running[D any] struct {
	def  D
	work Work
}

// New prepares a Core; Run starts it. The Kind's optional interfaces
// (Retirer, Keeper, Drainer) are found here.
func New[D kvstore.Entry, S Status[P], P any](deps Deps[D, S, P]) *Core[D, S, P] {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Interval == 0 {
		deps.Interval = DefaultInterval
	}
	c := &Core[D, S, P]{deps: deps, running: map[string]running[D]{}, statuses: map[string]S{},
		known: map[string]D{}, written: map[string]P{}}
	c.retirer, _ = deps.Kind.(Retirer[D])
	c.keeper, _ = deps.Kind.(Keeper[D])
	c.drainer, _ = deps.Kind.(Drainer)
	c.fencer, _ = deps.Kind.(Fencer)
	return c
}

// Run reconciles the work with the catalog on every change and every
// Interval until ctx ends; on each tick it also saves the statuses of the
// work running here that changed since this node last wrote them. Then it stops all work (in parallel), drains the
// kind, and saves the statuses of the work it stopped.
func (c *Core[D, S, P]) Run(ctx context.Context) {
	changes := c.deps.Catalog.Changes()
	tick := time.NewTicker(c.deps.Interval)
	defer tick.Stop()
	for {
		c.reconcile(ctx)
		select {
		case <-ctx.Done():
			stopped := c.stopAll()
			if c.drainer != nil {
				c.drainer.Drain()
			}
			sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			c.save(sctx, stopped)
			cancel()
			return
		case <-changes:
		case <-tick.C:
			c.deps.Kind.Tick(ctx)
			c.save(ctx, c.localIDs())
		}
	}
}

// StatusOf returns the live status of a definition, creating it (restored
// from the status bucket when saved there).
func (c *Core[D, S, P]) StatusOf(id string) S {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.statuses[id]
	if !ok {
		st = c.deps.NewStatus()
		if saved, ok := c.deps.Statuses.Load(id); ok {
			st.Restore(saved)
		}
		c.statuses[id] = st
	}
	return st
}

// Current returns the status of a definition: the live one when its work
// runs on this node (or nothing was saved), else the last one the node
// that runs it saved.
func (c *Core[D, S, P]) Current(id string) P {
	c.mu.Lock()
	_, here := c.running[id]
	c.mu.Unlock()
	if !here {
		if saved, ok := c.deps.Statuses.Load(id); ok {
			return saved
		}
	}
	return c.StatusOf(id).Record(id, c.deps.Now())
}

// Reload restores id's live status from what was saved last, when
// something was: work that starts here after another node ran it goes on
// from that node's counters.
func (c *Core[D, S, P]) Reload(id string) {
	saved, ok := c.deps.Statuses.Load(id)
	if !ok {
		return
	}
	c.StatusOf(id).Restore(saved)
}

// SaveStatus saves one definition's status now, whether or not it runs
// here.
func (c *Core[D, S, P]) SaveStatus(ctx context.Context, id string) error {
	rec := c.StatusOf(id).Record(id, c.deps.Now())
	if err := c.deps.Statuses.Save(ctx, id, rec); err != nil {
		return err
	}
	c.mu.Lock()
	c.written[id] = rec
	c.mu.Unlock()
	return nil
}

// Running returns the work running here for id and the definition it was
// started for.
func (c *Core[D, S, P]) Running(id string) (D, Work, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.running[id]
	return r.def, r.work, ok
}

// Works returns the work running on this node, by id.
func (c *Core[D, S, P]) Works() map[string]Work {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Work, len(c.running))
	for id, r := range c.running {
		out[id] = r.work
	}
	return out
}

// Statuses returns every status the Core keeps, by id.
func (c *Core[D, S, P]) Statuses() map[string]S {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.statuses)
}

func (c *Core[D, S, P]) localIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.running))
	for id := range c.running {
		ids = append(ids, id)
	}
	return ids
}

// save writes the statuses of ids to the bucket. Only the node that runs a
// definition's work writes its status.
func (c *Core[D, S, P]) save(ctx context.Context, ids []string) {
	if !c.deps.Statuses.Enabled() {
		return
	}
	now := c.deps.Now()
	for _, id := range ids {
		c.mu.Lock()
		st, ok := c.statuses[id]
		c.mu.Unlock()
		if !ok || c.fencer != nil && !c.fencer.MaySave(id) {
			continue
		}
		rec := st.Record(id, now)
		c.mu.Lock()
		last, had := c.written[id]
		c.mu.Unlock()
		if had && reflect.DeepEqual(last, rec) {
			continue
		}
		if err := c.deps.Statuses.Save(ctx, id, rec); err != nil {
			if ctx.Err() == nil {
				c.deps.Log.Warn("save "+c.deps.Noun+" status", c.deps.Noun, id, "err", err)
			}
			continue
		}
		c.mu.Lock()
		c.written[id] = rec
		c.mu.Unlock()
	}
}

// reconcile stops the work whose definition is gone, inactive or changed
// (or that its Keeper gives up), cleans up after deleted definitions and
// retired generations, and starts the work of active definitions that
// has none.
func (c *Core[D, S, P]) reconcile(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	kind := c.deps.Kind
	defs := c.deps.Catalog.List()
	want := make(map[string]D, len(defs))
	for _, d := range defs {
		want[d.EntryKey()] = d
	}
	c.mu.Lock()
	var stop []Work
	for id, r := range c.running {
		if d, ok := want[id]; !ok || !kind.Active(d) || !kind.Same(r.def, d) {
			stop = append(stop, r.work)
			delete(c.running, id)
		}
	}
	kept := maps.Clone(c.running)
	c.mu.Unlock()
	if c.keeper != nil {
		for id, r := range kept {
			if !c.keeper.Keep(ctx, r.def, r.work) {
				c.mu.Lock()
				delete(c.running, id)
				c.mu.Unlock()
				stop = append(stop, r.work)
			}
		}
	}
	c.mu.Lock()
	var gone, retired []D
	for id, old := range c.known {
		d, ok := want[id]
		switch {
		case !ok:
			gone = append(gone, old)
			delete(c.statuses, id)
			delete(c.known, id)
			delete(c.written, id)
		case c.retirer != nil && c.retirer.Generation(d) != c.retirer.Generation(old):
			retired = append(retired, old)
		}
	}
	maps.Copy(c.known, want)
	c.mu.Unlock()

	// In parallel: one slow stop (a batch being finished) must not hold
	// the others, nor the next pass that renews the leases, for long.
	var wg sync.WaitGroup
	for _, w := range stop {
		wg.Go(func() { w.Stop(ctx) })
	}
	wg.Wait()
	for _, old := range retired {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		c.retirer.Retire(cctx, old)
		cancel()
	}
	for _, d := range gone {
		cctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		kind.Forget(cctx, d)
		_ = c.deps.Statuses.Delete(cctx, d.EntryKey())
		cancel()
	}
	for _, d := range defs {
		id := d.EntryKey()
		st := c.StatusOf(id)
		if !kind.Active(d) {
			kind.Idle(d, st)
			continue
		}
		c.mu.Lock()
		_, ok := c.running[id]
		c.mu.Unlock()
		if ok {
			continue
		}
		if w := kind.Start(ctx, d, st); w != nil {
			c.mu.Lock()
			c.running[id] = running[D]{def: d, work: w}
			c.mu.Unlock()
		}
	}
}

// stopAll stops every work in parallel and returns the ids it stopped.
func (c *Core[D, S, P]) stopAll() []string {
	c.mu.Lock()
	all := c.running
	c.running = map[string]running[D]{}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	ids := make([]string, 0, len(all))
	var wg sync.WaitGroup
	for id, r := range all {
		ids = append(ids, id)
		wg.Go(func() { r.work.Stop(ctx) })
	}
	wg.Wait()
	return ids
}
