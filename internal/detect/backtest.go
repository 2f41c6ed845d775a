package detect

import (
	"context"
	"errors"
	"time"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// MaxBacktestResults bounds the detections a backtest lists (the count is
// complete).
const MaxBacktestResults = 1000

// BacktestRequest asks what rule (or every rule of pack) would have raised
// over org's events published in [Since, Until).
type BacktestRequest struct {
	Org   string
	Rule  string
	Pack  string
	Since time.Time
	Until time.Time
	// FirstSeen, when set, answers rules' firstSeen (the activity store,
	// as of each event's position); nil: those rules raise nothing.
	FirstSeen FirstSeenSource
	// MaxEvents, when not 0, stops the backtest (ErrBacktestEventLimit, with
	// the result so far) once it has scanned this many of the org's events.
	MaxEvents uint64
	// Progress, when set, is called after each journal message scanned
	// (from the backtest's goroutine).
	Progress func(BacktestProgress)
}

// BacktestProgress is how far a backtest got.
type BacktestProgress struct {
	// Scanned counts the org's events read; Events those in the range.
	Scanned uint64 `json:"scanned"`
	Events  uint64 `json:"events"`
	// Position is the journal message sequence read up to (in the org's
	// partition), At the newest published time seen.
	Position uint64    `json:"position"`
	At       time.Time `json:"at,omitzero"`
	// First and Last are the journal range the backtest reads: the
	// sequence of the org's first message it read and the last sequence
	// of the org's partition when it started (0 when empty), so
	// (Position-First)/(Last-First) is how far it got.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	// Matches counts the detections the asked rules would have raised.
	Matches int `json:"matches"`
}

// BacktestResult is what a backtest found, without raising anything.
type BacktestResult struct {
	Events     uint64      `json:"events"`
	Count      int         `json:"count"`
	Detections []Detection `json:"detections"`
	Truncated  bool        `json:"truncated,omitempty"`
	// Scanned counts the org's events read (in the range or not); Position
	// is the journal message sequence read up to.
	Scanned  uint64 `json:"scanned"`
	Position uint64 `json:"position"`
	// Stopped says why a backtest ended before the range's end ("timeout",
	// "event limit", "cancelled"); the result is then what it found so far.
	Stopped string `json:"stopped,omitempty"`
}

// errBacktestScope is returned when the request names no rule and no pack.
var errBacktestScope = errors.New("name a rule or a pack")

// ErrBacktestEventLimit stops a backtest at BacktestRequest.MaxEvents.
var ErrBacktestEventLimit = errors.New("backtest event limit reached")

// Backtest evaluates reg's rules with a fresh engine over org's events in
// the journal (in journal order) and reports the detections of the asked
// rule or pack, appending nothing. Its correlation windows are event time
// only (no wall clock).
func Backtest(ctx context.Context, j *journal.Journal, reg *Registry, cfg correlate.Config, env Envelope, req BacktestRequest) (BacktestResult, error) {
	var res BacktestResult
	if req.Rule == "" && req.Pack == "" {
		return res, errBacktestScope
	}
	m, err := NewMatcher(reg, cfg, env)
	if err != nil {
		return res, err
	}
	m.Enabled = func(org, id string) bool { return org == req.Org }
	if fs := req.FirstSeen; fs != nil {
		// Past events: the fold has normally read them, and answers as of
		// their positions (events it has not read yet are answered as far
		// as it has).
		m.FirstSeen = func(org, user string, kind activity.Kind, value string, pos uint64) bool {
			return fs.FirstSeen(ctx, org, user, kind, value, pos)
		}
	}
	var (
		raised  []Raised
		limited bool
		at      time.Time
		first   uint64
	)
	last, err := j.LastSeqOf(ctx, req.Org)
	if err != nil {
		return res, err
	}
	from := journal.ScanFrom{}
	err = j.Scan(ctx, req.Org, from, func(recs []event.Record, seq uint64, _ time.Time) bool {
		res.Position = seq
		if first == 0 {
			first = seq
		}
		last = max(last, seq)
		for i := range recs {
			r := &recs[i]
			if r.Org != req.Org {
				continue
			}
			if req.MaxEvents > 0 && res.Scanned >= req.MaxEvents {
				limited = true
				break
			}
			res.Scanned++
			if r.Published.After(at) {
				at = r.Published
			}
			if (!req.Since.IsZero() && r.Published.Before(req.Since)) ||
				(!req.Until.IsZero() && !r.Published.Before(req.Until)) {
				continue
			}
			res.Events++
			raised = m.Feed(r, raised[:0])
			for _, x := range raised {
				if (req.Rule != "" && x.Info.ID != req.Rule) || (req.Pack != "" && x.Info.Pack != req.Pack) {
					continue
				}
				res.Count++
				if len(res.Detections) < MaxBacktestResults {
					res.Detections = append(res.Detections, DetectionOf(x))
				} else {
					res.Truncated = true
				}
			}
		}
		if req.Progress != nil {
			req.Progress(BacktestProgress{Scanned: res.Scanned, Events: res.Events, Position: res.Position, At: at, Matches: res.Count,
				First: first, Last: last})
		}
		return ctx.Err() == nil && !limited
	})
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && limited {
		err = ErrBacktestEventLimit
	}
	if res.Detections == nil {
		res.Detections = []Detection{}
	}
	return res, err
}
