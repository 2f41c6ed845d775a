package stream

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound is returned for an unknown stream id.
var ErrNotFound = errors.New("log stream not found")

// ErrReadOnly is returned when changing a stream declared in the config file.
var ErrReadOnly = errors.New("log stream is declared in the config file and is read-only")

// Store keeps stream definitions in a KV bucket, plus read-only ones from
// the config file, and lets callers follow changes. Safe for concurrent use.
type Store struct {
	kv  jetstream.KeyValue
	log *slog.Logger

	mu       sync.RWMutex
	defs     map[string]Definition
	fixed    map[string]Definition // from the config file
	watchers []chan struct{}
	ready    chan struct{}
	stop     context.CancelFunc
	done     chan struct{}
}

// NewStore loads the definitions in kv and follows changes until Close.
// fixed are the config file's streams.
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
		return nil, fmt.Errorf("watch log streams: %w", err)
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
				s.log.Error("bad log stream record", "id", e.Key(), "err", err)
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

// Close stops following changes.
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
		out = append(out, d)
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
		return cmpString(a.ID, b.ID)
	})
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
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

// Put stores d (create or replace). Read-only streams cannot be changed.
func (s *Store) Put(ctx context.Context, d Definition) error {
	if _, ok := s.fixed[d.ID]; ok {
		return ErrReadOnly
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	// Cache what the watch will deliver: marshalling rewrites raw JSON
	// (compacts it, escapes <, > and &), and comparing the two forms would
	// restart the stream's runner for nothing.
	var stored Definition // fresh: RawMessage decoding reuses a target's memory
	if err := json.Unmarshal(b, &stored); err != nil {
		return err
	}
	d = stored
	if _, err := s.kv.Put(ctx, d.ID, b); err != nil {
		return fmt.Errorf("store log stream: %w", err)
	}
	s.mu.Lock()
	s.defs[d.ID] = d
	s.mu.Unlock()
	s.notify()
	return nil
}

// Delete removes a stream definition.
func (s *Store) Delete(ctx context.Context, id string) error {
	if _, ok := s.fixed[id]; ok {
		return ErrReadOnly
	}
	if _, ok := s.Get(id); !ok {
		return ErrNotFound
	}
	if err := s.kv.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete log stream: %w", err)
	}
	s.mu.Lock()
	delete(s.defs, id)
	s.mu.Unlock()
	s.notify()
	return nil
}

// NewID returns a fresh stream id in Okta's style (20 characters).
func NewID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b [17]byte
	_, _ = rand.Read(b[:])
	out := []byte("0oa")
	for _, c := range b {
		out = append(out, alphabet[int(c)%len(alphabet)])
	}
	return string(out)
}
