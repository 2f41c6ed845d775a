package correlate

import (
	"errors"
	"fmt"
	"time"
)

// Defaults for Config's zero values.
const (
	// DefaultAllowedLateness is how far behind the newest event of an org an event may
	// be and still count: Okta's own pipeline and the pollers deliver within seconds,
	// retries and EventBridge within a minute or two (DETECTIONS.md §6.2).
	DefaultAllowedLateness = 2 * time.Minute
	// DefaultMaxGroupsPerRule bounds the groups of one correlation (rsigma caps all
	// state at 100,000 entries; ours is per rule).
	DefaultMaxGroupsPerRule = 100_000
	// DefaultMaxEventsPerWindow bounds the events kept per group: enough for any
	// threshold in the published packs (the largest is 20) with room for busy groups.
	DefaultMaxEventsPerWindow = 1_000
	// DefaultMaxContributing is how many contributing event uuids a detection lists.
	DefaultMaxContributing = 20
)

// Config is what an operator sets.
type Config struct {
	// AllowedLateness: an event older than the newest event of its org minus this is
	// too late: reported in Result.Late and counted, not applied. Zero means
	// DefaultAllowedLateness.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// MaxGroupsPerRule bounds the groups of one correlation; the least recently
	// updated group is evicted (counted). Zero means DefaultMaxGroupsPerRule.
	MaxGroupsPerRule int `yaml:"max_groups_per_rule"`
	// MaxEventsPerWindow bounds the events kept per group; the oldest is evicted
	// (counted). Zero means DefaultMaxEventsPerWindow.
	MaxEventsPerWindow int `yaml:"max_events_per_window"`
	// MaxContributing bounds Detection.Events. Zero means DefaultMaxContributing.
	MaxContributing int `yaml:"max_contributing"`
}

func (c Config) withDefaults() Config {
	if c.AllowedLateness == 0 {
		c.AllowedLateness = DefaultAllowedLateness
	}
	if c.MaxGroupsPerRule == 0 {
		c.MaxGroupsPerRule = DefaultMaxGroupsPerRule
	}
	if c.MaxEventsPerWindow == 0 {
		c.MaxEventsPerWindow = DefaultMaxEventsPerWindow
	}
	if c.MaxContributing == 0 {
		c.MaxContributing = DefaultMaxContributing
	}
	return c
}

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.AllowedLateness < 0 {
		errs = append(errs, fmt.Errorf("allowed_lateness must not be negative, got %s", c.AllowedLateness))
	}
	if c.MaxGroupsPerRule < 0 {
		errs = append(errs, fmt.Errorf("max_groups_per_rule must not be negative, got %d", c.MaxGroupsPerRule))
	}
	if c.MaxEventsPerWindow < 0 {
		errs = append(errs, fmt.Errorf("max_events_per_window must not be negative, got %d", c.MaxEventsPerWindow))
	}
	if c.MaxContributing < 0 {
		errs = append(errs, fmt.Errorf("max_contributing must not be negative, got %d", c.MaxContributing))
	}
	return errors.Join(errs...)
}

// Field is the value of one input field of a match: Present is false when the path is
// absent or JSON null.
type Field struct {
	Value   string
	Present bool
}

// Match is one event matched by a base (single-event) rule.
type Match struct {
	// Rule is the base rule's id.
	Rule string
	// Org is the event's org; every group is keyed by it.
	Org string
	// Time is the event time (LogEvent published).
	Time time.Time
	// UUID is the event's uuid, the de-duplication key. The engine copies it.
	UUID string
	// Fields are the values of Engine.Inputs(Rule), in that order. The engine copies
	// what it keeps; the caller may reuse the slice and its strings' buffers.
	Fields []Field
}

// GroupField is one group-by value of a detection. Null: the field was absent or null
// (such events form their own group, as in Sigma).
type GroupField struct {
	Field string `json:"field"`
	Value string `json:"value"`
	Null  bool   `json:"null,omitempty"`
}

// Detection is one emitted firing of a correlation.
type Detection struct {
	// ID is deterministic: UUIDv5 of rule id, org, group, window start and the first
	// contributing event's uuid.
	ID    string       `json:"id"`
	Rule  string       `json:"rule"`
	Org   string       `json:"org"`
	Group []GroupField `json:"group"`
	// Time is the detection's event time: the newest contributing event for rules that
	// fire as soon as the condition holds, the window's end for rules decided when the
	// window closes.
	Time        time.Time `json:"time"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Count is the number of contributing events; Value the measure the condition was
	// tested on (count, distinct count, rules seen, sum, average, percentile).
	Count int     `json:"count"`
	Value float64 `json:"value"`
	// Events are the uuids of the first MaxContributing contributing events, in event
	// time order; Count says how many there were.
	Events []string `json:"events"`
	// SuppressedBefore is the number of firings of this group suppressed since the
	// previous emitted detection of the group.
	SuppressedBefore int `json:"suppressed_before,omitempty"`
	// SummaryOf, set on a suppression summary (Rule.SuppressSummary), is the id
	// of the detection that opened the suppression period; Count is then the
	// number of firings suppressed in it, Events the last suppressed firing's
	// newest event, WindowStart and WindowEnd the period, Time its end.
	SummaryOf string `json:"summary_of,omitempty"`
}

// Suppression reports a firing that was suppressed: Count firings of the group have
// been suppressed since the detection OpenID was emitted.
type Suppression struct {
	Rule    string       `json:"rule"`
	Org     string       `json:"org"`
	Group   []GroupField `json:"group"`
	OpenID  string       `json:"open_id"`
	Count   int          `json:"count"`
	Time    time.Time    `json:"time"`
	LastUID string       `json:"last_event"`
}

// Late reports an input that arrived too late to be applied.
type Late struct {
	Rule      string    `json:"rule"`
	Org       string    `json:"org"`
	UUID      string    `json:"uuid"`
	Time      time.Time `json:"time"`
	Watermark time.Time `json:"watermark"`
}

// Result is what one Observe or Advance produced. Slices are nil when empty.
type Result struct {
	Detections []Detection
	Suppressed []Suppression
	Late       []Late
}

// RuleStats are the counters of one correlation rule, for metrics.
type RuleStats struct {
	// Inputs counts the events applied to the rule's state (after de-duplication).
	Inputs uint64
	// Duplicates counts inputs dropped because their uuid was already seen.
	Duplicates uint64
	// Late counts inputs older than the watermark (not applied).
	Late uint64
	// IgnoredValues counts inputs without a usable value field (absent, null, or not a
	// number for the numeric types).
	IgnoredValues uint64
	// Fired counts firings; Emitted the detections returned; Suppressed the firings
	// suppressed; NotGenerated the firings that only fed chained correlations.
	Fired, Emitted, Suppressed, NotGenerated uint64
	// Summaries counts suppression summaries emitted (Rule.SuppressSummary).
	Summaries uint64
	// EvictedGroups and EvictedEvents count state dropped at the caps.
	EvictedGroups, EvictedEvents uint64
	// Groups is the number of active groups.
	Groups int
}
