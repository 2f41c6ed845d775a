package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// component is one item of the service's lifecycle (Prometheus's
// run.Group actors, OTel's Start/Shutdown): app.Run starts the items in
// order and stops them in reverse.
type component struct {
	// name is how logs and errors name the item.
	name string
	// run does the item's work until its context ends (or stop makes it
	// return) and returns quickly then; nil when there is nothing to run.
	// A run that returns early with an error stops the service.
	run func(ctx context.Context) error
	// stop, when set, makes run return (an HTTP server's Shutdown) or
	// releases what the item holds (the journal's Close). It is called
	// before run's context ends and must work when run never started.
	// Its ctx carries the shutdown deadline.
	stop func(ctx context.Context) error
}

// lifecycle runs an ordered list of components.
type lifecycle struct {
	items []component
	log   *slog.Logger

	started []*started
	// exited receives the error of a run that returned before its stop.
	exited chan error
}

// started is a component whose run is under way.
type started struct {
	component
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	// stopping is set once stop began: run returning is then expected.
	stopping bool
}

func newLifecycle(log *slog.Logger, items ...component) *lifecycle {
	return &lifecycle{items: items, log: log, exited: make(chan error, len(items))}
}

// start starts each item's run, in order. The runs' contexts keep ctx's
// values but not its cancellation: stop ends them, in reverse order.
func (l *lifecycle) start(ctx context.Context) {
	base := context.WithoutCancel(ctx)
	for _, c := range l.items {
		s := &started{component: c, done: make(chan struct{})}
		l.started = append(l.started, s)
		if c.run == nil {
			close(s.done)
			continue
		}
		var rctx context.Context
		rctx, s.cancel = context.WithCancel(base)
		go func() {
			defer close(s.done)
			err := c.run(rctx)
			s.mu.Lock()
			early := !s.stopping
			s.mu.Unlock()
			if early {
				if err == nil {
					err = errors.New("returned before it was stopped")
				}
				l.exited <- fmt.Errorf("%s: %w", c.name, err)
			}
		}()
	}
}

// stop stops every item in reverse order (also those whose run never
// started, after a failed start), all under ctx's deadline. An item that
// does not stop in time is reported and the next is stopped anyway.
func (l *lifecycle) stop(ctx context.Context) error {
	var errs []error
	for i := len(l.items) - 1; i >= 0; i-- {
		c := l.items[i]
		var s *started
		if i < len(l.started) {
			s = l.started[i]
			s.mu.Lock()
			s.stopping = true
			s.mu.Unlock()
		}
		if c.stop != nil {
			if err := c.stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.name, err))
			}
		}
		if s == nil {
			continue
		}
		if s.cancel != nil {
			s.cancel()
		}
		select {
		case <-s.done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%s: did not stop before the shutdown deadline", c.name))
		}
		l.log.Debug("stopped", "component", c.name)
	}
	return errors.Join(errs...)
}
