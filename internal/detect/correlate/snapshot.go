package correlate

import (
	"encoding/json"
	"fmt"
	"math"
)

// SnapshotVersion is the version of the snapshot format written by Snapshot.
const SnapshotVersion = 1

type snapshot struct {
	Version int        `json:"version"`
	Seq     uint64     `json:"seq"`
	Orgs    []snapOrg  `json:"orgs"`
	Rules   []snapRule `json:"rules"`
}

type snapOrg struct {
	Org  string `json:"org"`
	Max  int64  `json:"max"`
	Seen bool   `json:"seen"`
}

type snapRule struct {
	ID          string      `json:"id"`
	Fingerprint string      `json:"fp"`
	Groups      []snapGroup `json:"groups,omitempty"`
}

// snapGroup is one group; groups are listed least recently updated first.
type snapGroup struct {
	Org        string       `json:"org"`
	Vals       []GroupField `json:"vals,omitempty"`
	Live       []snapEntry  `json:"live,omitempty"`
	Gone       []snapEntry  `json:"gone,omitempty"`
	SuppUntil  int64        `json:"supp_until,omitempty"`
	OpenID     string       `json:"open_id,omitempty"`
	Suppressed int          `json:"suppressed,omitempty"`
	SuppLast   string       `json:"supp_last,omitempty"`
	Seq        uint64       `json:"seq"`
	// TimerAt is the group's pending visit (absent: none). It is state, not derived:
	// when a group is visited decides when it expires, which decides evictions.
	TimerAt *int64 `json:"timer_at,omitempty"`
}

type snapEntry struct {
	T   int64   `json:"t"`
	ID  string  `json:"id"`
	Str string  `json:"s,omitempty"`
	Num float64 `json:"n,omitempty"`
	Ref uint16  `json:"r,omitempty"`
	// id and raw, when parsed (a compact snapshot), replace ID.
	id     [16]byte
	raw    string
	parsed bool
}

// Snapshot encodes the engine's state (windows, de-duplication sets, suppression,
// org clocks) as versioned JSON. The same state always encodes to the same bytes.
// Counters (Stats) are not part of it.
func (e *Engine) Snapshot() ([]byte, error) {
	s := snapshot{Version: SnapshotVersion, Seq: e.seq}
	for _, name := range e.orgNames {
		o := e.orgs[name]
		s.Orgs = append(s.Orgs, snapOrg{Org: name, Max: o.max, Seen: o.seen})
	}
	for _, r := range e.rules {
		sr := snapRule{ID: r.ID, Fingerprint: r.fp}
		for g := r.lru.prev; g != &r.lru; g = g.prev {
			sg := snapGroup{Org: g.org.name, Vals: g.vals, SuppUntil: g.suppUntil, OpenID: g.openID, Suppressed: g.suppressed, SuppLast: g.suppLast, Seq: g.seq}
			if g.timerAt != math.MaxInt64 {
				at := g.timerAt
				sg.TimerAt = &at
			}
			sg.Live = snapEntries(g.live)
			sg.Gone = snapEntries(g.gone)
			sr.Groups = append(sr.Groups, sg)
		}
		s.Rules = append(s.Rules, sr)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return b, nil
}

func snapEntries(s []entry) []snapEntry {
	if len(s) == 0 {
		return nil
	}
	out := make([]snapEntry, len(s))
	for i := range s {
		out[i] = snapEntry{T: s[i].t, ID: s[i].uuid(), Str: s[i].str, Num: s[i].num, Ref: s[i].ref}
	}
	return out
}

// RestoreReport says what a Restore could not carry over.
type RestoreReport struct {
	// Discarded lists rules whose state was dropped because the rule no longer exists
	// or its definition changed.
	Discarded []string
}

// Restore replaces the engine's state with a snapshot (Snapshot's JSON or
// SnapshotCompact's form). It is meant for a freshly
// created engine; state of rules missing from the engine or changed since the snapshot
// is discarded and listed in the report. Afterwards, feed the inputs after the
// position the snapshot covers; redelivered inputs the snapshot already holds are
// recognised as duplicates while they are within the watermark.
func (e *Engine) Restore(data []byte) (RestoreReport, error) {
	var rep RestoreReport
	var s snapshot
	if isCompact(data) {
		var err error
		if s, err = decodeCompact(data); err != nil {
			return rep, err
		}
	} else if err := json.Unmarshal(data, &s); err != nil {
		return rep, fmt.Errorf("decode snapshot: %w", err)
	}
	if s.Version != SnapshotVersion {
		return rep, fmt.Errorf("snapshot version %d, this engine reads %d", s.Version, SnapshotVersion)
	}
	for _, r := range e.rules {
		clear(r.groups)
		r.lru.next, r.lru.prev = &r.lru, &r.lru
	}
	e.orgs = make(map[string]*orgState, len(s.Orgs))
	e.orgNames = e.orgNames[:0]
	for _, so := range s.Orgs {
		o := e.org(so.Org)
		o.max, o.seen = so.Max, so.Seen
	}
	for _, sr := range s.Rules {
		r := e.byID[sr.ID]
		if r == nil || r.fp != sr.Fingerprint {
			if len(sr.Groups) > 0 {
				rep.Discarded = append(rep.Discarded, sr.ID)
			}
			continue
		}
		for _, sg := range sr.Groups {
			if len(sg.Vals) != len(r.GroupBy) {
				return rep, fmt.Errorf("snapshot: rule %q: group with %d values, want %d", r.ID, len(sg.Vals), len(r.GroupBy))
			}
			o := e.org(sg.Org)
			vals := make([]Field, len(sg.Vals))
			for i, v := range sg.Vals {
				vals[i] = Field{Value: v.Value, Present: !v.Null}
			}
			g := e.lookup(r, o, vals)
			g.seq = sg.Seq
			g.suppUntil, g.openID, g.suppressed, g.suppLast = sg.SuppUntil, sg.OpenID, sg.Suppressed, sg.SuppLast
			for _, en := range restoreEntries(sg.Live) {
				g.insertLive(en)
			}
			if gone := restoreEntries(sg.Gone); len(gone) > 0 {
				g.gone = appendGone(reserve(&g.gbuf, nil, len(gone)), gone)
			}
			g.timerAt = math.MaxInt64
			if sg.TimerAt != nil {
				e.schedule(g, *sg.TimerAt, true)
			}
		}
	}
	e.seq = s.Seq
	return rep, nil
}

func restoreEntries(s []snapEntry) []entry {
	if len(s) == 0 {
		return nil
	}
	out := make([]entry, len(s))
	for i, se := range s {
		id, raw := se.id, se.raw
		if !se.parsed {
			id, raw = parseID(se.ID)
		}
		out[i] = entry{t: se.T, id: id, raw: raw, str: se.Str, num: se.Num, ref: se.Ref}
	}
	return out
}
