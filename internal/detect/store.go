package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/detect/correlate"
)

// BucketDetections holds each detection's triage state.
const BucketDetections = "auditstream_detections"

// Triage states of a detection.
const (
	TriageOpen         = "OPEN"
	TriageAcknowledged = "ACKNOWLEDGED"
	TriageClosed       = "CLOSED"
)

// Detection is a detection as the API lists it: what the detection event
// says, plus its triage state.
type Detection struct {
	ID          string                 `json:"id"`
	Org         string                 `json:"org"`
	Rule        string                 `json:"rule"`
	Title       string                 `json:"title"`
	Level       string                 `json:"level"`
	Severity    string                 `json:"severity"`
	EventType   string                 `json:"eventType"`
	Author      string                 `json:"author,omitempty"`
	License     string                 `json:"license,omitempty"`
	Published   time.Time              `json:"published"`
	WindowStart time.Time              `json:"windowStart,omitzero"`
	WindowEnd   time.Time              `json:"windowEnd,omitzero"`
	Group       []correlate.GroupField `json:"group,omitempty"`
	Count       int                    `json:"count"`
	Events      []string               `json:"events,omitempty"`
	// SuppressedCount counts firings of the group suppressed after this
	// detection; LastEvent and LastSeen are the newest of them.
	SuppressedCount int       `json:"suppressedCount"`
	LastEvent       string    `json:"lastEvent,omitempty"`
	LastSeen        time.Time `json:"lastSeen,omitzero"`
	Status          string    `json:"status"`
	Note            string    `json:"note,omitempty"`
	Updated         time.Time `json:"updated,omitzero"`
	UpdatedBy       string    `json:"updatedBy,omitempty"`
	// SummaryOf, on a suppression summary, is the detection whose
	// suppression period it sums up (Count firings suppressed).
	SummaryOf string `json:"summaryOf,omitempty"`
}

// DetectionOf describes a raised detection (status OPEN).
func DetectionOf(r Raised) Detection {
	d := r.Detection
	return Detection{ID: d.ID, Org: d.Org, Rule: r.Info.ID, Title: r.Info.Title, Level: cmpOr(r.Info.Level, "medium"),
		Severity: Severity(r.Info.Level), EventType: r.Record.EventType, Author: r.Info.Author, License: r.Info.License,
		Published: d.Time, WindowStart: d.WindowStart, WindowEnd: d.WindowEnd, Group: d.Group, Count: d.Count,
		Events: d.Events, Status: TriageOpen, SummaryOf: d.SummaryOf}
}

// Store keeps detections' triage state in BucketDetections, one entry per
// (org, detection).
//
// Suppressed firings are counted in memory first: the node that evaluates
// (the lease holder) is the only writer of suppression counts, so its memory
// is the authoritative count and the bucket the durable copy, written at
// most once per suppressedWriteInterval per detection and whenever
// Suppressed is called with nothing (the runtime's tick and each checkpoint).
// Every write is a compare-and-set on the entry's revision: a triage update
// made meanwhile (on any node) makes it re-read the entry, so it is kept.
type Store struct {
	kv jetstream.KeyValue
	mu sync.Mutex
	// open are detections as this store last read or wrote them; pending
	// the suppressions not yet written, by org and detection.
	open    map[string]*openDetection
	pending map[string]correlate.Suppression
	now     func() time.Time
}

// openDetection is a detection's entry as last read or written here.
type openDetection struct {
	d       Detection
	rev     uint64
	written time.Time
}

// suppressedWriteInterval is how often at most a detection's suppression
// count is written while its firings keep being suppressed.
const suppressedWriteInterval = time.Second

// maxOpenCached bounds the detections whose entries the store keeps.
const maxOpenCached = 4096

// NewStore uses kv (BucketDetections).
func NewStore(kv jetstream.KeyValue) *Store {
	return &Store{kv: kv, open: map[string]*openDetection{}, pending: map[string]correlate.Suppression{}, now: time.Now}
}

func detKey(org, id string) string { return "d." + org + "." + id }

// ErrNotFound is returned for a detection that does not exist (in the org).
var ErrNotFound = errors.New("not found")

// Record stores raised detections as OPEN; a detection already stored (a
// replay, a restart) keeps its triage state. Each is added to the list
// index (index.go) unless it is there already, also when stored before
// (a writer that stopped between the two).
func (s *Store) Record(ctx context.Context, rs []Raised) error {
	var errs []error
	for _, r := range rs {
		d := DetectionOf(r)
		b, _ := json.Marshal(d)
		_, err := s.kv.Create(ctx, detKey(d.Org, d.ID), b)
		stored := errors.Is(err, jetstream.ErrKeyExists)
		if err != nil && !stored {
			errs = append(errs, err)
			continue
		}
		if err := s.index(ctx, d, stored); err != nil {
			errs = append(errs, fmt.Errorf("detection %s of %s is not in the list index: %w", d.ID, d.Org, err))
		}
	}
	return errors.Join(errs...)
}

