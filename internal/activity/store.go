package activity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// Bucket is the JetStream KV bucket of the profiles and the fold's
// checkpoint.
const Bucket = "auditstream_activity"

// cursorKey holds the checkpoint: the journal message sequence every
// profile covers, one per journal partition ("12" with one partition, as
// before partitions; "12,0,7" with three).
const cursorKey = "_cursor"

// DefaultMaxCached is how many profiles the store keeps in memory by
// default; the others are read from the bucket when needed.
const DefaultMaxCached = 100_000

// Config is what an operator sets.
type Config struct {
	// Limits bound each profile.
	Limits Limits
	// MaxCached bounds the profiles kept in memory (0: DefaultMaxCached).
	MaxCached int
}

// Deps are handed in.
type Deps struct {
	// KV is the bucket of profiles (Bucket on the journal).
	KV jetstream.KeyValue
	// Journal is read by Run.
	Journal *journal.Journal
	// Fanout, when set, is the followers' shared reader of the journal
	// Run reads through (nil: a reader of its own).
	Fanout *journal.Fanout
	Log    *slog.Logger
	// Registry, when set, receives the store's metrics.
	Registry prometheus.Registerer
}

type key struct{ org, user string }

// Store holds the profiles: in memory for the users seen lately, in the
// KV bucket for all. It is safe for concurrent use.
type Store struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu       sync.Mutex
	profiles map[key]*Profile
	dirty    map[key]bool
	// enc is Flush's encoding buffer, reused (the KV put copies it).
	enc []byte
	// in interns the fold's repeated strings, targets holds an event's
	// targets while it is folded (both under mu).
	in      interner
	targets []target
	// detUsers are, by (org, detection id), the users a detection was
	// folded into: a triage event names only the detection. Stored in the
	// bucket (idxKey) with the profiles.
	detUsers map[key][]string
	detDirty map[key]bool
	// cursor is, per journal partition, the message sequence (in the
	// partition's stream) the bucket's profiles cover: every message of
	// the partition up to it is folded and stored.
	cursor []uint64
	// covered is, per partition, the message sequence folded in memory
	// (≥ cursor).
	covered []atomic.Uint64

	folded, skipped, missed prometheus.Counter
	evicted                 *prometheus.CounterVec
}

// openRetry is how long Open retries reading the checkpoint.
const openRetry = 30 * time.Second

// Open opens the store on its bucket and reads its checkpoint, retrying
// for up to openRetry while the bucket does not answer.
func Open(ctx context.Context, cfg Config, deps Deps) (*Store, error) {
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.MaxCached <= 0 {
		cfg.MaxCached = DefaultMaxCached
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{cfg: cfg, deps: deps, log: deps.Log.With("component", "activity"),
		profiles: map[key]*Profile{}, dirty: map[key]bool{}, detUsers: map[key][]string{}, detDirty: map[key]bool{},
		folded: prometheus.NewCounter(prometheus.CounterOpts{Name: "auditstream_activity_events_total",
			Help: "Events folded into per-user activity profiles."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "auditstream_activity_skipped_total",
			Help: "Events the activity fold could not read (not a JSON object)."}),
		missed: prometheus.NewCounter(prometheus.CounterOpts{Name: "auditstream_activity_missed_messages_total",
			Help: "Journal messages removed (retention) before the activity fold read them: their events are in no profile."}),
		evicted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_activity_evicted_total",
			Help: "Values dropped from a per-user activity list at its limit, by list."}, []string{"list"}),
	}
	if deps.Registry != nil {
		for _, c := range []prometheus.Collector{s.folded, s.skipped, s.missed, s.evicted} {
			if err := deps.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("activity metrics: %w", err)
			}
		}
	}
	n := 1
	if deps.Journal != nil {
		n = len(deps.Journal.Partitions())
	}
	s.cursor = make([]uint64, n)
	s.covered = make([]atomic.Uint64, n)
	e, err := deps.KV.Get(ctx, cursorKey)
	// On a cluster the bucket may have no leader for a moment (a leader
	// election at start): wait for one rather than fail the start.
	for wait := time.Now().Add(openRetry); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) && time.Now().Before(wait); {
		s.log.Warn("activity checkpoint unreadable; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
		e, err = deps.KV.Get(ctx, cursorKey)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return nil, fmt.Errorf("activity checkpoint: %w", err)
	default:
		if err := s.parseCheckpoint(string(e.Value())); err != nil {
			return nil, err
		}
	}
	for i, c := range s.cursor {
		s.covered[i].Store(c)
	}
	return s, nil
}

