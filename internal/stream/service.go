package stream

import (
	"context"
	"log/slog"
	"time"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// Lifecycle event types, Okta's names for log stream changes (OKTA.md §3.4).
const (
	EventCreate     = "system.log_stream.lifecycle.create"
	EventUpdate     = "system.log_stream.lifecycle.update"
	EventActivate   = "system.log_stream.lifecycle.activate"
	EventDeactivate = "system.log_stream.lifecycle.deactivate"
	EventDelete     = "system.log_stream.lifecycle.delete"
)

var lifecycleMessages = map[string]string{
	EventCreate:     "Create log stream",
	EventUpdate:     "Update log stream",
	EventActivate:   "Activate log stream",
	EventDeactivate: "Deactivate log stream",
	EventDelete:     "Delete log stream",
}

// ServiceDeps are a Service's collaborators.
type ServiceDeps struct {
	Journal    *journal.Journal
	Store      *Store
	Supervisor *Supervisor
	// SystemOrg receives the lifecycle events of streams of every org.
	SystemOrg string
	Log       *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
}

// Service carries out what can be done to log streams (the use cases the
// API offers): create with a pinned consumer, change, activate and
// deactivate, delete, replay, dead letters and their redrive, status. It
// writes the System Log event of each change. Callers check the request
// (settings, filter, the caller's org) before they call; the Service
// refuses only what no caller may do (ErrReadOnly).
type Service struct {
	d ServiceDeps
}

// NewService builds the service.
func NewService(d ServiceDeps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{d: d}
}

// List returns every log stream.
func (s *Service) List() []Definition { return s.d.Store.List() }

// Get returns the log stream id.
func (s *Service) Get(id string) (Definition, bool) { return s.d.Store.Get(id) }

// Create stores d as a new log stream and writes its creation event.
// Delivery starts with the next event the journal stores after the
// creation event: the consumer is pinned there before Create returns, so
// events sent right after it are never missed, and the stream does not
// receive its own creation event.
func (s *Service) Create(ctx context.Context, actor sysevent.Ref, d Definition) (Definition, error) {
	s.record(ctx, actor, EventCreate, d)
	if d.JournalOrg() == "" && len(s.d.Journal.Partitions()) > 1 {
		// Every org's events are in several partitions, whose sequences
		// differ: start at the time instead (ensureAllPartitions).
		d.StartTime = time.Now().UTC()
	} else {
		last, err := s.d.Journal.LastSeqOf(ctx, d.JournalOrg())
		if err != nil {
			return Definition{}, err
		}
		d.StartSeq = last + 1
	}
	if _, err := EnsureConsumer(ctx, s.d.Journal, d); err != nil {
		return Definition{}, err
	}
	if err := s.d.Store.Put(ctx, d); err != nil {
		return Definition{}, err
	}
	s.d.Log.Info("log stream created", "stream", d.ID, "type", d.Type, "org", d.Org)
	return d, nil
}

// Update replaces old with d (the same stream, changed) and writes the
// update event. A new org means a new subject filter: the stream then
// starts a new consumer where the old one stood.
func (s *Service) Update(ctx context.Context, actor sysevent.Ref, old, d Definition) (Definition, error) {
	if old.ReadOnly {
		return Definition{}, ErrReadOnly
	}
	d.LastUpdated = s.now()
	if d.Org != old.Org {
		d.Epoch++
		d.StartSeq, d.StartTime = 0, time.Now()
	}
	if err := s.d.Store.Put(ctx, d); err != nil {
		return Definition{}, err
	}
	s.record(ctx, actor, EventUpdate, d)
	return d, nil
}

// SetStatus activates (StatusActive) or deactivates (StatusInactive) d
// and writes the event. Activating again resumes a stream its destination
// paused.
func (s *Service) SetStatus(ctx context.Context, actor sysevent.Ref, d Definition, status string) (Definition, error) {
	if d.ReadOnly {
		return Definition{}, ErrReadOnly
	}
	ev := EventDeactivate
	if status == StatusActive {
		d.Resume++
		ev = EventActivate
	}
	d.Status = status
	d.LastUpdated = s.now()
	if err := s.d.Store.Put(ctx, d); err != nil {
		return Definition{}, err
	}
	s.record(ctx, actor, ev, d)
	return d, nil
}

// Delete removes d and writes the event.
func (s *Service) Delete(ctx context.Context, actor sysevent.Ref, d Definition) error {
	if d.ReadOnly {
		return ErrReadOnly
	}
	if err := s.d.Store.Delete(ctx, d.ID); err != nil {
		return err
	}
	s.record(ctx, actor, EventDelete, d)
	return nil
}

// Replay starts a new epoch of d whose consumer begins at the events the
// journal received at or after since; the consumer is created before
// Replay returns.
func (s *Service) Replay(ctx context.Context, d Definition, since time.Time) (Definition, error) {
	if d.ReadOnly {
		return Definition{}, ErrReadOnly
	}
	d.Epoch++
	d.StartSeq, d.StartTime = 0, since.UTC()
	d.LastUpdated = s.now()
	if _, err := EnsureConsumer(ctx, s.d.Journal, d); err != nil {
		return Definition{}, err
	}
	if err := s.d.Store.Put(ctx, d); err != nil {
		return Definition{}, err
	}
	return d, nil
}

// Status returns d's status with its lag (Supervisor.Snapshot).
func (s *Service) Status(ctx context.Context, d Definition) Snapshot {
	return s.d.Supervisor.Snapshot(ctx, d)
}

// DeadLetters returns up to limit of d's dead letters, oldest first.
func (s *Service) DeadLetters(ctx context.Context, d Definition, limit int) ([]DeadLetter, error) {
	return ListDeadLetters(ctx, s.d.Journal, d.ID, limit)
}

// RedriveError is a redrive the destination stopped: N dead letters were
// redriven before it refused one.
type RedriveError struct {
	N   int
	Err error
}

func (e *RedriveError) Error() string { return e.Err.Error() }

func (e *RedriveError) Unwrap() error { return e.Err }

// Redrive writes d's dead letters to a fresh sink of d's destination,
// removing each one it accepts, and returns how many it redrove. An error
// of the destination is a *RedriveError; an error building the sink is
// returned as it is.
func (s *Service) Redrive(ctx context.Context, d Definition) (int, error) {
	sk, err := s.d.Supervisor.Sink(d)
	if err != nil {
		return 0, err
	}
	defer sk.Close(context.WithoutCancel(ctx))
	n, err := Redrive(ctx, s.d.Journal, d.ID, sk, s.d.Supervisor.StatusOf(d.ID))
	if err != nil {
		return n, &RedriveError{N: n, Err: err}
	}
	return n, nil
}

// now is the time of a change, to the millisecond (Okta's precision).
func (s *Service) now() time.Time { return s.d.Now().UTC().Truncate(time.Millisecond) }

// record appends a System Log event about a change to d, as Okta does, to
// d's org (SystemOrg for a stream of every org). The change has already
// happened: a journal that cannot take the event is logged, not reported.
func (s *Service) record(ctx context.Context, actor sysevent.Ref, eventType string, d Definition) {
	err := sysevent.Write(ctx, s.d.Journal, sysevent.Spec{Type: eventType, Message: lifecycleMessages[eventType], Actor: actor,
		Targets: []sysevent.Ref{{ID: d.ID, Type: "LogStream", AlternateID: d.Type, DisplayName: d.Name}}, Org: sysevent.OrgFor(d.Org, s.d.SystemOrg)}, s.d.Now())
	if err != nil {
		s.d.Log.Warn("record stream change", "stream", d.ID, "event", eventType, "err", err)
	}
}
