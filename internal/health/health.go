// Package health is the service's board of conditions that make it not
// ready (GET /readyz answers 503) or degraded (ready, but an operator must
// look): a journal whose appends fail, events lost to corruption, retention
// holding ingest back. Components set and clear their own conditions by
// name; the API reports them.
package health

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Level says what a condition does to readiness.
type Level int

const (
	// Degraded conditions are reported but the service stays ready.
	Degraded Level = iota
	// NotReady conditions make /readyz answer 503.
	NotReady
)

// String returns "degraded" or "notReady".
func (l Level) String() string {
	if l == NotReady {
		return "notReady"
	}
	return "degraded"
}

// MarshalText writes the level's name.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Condition is one named problem.
type Condition struct {
	// Name identifies the condition, e.g. "journal.append".
	Name string `json:"name"`
	// Level is Degraded or NotReady.
	Level Level `json:"level"`
	// Message says what is wrong and, where it helps, what to do.
	Message string `json:"message"`
	// Since is when the condition was first set.
	Since time.Time `json:"since"`
}

// Board holds the current conditions. The zero value is ready to use and
// safe for concurrent use; a nil *Board reports nothing and ignores Set.
type Board struct {
	mu    sync.Mutex
	conds map[string]Condition
}

// Set raises or updates a condition. Since is kept from the first Set.
func (b *Board) Set(name string, level Level, message string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conds == nil {
		b.conds = map[string]Condition{}
	}
	c, ok := b.conds[name]
	if !ok {
		c = Condition{Name: name, Since: time.Now().UTC()}
	}
	c.Level, c.Message = level, message
	b.conds[name] = c
}

// Clear removes a condition; clearing an absent one does nothing.
func (b *Board) Clear(name string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conds, name)
}

// Conditions returns the current conditions sorted by name.
func (b *Board) Conditions() []Condition {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Condition, 0, len(b.conds))
	for _, c := range b.conds {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, c Condition) int { return strings.Compare(a.Name, c.Name) })
	return out
}

// Ready reports whether no NotReady condition is set.
func (b *Board) Ready() bool {
	for _, c := range b.Conditions() {
		if c.Level == NotReady {
			return false
		}
	}
	return true
}
