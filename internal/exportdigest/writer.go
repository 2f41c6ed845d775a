package exportdigest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultInterval is how often a stream writes a digest while it writes
// objects: hourly, as CloudTrail does, so a busy stream adds 24 small
// objects a day and an auditor's proof is at most an hour behind.
const DefaultInterval = time.Hour

// MinInterval keeps a typo from writing a digest per object.
const MinInterval = time.Second

// sameSecond is how far before the newest digest's write time recovery
// looks for objects: S3 keeps write times to the second, so an object
// written in the same second as the digest may be on either side of it.
const sameSecond = 2 * time.Second

// Settings are what a stream's "digests" setting holds.
type Settings struct {
	// Interval between digests while objects are written, e.g. "1h" (the
	// default); at least 1s.
	Interval string `json:"interval,omitempty"`
	// Off writes no digests for this stream.
	Off bool `json:"off,omitempty"`
}

// Validate reports a problem with s.
func (s Settings) Validate() error {
	_, err := s.interval()
	return err
}

// IntervalOrDefault is the interval s sets, or DefaultInterval.
func (s Settings) IntervalOrDefault() time.Duration {
	d, err := s.interval()
	if err != nil {
		return DefaultInterval
	}
	return d
}

func (s Settings) interval() (time.Duration, error) {
	if s.Interval == "" {
		return DefaultInterval, nil
	}
	d, err := time.ParseDuration(s.Interval)
	if err != nil {
		return 0, fmt.Errorf("digests.interval %q: %w", s.Interval, err)
	}
	if d < MinInterval {
		return 0, fmt.Errorf("digests.interval %v: want at least %v", d, MinInterval)
	}
	return d, nil
}

// Config is what a Writer writes.
type Config struct {
	// Stream is the stream's id; it names the digests.
	Stream string
	// Prefix is the stream's prefix (empty or ending in "/"): digests go
	// to Prefix + "_digest/", and recovery lists data below Prefix.
	Prefix string
	// Interval between digests; zero means DefaultInterval.
	Interval time.Duration
}

// Deps are what a Writer is handed.
type Deps struct {
	// Store holds data and digests. Required.
	Store Store
	// Signer signs digests. Required.
	Signer Signer
	// Data reports whether a key below Prefix is one of the stream's data
	// objects (recovery lists only those); nil means every key outside the
	// digest directory.
	Data func(key string) bool
	// Describe fills in the events, positions and times of a data object
	// read back after a restart; nil leaves them out.
	Describe func(key string, body []byte) Entry
	// Logger receives the writer's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Report, when set, is told the outcome of every digest the timer or
	// Close tried to write: the error, or nil once one was written (or
	// nothing was waiting). A stream shows the failures in its status, a
	// metric and the System Log (sink.DigestReporter); the writer itself
	// only logs them. A digest not written because of Fenced is not
	// reported (it is no failure of the stream's owner).
	Report func(err error)
	// Fenced, when set, reports that the writer must not write any more
	// digests: the stream's lease ran out and another process may own it
	// (and go on with its chain). Each digest is checked against it just
	// before it is written; the objects then wait, Flush and Close answer
	// ErrFenced, and the next owner's recovery lists the objects.
	Fenced func() bool
}

// Writer writes the digests of one stream. Add, Flush and Close may be
// called from any goroutine.
type Writer struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	// io serialises recovery and digest writes, and guards the chain's
	// state; mu guards the objects waiting (held only briefly, so Add never
	// waits for a digest being written).
	io        sync.Mutex
	recovered bool
	prev      *Link
	prevEnd   time.Time

	mu       sync.Mutex
	pending  []Entry
	keys     map[string]bool // keys in pending
	started  bool
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	closeErr error
}

// NewWriter returns a writer; Start starts its timer.
func NewWriter(cfg Config, deps Deps) *Writer {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Data == nil {
		deps.Data = func(string) bool { return true }
	}
	return &Writer{cfg: cfg, deps: deps, log: deps.Logger, keys: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// Start writes digests every Interval from a goroutine of its own until
// Close. A failed digest is retried at the next tick; the objects wait.
// Calls after the first (or after Close) do nothing.
func (w *Writer) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), max(w.cfg.Interval, time.Minute))
				err := w.Flush(ctx)
				switch {
				case errors.Is(err, ErrFenced):
					w.log.Warn("digest not written: the stream's lease ran out; its next owner's digest lists the objects", "objects", w.Pending())
				case err != nil:
					w.log.Error("digest not written; the objects since the last digest wait for the next attempt", "err", err)
				}
				cancel()
				w.report(err)
			}
		}
	}()
}

// report hands the outcome of a digest attempt to Deps.Report.
func (w *Writer) report(err error) {
	if w.deps.Report != nil && !errors.Is(err, ErrFenced) {
		w.deps.Report(err)
	}
}

// Add records that the data object e was written; the next digest lists
// it. Adding a key twice lists it once.
func (w *Writer) Add(e Entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.add(e)
}

func (w *Writer) add(e Entry) {
	if w.keys[e.Key] {
		return
	}
	w.keys[e.Key] = true
	w.pending = append(w.pending, e)
}

