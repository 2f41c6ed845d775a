// Package kvstore mirrors a JetStream key-value bucket of JSON records in
// memory and keeps the mirror live with a watch, so every node sees the
// records any node writes within moments and reads cost no round trip.
//
// It is the one implementation behind tokens, log stream definitions and
// source definitions. Writes go to the bucket first and then to the
// mirror; the watch later delivers the same write, which is recognised by
// its revision and not applied twice, and an older write the watch is late
// with can never undo a newer one (a deleted token stays deleted).
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

// Store is the live mirror of one bucket. It is safe for concurrent use.
type Store[T any] struct {
	kv   jetstream.KeyValue
	what string
	log  *slog.Logger

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
func Open[T any](ctx context.Context, kv jetstream.KeyValue, what string, log *slog.Logger) (*Store[T], error) {
	s := &Store[T]{kv: kv, what: what, log: log, items: map[string]T{}, rev: map[string]uint64{},
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
	for e := range w.Updates() {
		if e == nil { // the bucket's current records have all arrived
			ready()
			continue
		}
		s.apply(e)
	}
}

func (s *Store[T]) apply(e jetstream.KeyValueEntry) {
	key := e.Key()
	s.mu.Lock()
	if e.Revision() <= s.rev[key] {
		s.mu.Unlock()
		return
	}
	s.rev[key] = e.Revision()
	if e.Operation() == jetstream.KeyValuePut {
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
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
