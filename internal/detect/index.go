package detect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/epoch"
	"github.com/auditstream/auditstream/internal/pause"
	"github.com/nats-io/nats.go/jetstream"
)

// The list index: List reads an org's detections newest first from an
// index kept next to them in BucketDetections, not by listing the org's
// keys. Two kinds of entries:
//
//   - "h.<org>", the org's directory: the hours (published, UTC, as hours
//     since the Unix epoch) that hold detections, each with its number of
//     segments, and whether the index was built from the org's
//     detections stored before it existed;
//   - "i.<org>.<hour>.<n>", segment n of an hour: up to segmentCap
//     entries (published, id, rule), in no order.
//
// A page reads the directory, then the segments of its hours newest
// first, and one detection per entry it returns: its cost grows with the
// page, not with the org's detections. Writes compare-and-set, so several
// writers (nodes, a replay) agree; an entry is added once.

// segmentCap bounds the entries of one segment (about 80 bytes each).
const segmentCap = 1000

// indexEntry is one detection in a segment.
type indexEntry struct {
	T    int64  `json:"t"` // published, Unix nanoseconds
	ID   string `json:"id"`
	Rule string `json:"r,omitempty"`
}

// indexDir is an org's directory.
type indexDir struct {
	// Built is set once the org's detections stored before the index
	// existed are in it.
	Built bool `json:"built"`
	// Hours maps an hour to its number of segments.
	Hours map[int64]int `json:"hours"`
}

func dirKey(org string) string { return "h." + org }

func segKey(org string, hour int64, n int) string {
	return "i." + org + "." + strconv.FormatInt(hour, 10) + "." + strconv.Itoa(n)
}

// readDir returns org's directory and its revision (0: none yet).
func (s *Store) readDir(ctx context.Context, org string) (indexDir, uint64, error) {
	d := indexDir{Hours: map[int64]int{}}
	e, err := s.kv.Get(ctx, dirKey(org))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return d, 0, nil
	}
	if err != nil {
		return d, 0, err
	}
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return d, 0, fmt.Errorf("detections index of %s: %w", org, err)
	}
	if d.Hours == nil {
		d.Hours = map[int64]int{}
	}
	return d, e.Revision(), nil
}

// writeDir stores d over revision rev (0: creates it); false on a
// concurrent change.
func (s *Store) writeDir(ctx context.Context, org string, d indexDir, rev uint64) (bool, error) {
	b, _ := json.Marshal(d)
	var err error
	if rev == 0 {
		_, err = s.kv.Create(ctx, dirKey(org), b)
	} else {
		_, err = s.kv.Update(ctx, dirKey(org), b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	return err == nil, err
}

// readSeg returns a segment and its revision (0: none).
func (s *Store) readSeg(ctx context.Context, key string) ([]indexEntry, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var es []indexEntry
	if err := json.Unmarshal(e.Value(), &es); err != nil {
		return nil, 0, fmt.Errorf("detections index %s: %w", key, err)
	}
	return es, e.Revision(), nil
}

// indexRounds bounds the tries of one change to the index; each try after
// the first waits conflictWait.
const indexRounds = 50

// conflictWait is the wait before try round (none before the first) of a
// change to the index: a random while of up to 1 ms doubling with each
// round, up to 64 ms. Writers on several nodes that change the same
// directory or segment at once otherwise try again in step and keep
// colliding (four writers under the race detector ran out of tries).
func conflictWait(round int) time.Duration {
	if round == 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(time.Millisecond) << min(round-1, 6)))
}

// index adds d to its org's index unless it is there: in any segment of
// its hour when all (a detection stored before: a replay, a restart),
// else in the last (a new one; a duplicate would only cost space, pages
// drop it).
func (s *Store) index(ctx context.Context, d Detection, all bool) error {
	en := indexEntry{T: d.Published.UnixNano(), ID: d.ID, Rule: d.Rule}
	hour := epoch.Hour(d.Published)
	for round := range indexRounds {
		if err := pause.For(ctx, conflictWait(round)); err != nil {
			return err
		}
		dir, drev, err := s.readDir(ctx, d.Org)
		if err != nil {
			return err
		}
		n := dir.Hours[hour]
		// A segment the directory does not count yet (a writer stopped
		// between the two writes, or is between them): count it.
		if _, rev, err := s.readSeg(ctx, segKey(d.Org, hour, n)); err != nil {
			return err
		} else if rev != 0 {
			dir.Hours[hour] = n + 1
			if _, err := s.writeDir(ctx, d.Org, dir, drev); err != nil {
				return err
			}
			continue
		}
		var last []indexEntry
		var lrev uint64
		first := n - 1
		if all {
			first = 0
		}
		for i := max(first, 0); i < n; i++ {
			es, rev, err := s.readSeg(ctx, segKey(d.Org, hour, i))
			if err != nil {
				return err
			}
			if slices.ContainsFunc(es, func(e indexEntry) bool { return e.ID == d.ID }) {
				return nil // already indexed
			}
			last, lrev = es, rev
		}
		if n > 0 && len(last) < segmentCap {
			b, _ := json.Marshal(append(last, en))
			if _, err := s.kv.Update(ctx, segKey(d.Org, hour, n-1), b, lrev); err == nil {
				return nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return err
			}
			continue // changed meanwhile
		}
		// A new segment, then the directory counts it.
		b, _ := json.Marshal([]indexEntry{en})
		if _, err := s.kv.Create(ctx, segKey(d.Org, hour, n), b); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return err
		}
		dir.Hours[hour] = n + 1
		if ok, err := s.writeDir(ctx, d.Org, dir, drev); err != nil || ok {
			return err
		}
		// The directory changed meanwhile: the next round counts the
		// segment (it exists) and finds the entry.
	}
	return fmt.Errorf("detections index of %s: too many concurrent changes", d.Org)
}

