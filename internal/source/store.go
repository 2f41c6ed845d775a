package source

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound is returned for an unknown source id.
var ErrNotFound = errors.New("source not found")

// ErrReadOnly is returned when changing a source declared in the config file.
var ErrReadOnly = errors.New("source is declared in the config file and is read-only")

// Store keeps source definitions in a KV bucket, plus read-only ones from
// the config file, and lets callers follow changes. Safe for concurrent use.
type Store struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu       sync.RWMutex
	defs     map[string]Definition
	fixed    map[string]Definition
	watchers []chan struct{}
	ready    chan struct{}
	stop     context.CancelFunc
	done     chan struct{}
}

// NewStore loads the definitions in kv and follows changes until Close.
// fixed are the config file's sources.
func NewStore(ctx context.Context, kv jetstream.KeyValue, fixed []Definition, log *slog.Logger) (*Store, error) {
	s := &Store{kv: kv, log: log, defs: map[string]Definition{}, fixed: map[string]Definition{},
		ready: make(chan struct{}), done: make(chan struct{})}
	for _, d := range fixed {
		d.ReadOnly = true
		s.fixed[d.ID] = d
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("watch sources: %w", err)
	}
	go s.follow(w)
	select {
	case <-s.ready:
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	return s, nil
}

func (s *Store) follow(w jetstream.KeyWatcher) {
	defer close(s.done)
	defer func() { _ = w.Stop() }()
	once := sync.OnceFunc(func() { close(s.ready) })
	for e := range w.Updates() {
		if e == nil {
			once()
			continue
		}
		s.mu.Lock()
		if e.Operation() == jetstream.KeyValuePut {
			var d Definition
			if err := json.Unmarshal(e.Value(), &d); err != nil {
				s.log.Error("bad source record", "id", e.Key(), "err", err)
			} else {
				s.defs[d.ID] = d
			}
		} else {
			delete(s.defs, e.Key())
		}
		s.mu.Unlock()
		s.notify()
	}
	once()
}

func (s *Store) notify() {
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
// definition changes.
func (s *Store) Changes() <-chan struct{} {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.watchers = append(s.watchers, c)
	s.mu.Unlock()
	return c
}

// Close stops following changes. It is safe to call more than once.
func (s *Store) Close() {
	s.stop()
	<-s.done
}

// List returns all definitions, config-file ones first, then by creation.
func (s *Store) List() []Definition {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Definition, 0, len(s.defs)+len(s.fixed))
	for _, d := range s.fixed {
		out = append(out, d)
	}
	for _, d := range s.defs {
		if _, shadowed := s.fixed[d.ID]; !shadowed {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Definition) int {
		if a.ReadOnly != b.ReadOnly {
			if a.ReadOnly {
				return -1
			}
			return 1
		}
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns one definition.
func (s *Store) Get(id string) (Definition, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if d, ok := s.fixed[id]; ok {
		return d, true
	}
	d, ok := s.defs[id]
	return d, ok
}

// Put stores d (create or replace). Read-only sources cannot be changed.
func (s *Store) Put(ctx context.Context, d Definition) error {
	if _, ok := s.fixed[d.ID]; ok {
		return ErrReadOnly
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, d.ID, b); err != nil {
		return fmt.Errorf("store source: %w", err)
	}
	s.mu.Lock()
	s.defs[d.ID] = d
	s.mu.Unlock()
	s.notify()
	return nil
}

// Delete removes a source definition.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, ok := s.fixed[id]; ok {
		return ErrReadOnly
	}
	if _, ok := s.Get(id); !ok {
		return ErrNotFound
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete source: %w", err)
	}
	s.mu.Lock()
	delete(s.defs, id)
	s.mu.Unlock()
	s.notify()
	return nil
}