// parseCheckpoint reads the stored checkpoint into s.cursor: one sequence
// per partition, comma-separated. A single sequence (the checkpoint of a
// release before partitions) is partition 0's.
func (s *Store) parseCheckpoint(v string) error {
	parts := strings.Split(v, ",")
	if len(parts) > len(s.cursor) || (len(parts) != 1 && len(parts) != len(s.cursor)) {
		return fmt.Errorf("activity checkpoint %q: %d cursors for a journal of %d partitions", v, len(parts), len(s.cursor))
	}
	for i, p := range parts {
		c, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return fmt.Errorf("activity checkpoint %q: %w", v, err)
		}
		s.cursor[i] = c
	}
	return nil
}

// checkpoint is the stored form of cursors (see cursorKey).
func checkpoint(cursors []uint64) []byte {
	var b []byte
	for i, c := range cursors {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, c, 10)
	}
	return b
}

// Cursor is the message sequence of journal partition 0 (the only one
// unless journal.partitions) the stored profiles cover: a fold resumes
// after it. Cursors has every partition's.
func (s *Store) Cursor() uint64 { return s.Cursors()[0] }

// Cursors is, per journal partition, the message sequence (in the
// partition's stream) the stored profiles cover.
func (s *Store) Cursors() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cursor)
}

// Covered is the message sequence of journal partition 0 folded so far
// (in memory, maybe not yet stored). With journal partitions use
// CoveredPos.
func (s *Store) Covered() uint64 { return s.covered[0].Load() }

// CoveredPos reports whether the fold has folded (in memory, maybe not
// yet stored) the whole journal message holding the event at position pos,
// in pos's partition: FirstSeen is then exact for the events after it.
func (s *Store) CoveredPos(pos uint64) bool {
	part := journal.PartitionOf(pos)
	if part >= len(s.covered) {
		return false
	}
	return s.covered[part].Load() >= journal.MsgSeqOf(pos)
}

var plainID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// kvKey is a profile's key in the bucket: org and user id, the id encoded
// when it has characters a key cannot hold.
func kvKey(k key) string {
	u := k.user
	if !plainID.MatchString(u) {
		u = "=" + base64.RawURLEncoding.EncodeToString([]byte(u))
	}
	return "p." + k.org + "." + u
}

// idxKey is the bucket key of the users of detection k.user (an id) in
// k.org.
func idxKey(k key) string {
	id := k.user
	if !plainID.MatchString(id) {
		id = "=" + base64.RawURLEncoding.EncodeToString([]byte(id))
	}
	return "x." + k.org + "." + id
}

// detectionUsers returns the users detection k was folded into, from
// memory or the bucket. The caller holds s.mu.
func (s *Store) detectionUsers(ctx context.Context, k key) []string {
	if us, ok := s.detUsers[k]; ok {
		return us
	}
	e, err := s.deps.KV.Get(ctx, idxKey(k))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	var us []string
	if err == nil {
		err = json.Unmarshal(e.Value(), &us)
	}
	if err != nil {
		// Loudly: the triage of this detection reaches only the users its
		// event names.
		s.log.Warn("activity: reading the users of a detection; its triage is not folded into their profiles", "org", k.org, "detection", k.user, "err", err)
		return nil
	}
	s.detUsers[k] = us
	return us
}

// noteDetection records that detection k was folded into users. The
// caller holds s.mu.
func (s *Store) noteDetection(ctx context.Context, k key, users []string) {
	cur := s.detectionUsers(ctx, k)
	n := len(cur)
	for _, u := range users {
		if !slices.Contains(cur, u) {
			cur = append(cur, u)
		}
	}
	if len(cur) != n {
		s.detUsers[k], s.detDirty[k] = cur, true
	}
}

// load returns the profile of k, from memory or the bucket, nil when
// there is none. The caller holds s.mu.
func (s *Store) load(ctx context.Context, k key) (*Profile, error) {
	if p, ok := s.profiles[k]; ok {
		return p, nil
	}
	e, err := s.deps.KV.Get(ctx, kvKey(k))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read profile %s: %w", kvKey(k), err)
	}
	p := newProfile(k.org, k.user)
	if err := json.Unmarshal(e.Value(), p); err != nil {
		return nil, fmt.Errorf("decode profile %s: %w", kvKey(k), err)
	}
	if p.Lists == nil {
		p.Lists = map[Kind][]Item{}
	}
	s.profiles[k] = p
	return p, nil
}

