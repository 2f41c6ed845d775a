// Package kvstore mirrors a JetStream key-value bucket of JSON records in
// memory and keeps the mirror live with a watch, so every node sees the
// records any node writes within moments and reads cost no round trip.
//
// It is the one implementation behind tokens, log stream definitions and
// source definitions. Writes go to the bucket first and then to the
// mirror; the watch later delivers the same write, which is recognised by
// its revision and not applied twice, and an older write the watch is late
// with can never undo a newer one (a deleted token stays deleted).
//
// A Codec (WithCodec) may seal the records at rest; Reseal rewrites a
// bucket with a codec's current key and leaves no older copy behind.
package kvstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrExists is returned by Create for a key that is already there.
var ErrExists = errors.New("record already exists")

// Codec turns a record's JSON into the bytes the bucket stores and back,
// to seal records at rest (*secret.Keyring is one). bucket and key name
// the record, so that a codec can bind the stored bytes to it. Open must
// accept what Seal returns and may refuse anything else with an error
// that says why.
type Codec interface {
	Seal(bucket, key string, plain []byte) ([]byte, error)
	Open(bucket, key string, stored []byte) ([]byte, error)
}

// Option changes how a Store reads and writes its records.
type Option func(*options)

type options struct{ codec Codec }

// WithCodec stores records through c. A record c cannot open when the
// Store is opened makes Open fail (naming the record), so a service does
// not start without the key its records were sealed with; one that
// arrives later through the watch is logged and skipped.
func WithCodec(c Codec) Option { return func(o *options) { o.codec = c } }

// Store is the live mirror of one bucket. It is safe for concurrent use.
type Store[T any] struct {
	kv    jetstream.KeyValue
	what  string
	log   *slog.Logger
	codec Codec // nil: records are stored as JSON

	// loadErrs are the records the initial load could not open.
	loadErrs []error

	mu       sync.RWMutex
	items    map[string]T
	rev      map[string]uint64 // newest revision applied per key
	version  uint64            // counts changes to items
	watchers []chan struct{}

	ready chan struct{}
	stop  context.CancelFunc
	done  chan struct{}
	once  sync.Once
}

// Open loads the bucket and follows its changes until Close. what names
// the records in errors and logs ("token", "log stream").
func Open[T any](ctx context.Context, kv jetstream.KeyValue, what string, log *slog.Logger, opts ...Option) (*Store[T], error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store[T]{kv: kv, what: what, log: log, codec: o.codec, items: map[string]T{}, rev: map[string]uint64{},
		ready: make(chan struct{}), done: make(chan struct{})}
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch %s records: %w", what, err)
	}
	go s.follow(w)
	select {
	case <-s.ready:
		s.mu.RLock()
		errs := s.loadErrs
		s.mu.RUnlock()
		if len(errs) > 0 {
			s.Close()
			return nil, errors.Join(errs...)
		}
		return s, nil
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

func (s *Store[T]) follow(w jetstream.KeyWatcher) {
	defer close(s.done)
	defer func() { _ = w.Stop() }()
	ready := sync.OnceFunc(func() { close(s.ready) })
	defer ready()
	loading := true
	for e := range w.Updates() {
		if e == nil { // the bucket's current records have all arrived
			loading = false
			ready()
			continue
		}
		s.apply(e, loading)
	}
}

func (s *Store[T]) apply(e jetstream.KeyValueEntry, loading bool) {
	key := e.Key()
	s.mu.Lock()
	if e.Revision() <= s.rev[key] {
		s.mu.Unlock()
		return
	}
	s.rev[key] = e.Revision()
	if e.Operation() == jetstream.KeyValuePut {
		plain, err := s.open(key, e.Value())
		if err != nil {
			err = fmt.Errorf("%s %s (bucket %s): %w", s.what, key, s.kv.Bucket(), err)
			if loading { // Open returns it
				s.loadErrs = append(s.loadErrs, err)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			s.log.Error("unreadable record skipped", "kind", s.what, "key", key, "err", err)
			return
		}
		var v T
		if err := json.Unmarshal(plain, &v); err != nil {
			s.mu.Unlock()
			s.log.Error("unreadable record skipped", "kind", s.what, "key", key, "err", err)
			return
		}
		s.items[key] = v
	} else {
		delete(s.items, key)
	}
	s.version++
	s.mu.Unlock()
	s.notify()
}

func (s *Store[T]) notify() {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range s.watchers {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Changes returns a channel that receives a value (coalesced) whenever a
// record changes.
func (s *Store[T]) Changes() <-chan struct{} {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.watchers = append(s.watchers, c)
	s.mu.Unlock()
	return c
}

// Close stops following changes. It is safe to call more than once.
func (s *Store[T]) Close() {
	s.once.Do(func() {
		s.stop()
		<-s.done
	})
}

// Get returns the record at key.
func (s *Store[T]) Get(key string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.items[key]
	return v, ok
}

// All returns every record, in no particular order.
func (s *Store[T]) All() []T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]T, 0, len(s.items))
	for _, v := range s.items {
		out = append(out, v)
	}
	return out
}

// Version changes whenever a record does; callers that keep an index of
// the records rebuild it when it moves.
func (s *Store[T]) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// Put stores v at key, replacing what is there.
func (s *Store[T]) Put(ctx context.Context, key string, v T) error {
	return s.write(ctx, key, v, false)
}

// Create stores v at key, failing with ErrExists when the key is taken.
func (s *Store[T]) Create(ctx context.Context, key string, v T) error {
	return s.write(ctx, key, v, true)
}

func (s *Store[T]) write(ctx context.Context, key string, v T, create bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// Mirror what the watch will deliver: marshalling rewrites raw JSON
	// (compacts it, escapes <, > and &), and a decoded copy also shares no
	// memory with the caller's value.
	var stored T
	if err := json.Unmarshal(b, &stored); err != nil {
		return err
	}
	if s.codec != nil {
		if b, err = s.codec.Seal(s.kv.Bucket(), key, b); err != nil {
			return fmt.Errorf("seal %s %s: %w", s.what, key, err)
		}
	}
	var rev uint64
	if create {
		rev, err = s.kv.Create(ctx, key, b)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%s %s: %w", s.what, key, ErrExists)
		}
	} else {
		rev, err = s.kv.Put(ctx, key, b)
	}
	if err != nil {
		return fmt.Errorf("store %s %s: %w", s.what, key, err)
	}
	s.mu.Lock()
	if rev > s.rev[key] {
		s.rev[key] = rev
		s.items[key] = stored
		s.version++
	}
	s.mu.Unlock()
	s.notify()
	return nil
}

func (s *Store[T]) open(key string, stored []byte) ([]byte, error) {
	if s.codec == nil {
		return stored, nil
	}
	return s.codec.Open(s.kv.Bucket(), key, stored)
}

// Delete removes the record at key. Deleting a missing key is not an error.
func (s *Store[T]) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s %s: %w", s.what, key, err)
	}
	s.mu.Lock()
	if _, ok := s.items[key]; ok {
		delete(s.items, key)
		s.version++
	}
	s.mu.Unlock()
	s.notify()
	return nil
}