// Get returns org's detection id.
func (s *Store) Get(ctx context.Context, org, id string) (Detection, uint64, error) {
	var d Detection
	if strings.ContainsAny(id, ".*> ") || id == "" {
		return d, 0, ErrNotFound
	}
	e, err := s.kv.Get(ctx, detKey(org, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return d, 0, ErrNotFound
	}
	if err != nil {
		return d, 0, err
	}
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return d, 0, fmt.Errorf("detection %s: %w", id, err)
	}
	return d, e.Revision(), nil
}

// Filter selects detections in List.
type Filter struct {
	Rule   string
	Status string
	Since  time.Time
	Limit  int
}

// List returns the first page of org's detections matching f, newest
// first (ListPage).
func (s *Store) List(ctx context.Context, org string, f Filter) ([]Detection, error) {
	p, err := s.ListPage(ctx, org, f, Cursor{})
	return p.Detections, err
}

// Update sets org's detection id's triage status and note, by actor.
func (s *Store) Update(ctx context.Context, org, id, status, note, actor string, now time.Time) (Detection, error) {
	for range 5 {
		d, rev, err := s.Get(ctx, org, id)
		if err != nil {
			return d, err
		}
		d.Status, d.Note, d.Updated, d.UpdatedBy = status, note, now.UTC(), actor
		b, _ := json.Marshal(d)
		if nrev, err := s.kv.Update(ctx, detKey(org, id), b, rev); err == nil {
			s.mu.Lock()
			if o := s.open[org+"\x00"+id]; o != nil {
				o.d, o.rev = d, nrev
			}
			s.mu.Unlock()
			return d, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return d, err
		}
	}
	return Detection{}, errors.New("detection changed concurrently, try again")
}

// Suppressed records suppressed firings on their open detections: the count
// and the newest event. Several firings of one detection count once each;
// the newest wins for LastEvent. A detection written less than
// suppressedWriteInterval ago is written later; called with no firings,
// Suppressed writes every count not yet written (the runtime does so every
// tick and before each checkpoint, so a restart, which re-evaluates from the
// checkpoint, never misses a count).
func (s *Store) Suppressed(ctx context.Context, ss []correlate.Suppression) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range ss {
		k := x.Org + "\x00" + x.OpenID
		if p, ok := s.pending[k]; !ok || x.Count >= p.Count {
			s.pending[k] = x
		}
	}
	now := s.now()
	var errs []error
	for k, x := range s.pending {
		o := s.open[k]
		if o != nil && x.Count <= o.d.SuppressedCount {
			delete(s.pending, k) // already recorded (a replay)
			continue
		}
		if o != nil && len(ss) > 0 && now.Sub(o.written) < suppressedWriteInterval {
			continue
		}
		if err := s.writeSuppressed(ctx, k, x, o, now); err != nil {
			errs = append(errs, err) // kept pending: tried again at the next call
			continue
		}
		delete(s.pending, k)
	}
	return errors.Join(errs...)
}

// writeSuppressed writes x on its detection, starting from o (nil: read the
// entry); s.mu is held.
func (s *Store) writeSuppressed(ctx context.Context, k string, x correlate.Suppression, o *openDetection, now time.Time) error {
	for range 5 {
		if o == nil {
			d, rev, err := s.Get(ctx, x.Org, x.OpenID)
			if err != nil {
				if errors.Is(err, ErrNotFound) {
					return nil
				}
				return err
			}
			o = &openDetection{d: d, rev: rev}
			s.cache(k, o)
		}
		if x.Count <= o.d.SuppressedCount {
			return nil // already recorded (a replay)
		}
		d := o.d
		d.SuppressedCount, d.LastEvent, d.LastSeen = x.Count, x.LastUID, x.Time
		b, _ := json.Marshal(d)
		rev, err := s.kv.Update(ctx, detKey(x.Org, x.OpenID), b, o.rev)
		if err == nil {
			o.d, o.rev, o.written = d, rev, now
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
		// Changed since (a triage update): read it again.
		delete(s.open, k)
		o = nil
	}
	return fmt.Errorf("detection %s changed concurrently", x.OpenID)
}

// cache keeps o as k's entry, first dropping every entry without a pending
// write when the cache is full; s.mu is held.
func (s *Store) cache(k string, o *openDetection) {
	if len(s.open) >= maxOpenCached {
		for ck := range s.open {
			if _, ok := s.pending[ck]; !ok {
				delete(s.open, ck)
			}
		}
	}
	s.open[k] = o
}