// Apply folds the events of one journal message (as journal.Decode
// returns them) into the profiles, in memory; Flush stores them. msg
// identifies the message as journal.MsgOf does (its partition and
// sequence: journal.PartitionSeq; the sequence itself in partition 0). An event
// a profile already covers is not folded again. On an error (the bucket
// unreadable) the message must be applied again later: what was folded
// of it is not folded twice.
func (s *Store) Apply(ctx context.Context, msg uint64, recs []event.Record) error {
	pos := journal.Position(msg, 0)
	part, msgSeq := journal.PartitionOf(pos), journal.MsgSeqOf(pos)
	if part >= len(s.covered) {
		return fmt.Errorf("activity: message %d of partition %d: the journal has %d partitions", msgSeq, part, len(s.covered))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for i := range recs {
		r := &recs[i]
		f := folder{lim: s.cfg.Limits, in: &s.in, targets: &s.targets, get: func(user string) *Profile {
			k := key{r.Org, user}
			p, lerr := s.load(ctx, k)
			if lerr != nil {
				err = lerr
				p = newProfile(k.org, k.user) // folded into nothing: not stored
				p.Position = ^uint64(0)
				return p
			}
			if p == nil {
				p = newProfile(k.org, k.user)
				s.profiles[k] = p
			}
			if p.onEvict == nil {
				p.onEvict = s.onEvict // a method value allocates: once per profile, not per event
			}
			s.dirty[k] = true
			return p
		}, users: func(id string) []string {
			return slices.Clone(s.detectionUsers(ctx, key{r.Org, id}))
		}, note: func(id string, users []string) {
			s.noteDetection(ctx, key{r.Org, id}, users)
		}}
		if !f.fold(r.Data, r.Seq, r.Published) {
			s.skipped.Inc()
			s.log.Warn("activity: skipping an event that is not a JSON object", "org", r.Org, "position", r.Seq)
			continue
		}
		if err != nil {
			return err
		}
		s.folded.Inc()
	}
	if msgSeq > s.covered[part].Load() {
		s.covered[part].Store(msgSeq)
	}
	return nil
}

// Flush stores every changed profile, then the checkpoint: the profiles
// cover, in each partition, every message up to the sequence folded. A crash between
// the two leaves profiles ahead of the checkpoint, which their positions
// make harmless. Beyond MaxCached profiles, the memory is emptied (every
// profile is stored by then).
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.dirty {
		p := s.profiles[k]
		b, ok := appendProfile(s.enc[:0], p)
		if ok {
			s.enc = b
		} else {
			var err error
			if b, err = json.Marshal(p); err != nil {
				return fmt.Errorf("encode profile %s: %w", kvKey(k), err)
			}
		}
		if _, err := s.deps.KV.Put(ctx, kvKey(k), b); err != nil {
			return fmt.Errorf("store profile %s: %w", kvKey(k), err)
		}
		delete(s.dirty, k)
	}
	for k := range s.detDirty {
		b, err := json.Marshal(s.detUsers[k])
		if err != nil {
			return fmt.Errorf("encode detection users %s: %w", idxKey(k), err)
		}
		if _, err := s.deps.KV.Put(ctx, idxKey(k), b); err != nil {
			return fmt.Errorf("store detection users %s: %w", idxKey(k), err)
		}
		delete(s.detDirty, k)
	}
	cov := make([]uint64, len(s.covered))
	for i := range s.covered {
		cov[i] = s.covered[i].Load()
	}
	if !slices.Equal(cov, s.cursor) {
		if _, err := s.deps.KV.Put(ctx, cursorKey, checkpoint(cov)); err != nil {
			return fmt.Errorf("store activity checkpoint: %w", err)
		}
		s.cursor = cov
	}
	if len(s.profiles) > s.cfg.MaxCached {
		clear(s.profiles)
	}
	if len(s.detUsers) > s.cfg.MaxCached {
		clear(s.detUsers)
	}
	return nil
}

// onEvict meters a value dropped from a profile's list at its limit.
func (s *Store) onEvict(list string) { s.evicted.WithLabelValues(list).Inc() }

// Profile returns the profile of user in org, false when the user was
// never seen.
func (s *Store) Profile(ctx context.Context, org, user string) (Profile, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.load(ctx, key{org, user})
	if err != nil || p == nil {
		return Profile{}, false, err
	}
	return p.clone(), true, nil
}

// FirstSeen reports whether value of the given kind (a country, an ASN
// number, a raw user agent, an app id…) is new for user in org as of the
// event at journal position pos: true when the user's profile does not
// hold it, or first saw it at pos or later. The answer is the same whether
// or not the fold has reached that event yet, provided it has reached the
// events before it: a caller that must be exact waits until CoveredPos(pos)
// (an org's events, and so a profile's, are all in one journal partition:
// positions compare within it). A value evicted at the list's limit
// counts as new again. A profile that cannot be read answers false (not
// new), so a broken bucket does not raise "first seen" for everyone.
func (s *Store) FirstSeen(ctx context.Context, org, user string, kind Kind, value string, pos uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.load(ctx, key{org, user})
	if err != nil {
		s.log.Warn("activity: first seen: reading the profile", "org", org, "err", err)
		return false
	}
	if p == nil {
		return true
	}
	it, ok := p.has(kind, value)
	return !ok || it.FirstPos >= pos
}