// build indexes org's detections stored before the index existed (one
// listing of the org's keys, once), then marks the directory built.
func (s *Store) build(ctx context.Context, org string) error {
	lister, err := s.kv.ListKeysFiltered(ctx, "d."+org+".*")
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return err
	}
	if err == nil {
		// The ids each hour's segments held when first looked at: only a
		// detection not among them is indexed (with index's own checks).
		dir, _, err := s.readDir(ctx, org)
		if err != nil {
			return err
		}
		known := map[int64]map[string]bool{}
		for k := range lister.Keys() {
			e, err := s.kv.Get(ctx, k)
			if err != nil {
				return err
			}
			var d Detection
			if json.Unmarshal(e.Value(), &d) != nil {
				continue
			}
			d.Org = org
			h := epoch.Hour(d.Published)
			ids, ok := known[h]
			if !ok {
				ids = map[string]bool{}
				for i := range dir.Hours[h] {
					seg, _, err := s.readSeg(ctx, segKey(org, h, i))
					if err != nil {
						return err
					}
					for _, en := range seg {
						ids[en.ID] = true
					}
				}
				known[h] = ids
			}
			if ids[d.ID] {
				continue
			}
			if err := s.index(ctx, d, true); err != nil {
				return err
			}
		}
	}
	for round := range indexRounds {
		if err := pause.For(ctx, conflictWait(round)); err != nil {
			return err
		}
		dir, rev, err := s.readDir(ctx, org)
		if err != nil {
			return err
		}
		if dir.Built {
			return nil
		}
		dir.Built = true
		if ok, err := s.writeDir(ctx, org, dir, rev); err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("detections index of %s: too many concurrent changes", org)
}

// Cursor is a position in the newest-first order of detections: after
// the detection published at T with ID (later ids of the same time come
// after it).
type Cursor struct {
	T  int64
	ID string
}

// String is the cursor as the API's after parameter writes it.
func (c Cursor) String() string {
	if c.ID == "" {
		return ""
	}
	return strconv.FormatInt(c.T, 10) + "_" + c.ID
}

// ParseCursor reads an after parameter.
func ParseCursor(s string) (Cursor, error) {
	t, id, ok := strings.Cut(s, "_")
	n, err := strconv.ParseInt(t, 10, 64)
	if !ok || err != nil || id == "" || strings.ContainsAny(id, ".*> ") {
		return Cursor{}, fmt.Errorf("not a cursor of this list")
	}
	return Cursor{T: n, ID: id}, nil
}

// before reports whether e comes before c in the newest-first order.
func (c Cursor) before(e indexEntry) bool {
	if e.T != c.T {
		return e.T > c.T
	}
	return e.ID <= c.ID
}

// maxExamined bounds the entries one page looks at (with a status filter
// few may match): past it the page ends early, with a cursor to go on.
const maxExamined = 5000

// Page is one page of List: the detections and, when there may be more,
// the cursor of the next page.
type Page struct {
	Detections []Detection
	Next       Cursor
}

// ListPage returns a page of org's detections matching f, newest first
// (by published time, then id), after the cursor (zero: from the
// newest), at most f.Limit (0: 200).
func (s *Store) ListPage(ctx context.Context, org string, f Filter, after Cursor) (Page, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 200
	}
	dir, _, err := s.readDir(ctx, org)
	if err != nil {
		return Page{}, err
	}
	if !dir.Built {
		if err := s.build(ctx, org); err != nil {
			return Page{}, fmt.Errorf("building the detections index of %s: %w", org, err)
		}
		if dir, _, err = s.readDir(ctx, org); err != nil {
			return Page{}, err
		}
	}
	hours := make([]int64, 0, len(dir.Hours))
	for h := range dir.Hours {
		hours = append(hours, h)
	}
	slices.Sort(hours)
	slices.Reverse(hours)
	var (
		page     Page
		examined int
	)
	since := int64(0)
	if !f.Since.IsZero() {
		since = f.Since.UnixNano()
	}
	for _, h := range hours {
		if after.ID != "" && h > epoch.Hour(time.Unix(0, after.T)) {
			continue
		}
		if !f.Since.IsZero() && h < epoch.Hour(f.Since) {
			break
		}
		var es []indexEntry
		for i := range dir.Hours[h] {
			seg, _, err := s.readSeg(ctx, segKey(org, h, i))
			if err != nil {
				return Page{}, err
			}
			es = append(es, seg...)
		}
		slices.SortFunc(es, func(a, b indexEntry) int {
			if c := cmp.Compare(b.T, a.T); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		es = slices.CompactFunc(es, func(a, b indexEntry) bool { return a.ID == b.ID && a.T == b.T })
		for _, e := range es {
			if after.ID != "" && after.before(e) {
				continue
			}
			if since != 0 && e.T < since {
				page.Next = Cursor{} // older than since: the end
				return page, nil
			}
			if len(page.Detections) == limit || examined == maxExamined {
				return page, nil // more may follow: Next is set
			}
			examined++
			page.Next = Cursor{T: e.T, ID: e.ID}
			if f.Rule != "" && e.Rule != f.Rule {
				continue
			}
			d, _, err := s.Get(ctx, org, e.ID)
			if errors.Is(err, ErrNotFound) {
				continue // deleted (a bucket's limits)
			}
			if err != nil {
				return Page{}, err
			}
			if f.Status != "" && !strings.EqualFold(d.Status, f.Status) {
				continue
			}
			page.Detections = append(page.Detections, d)
		}
	}
	page.Next = Cursor{} // the oldest reached
	return page, nil
}