// Pending reports how many objects wait for a digest.
func (w *Writer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Recover finds where the stream's chain stands and the data objects
// written since its newest digest (see the package comment). The first
// Flush calls it; a sink calls it before its first write so that a new
// chain's genesis digest comes before its objects. It does its work once.
func (w *Writer) Recover(ctx context.Context) error {
	w.io.Lock()
	defer w.io.Unlock()
	return w.recover(ctx)
}

// isPending reports whether key waits for a digest.
func (w *Writer) isPending(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.keys[key]
}

func (w *Writer) recover(ctx context.Context) error {
	if w.recovered {
		return nil
	}
	digests, err := w.deps.Store.List(ctx, w.cfg.Prefix+Dir)
	if err != nil {
		return fmt.Errorf("list digests: %w", err)
	}
	mine := make([]Object, 0, len(digests))
	marker := "/" + safeName(w.cfg.Stream) + "_"
	for _, o := range digests {
		if strings.Contains(o.Key, marker) && strings.HasSuffix(o.Key, ".json") {
			mine = append(mine, o)
		}
	}
	if len(mine) == 0 {
		// A new chain: an empty digest marks where it begins.
		w.recovered = true
		return w.flush(ctx, nil)
	}
	last := mine[len(mine)-1]
	body, err := w.deps.Store.Read(ctx, last.Key)
	if err != nil {
		return fmt.Errorf("read digest %s: %w", last.Key, err)
	}
	d, err := parse(body)
	if err != nil {
		return fmt.Errorf("digest %s: %w", last.Key, err)
	}
	listed := map[string]bool{}
	for _, e := range d.Objects {
		listed[e.Key] = true
	}
	since := last.Modified.Add(-sameSecond)
	// Digests written in the same seconds may list the objects too.
	for i := len(mine) - 2; i >= 0 && !mine[i].Modified.Before(since); i-- {
		b, err := w.deps.Store.Read(ctx, mine[i].Key)
		if err != nil {
			return fmt.Errorf("read digest %s: %w", mine[i].Key, err)
		}
		older, err := parse(b)
		if err != nil {
			return fmt.Errorf("digest %s: %w", mine[i].Key, err)
		}
		for _, e := range older.Objects {
			listed[e.Key] = true
		}
	}
	data, err := w.deps.Store.List(ctx, w.cfg.Prefix)
	if err != nil {
		return fmt.Errorf("list data: %w", err)
	}
	var found []Entry
	for _, o := range data {
		if strings.HasPrefix(o.Key, w.cfg.Prefix+Dir) || !w.deps.Data(o.Key) || o.Modified.Before(since) || listed[o.Key] || w.isPending(o.Key) {
			continue
		}
		b, err := w.deps.Store.Read(ctx, o.Key)
		if err != nil {
			return fmt.Errorf("read %s: %w", o.Key, err)
		}
		e := Entry{}
		if w.deps.Describe != nil {
			e = w.deps.Describe(o.Key, b)
		}
		e.Key, e.SHA256, e.Size = o.Key, Hash(b), int64(len(b))
		found = append(found, e)
	}
	w.prev = &Link{Key: last.Key, SHA256: Hash(body)}
	w.prevEnd = d.End
	w.recovered = true
	w.mu.Lock()
	for _, e := range found {
		w.add(e)
	}
	w.mu.Unlock()
	if len(found) > 0 {
		w.log.Info("objects written before a restart and not yet in a digest; the next digest lists them", "objects", len(found), "since", last.Key)
	}
	return nil
}

// Flush writes a digest now if objects are waiting (recovering first).
func (w *Writer) Flush(ctx context.Context) error {
	w.io.Lock()
	defer w.io.Unlock()
	if w.Pending() == 0 && !w.recovered {
		return nil // nothing written: no genesis digest either
	}
	if err := w.recover(ctx); err != nil {
		return err
	}
	w.mu.Lock()
	objs := slices.Clone(w.pending)
	w.mu.Unlock()
	if len(objs) == 0 {
		return nil
	}
	if err := w.flush(ctx, objs); err != nil {
		return err
	}
	// Objects added while the digest was written stay for the next.
	w.mu.Lock()
	for _, e := range objs {
		delete(w.keys, e.Key)
	}
	w.pending = slices.Clone(w.pending[len(objs):])
	w.mu.Unlock()
	return nil
}

// flush writes the digest of objs (none: the genesis digest of a chain);
// the caller holds io. The key is created only if absent: a key taken (by
// a digest of another writer in the same millisecond) moves on by 1ms.
func (w *Writer) flush(ctx context.Context, objs []Entry) error {
	if w.deps.Fenced != nil && w.deps.Fenced() {
		return ErrFenced
	}
	end := w.deps.Now().UTC().Truncate(time.Millisecond)
	if !end.After(w.prevEnd) {
		end = w.prevEnd.Add(time.Millisecond)
	}
	start := w.prevEnd
	if start.IsZero() {
		start = end
	}
	d := Digest{Version: Version, Stream: w.cfg.Stream, Start: start, End: end, Previous: w.prev, Objects: objs}
	if d.Objects == nil {
		d.Objects = []Entry{}
	}
	for range 10 {
		key := Key(w.cfg.Prefix, w.cfg.Stream, d.End)
		body, err := Sign(w.deps.Signer, d)
		if err != nil {
			return err
		}
		err = w.deps.Store.Create(ctx, key, body)
		if errors.Is(err, ErrExists) {
			d.End = d.End.Add(time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("write digest %s: %w", key, err)
		}
		w.prev, w.prevEnd = &Link{Key: key, SHA256: Hash(body)}, d.End
		w.log.Info("digest written", "key", key, "objects", len(d.Objects))
		return nil
	}
	return errors.New("write digest: ten keys in a row already exist")
}

// Close stops the timer and writes a last digest of the objects waiting.
// It may be called more than once.
func (w *Writer) Close(ctx context.Context) error {
	w.once.Do(func() {
		w.mu.Lock()
		started := w.started
		w.started = true // a Start after Close starts nothing
		w.mu.Unlock()
		close(w.stop)
		if started {
			<-w.done
		}
		w.closeErr = w.Flush(ctx)
		w.report(w.closeErr)
	})
	return w.closeErr
}
