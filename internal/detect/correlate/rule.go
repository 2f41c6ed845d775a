package correlate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Type is a correlation type. The names are Sigma's (correlation specification v2.1.0),
// plus pySigma's value_median and auditstream's Single.
type Type string

// Correlation types.
const (
	// Single raises every (de-duplicated) match of its one referenced rule: the runtime
	// wraps a single-event rule in it to get suppression, input de-duplication and
	// deterministic ids. It has no window; Timespan and Condition must be zero.
	Single Type = "single"
	// EventCount counts the events in the window.
	EventCount Type = "event_count"
	// ValueCount counts the distinct values of Field in the window.
	ValueCount Type = "value_count"
	// Temporal requires every referenced rule to match in the window.
	Temporal Type = "temporal"
	// TemporalOrdered requires the referenced rules to match in the window in the order
	// they are listed.
	TemporalOrdered Type = "temporal_ordered"
	// ValueSum sums the numeric values of Field in the window.
	ValueSum Type = "value_sum"
	// ValueAvg averages the numeric values of Field in the window.
	ValueAvg Type = "value_avg"
	// ValuePercentile takes the Percentile-th percentile of the numeric values of Field
	// in the window (linear interpolation between closest ranks).
	ValuePercentile Type = "value_percentile"
	// ValueMedian is ValuePercentile with Percentile 50 (pySigma's extension).
	ValueMedian Type = "value_median"
)

// Op is a condition operator.
type Op string

// Condition operators (Sigma's names).
const (
	GT  Op = "gt"
	GTE Op = "gte"
	LT  Op = "lt"
	LTE Op = "lte"
	EQ  Op = "eq"
	NEQ Op = "neq"
)

// Cond is one comparison of a correlation's measure (count, distinct count, sum, ...)
// with a number.
type Cond struct {
	Op    Op      `json:"op"`
	Value float64 `json:"value"`
}

func (c Cond) holds(x float64) bool {
	switch c.Op {
	case GT:
		return x > c.Value
	case GTE:
		return x >= c.Value
	case LT:
		return x < c.Value
	case LTE:
		return x <= c.Value
	case EQ:
		return x == c.Value
	case NEQ:
		return x != c.Value
	}
	return false
}

// Rule is one correlation, in the engine's terms. The Sigma loader produces its own
// struct; the runtime maps it onto Rule (rule names already resolved to ids).
type Rule struct {
	// ID identifies the rule; detections carry it and chained rules reference it.
	ID string `json:"id"`
	// Type is the correlation type.
	Type Type `json:"type"`
	// Rules are the referenced rules: base (single-event) rule ids or ids of other
	// correlations in the same engine (chaining). The order matters for
	// TemporalOrdered.
	Rules []string `json:"rules"`
	// GroupBy names the group-by fields. Events of a referenced base rule supply their
	// values through Inputs; a referenced correlation supplies them from its own group
	// (by the same name, or through Aliases). Every group is also keyed by org.
	GroupBy []string `json:"group_by,omitempty"`
	// Aliases maps a group-by name to the field to read for one referenced rule:
	// Aliases[name][ruleID] = field. Sigma's correlation aliases.
	Aliases map[string]map[string]string `json:"aliases,omitempty"`
	// Field is the value field of value_count and the numeric value_* types.
	Field string `json:"field,omitempty"`
	// Timespan is the length of the sliding window; both ends are inclusive.
	Timespan time.Duration `json:"timespan"`
	// Condition is one comparison or two forming a range (one lower and one upper
	// bound). Empty for Temporal/TemporalOrdered means "every referenced rule";
	// required for the other windowed types.
	Condition []Cond `json:"condition,omitempty"`
	// Percentile is value_percentile's percentile, 0 to 100.
	Percentile float64 `json:"percentile,omitempty"`
	// Generate is Sigma's generate flag: when true the referenced rules still raise
	// their own detections; see Engine.Generates.
	Generate bool `json:"generate,omitempty"`
	// Suppress is the suppression period after an emitted detection, per (org, rule,
	// group). Zero: every firing is emitted.
	Suppress time.Duration `json:"suppress,omitempty"`
	// SuppressSummary asks for one roll-up detection (Detection.SummaryOf set)
	// when a suppression period in which firings were suppressed ends: its
	// Count is the number suppressed, its window the suppression period.
	SuppressSummary bool `json:"suppress_summary,omitempty"`
	// Expression is pySigma's extended temporal condition, a boolean expression over
	// the referenced rules ("a and not b"; and, or, not, parentheses), for Temporal
	// only, instead of Condition. Identifiers are entries of Rules or of Names. It is
	// decided when the window closes, so absence ("not b") can be expressed.
	Expression string `json:"expression,omitempty"`
	// Names are the referenced rules' names as written in the correlation (same order
	// as Rules), for Expression; optional.
	Names []string `json:"names,omitempty"`
}

// MaxChainDepth is the deepest chain of correlations referencing correlations.
const MaxChainDepth = 10

// fingerprint identifies a rule's definition; snapshot state of a rule whose
// definition changed is discarded at restore.
func (r *Rule) fingerprint() string {
	b, _ := json.Marshal(r) // a Rule always marshals
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

func isValueType(t Type) bool {
	switch t {
	case ValueSum, ValueAvg, ValuePercentile, ValueMedian:
		return true
	}
	return false
}

// validate reports every problem of one rule.
func (r *Rule) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if r.ID == "" {
		bad("id is empty")
	}
	switch r.Type {
	case Single:
		if len(r.Rules) != 1 {
			bad("single: needs exactly one referenced rule, got %d", len(r.Rules))
		}
		if r.Timespan != 0 || len(r.Condition) != 0 {
			bad("single: takes no timespan or condition")
		}
	case EventCount, ValueCount, Temporal, TemporalOrdered, ValueSum, ValueAvg, ValuePercentile, ValueMedian:
		if len(r.Rules) == 0 {
			bad("no referenced rules")
		}
		if r.Timespan <= 0 {
			bad("timespan must be positive, got %s", r.Timespan)
		}
	default:
		bad("unknown correlation type %q", r.Type)
	}
	for i, id := range r.Rules {
		if id == "" {
			bad("rules[%d] is empty", i)
		}
		if slices.Index(r.Rules, id) != i {
			bad("rule %q referenced twice", id)
		}
	}
	if (r.Type == ValueCount || isValueType(r.Type)) && r.Field == "" {
		bad("%s needs a field", r.Type)
	}
	if r.Type == ValuePercentile && (r.Percentile < 0 || r.Percentile > 100 || math.IsNaN(r.Percentile)) {
		bad("percentile must be within 0..100, got %v", r.Percentile)
	}
	switch {
	case r.Type == Single:
	case len(r.Condition) == 0 && r.Type != Temporal && r.Type != TemporalOrdered:
		bad("%s needs a condition", r.Type)
	case len(r.Condition) > 2:
		bad("condition has %d comparisons, at most 2 (a range)", len(r.Condition))
	case len(r.Condition) == 2:
		lo, hi := r.Condition[0], r.Condition[1]
		if isUpper(lo.Op) {
			lo, hi = hi, lo
		}
		if !isLower(lo.Op) || !isUpper(hi.Op) {
			bad("two comparisons must be a range (gt/gte and lt/lte), got %s and %s", r.Condition[0].Op, r.Condition[1].Op)
		}
	}
	for _, c := range r.Condition {
		switch c.Op {
		case GT, GTE, LT, LTE, EQ, NEQ:
		default:
			bad("unknown condition operator %q", c.Op)
		}
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) {
			bad("condition value %v is not a finite number", c.Value)
		}
	}
	if r.Expression != "" {
		switch {
		case r.Type != Temporal:
			bad("expression is only for temporal, not %s", r.Type)
		case len(r.Condition) > 0:
			bad("expression and condition are exclusive")
		case len(r.Names) > 0 && len(r.Names) != len(r.Rules):
			bad("names has %d entries, rules %d", len(r.Names), len(r.Rules))
		default:
			if _, err := parseExpr(r.Expression, r.Rules, r.Names); err != nil {
				bad("%v", err)
			}
		}
	}
	if r.SuppressSummary && r.Suppress <= 0 {
		bad("suppress_summary needs a suppression period (suppress > 0)")
	}
	if r.Suppress < 0 {
		bad("suppress must not be negative")
	}
	for name := range r.Aliases {
		if !slices.Contains(r.GroupBy, name) {
			bad("alias %q is not a group-by field", name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("correlation %q: %w", r.ID, err)
	}
	return nil
}

func isLower(op Op) bool { return op == GT || op == GTE }
func isUpper(op Op) bool { return op == LT || op == LTE }

// eager reports whether the rule fires as soon as its condition holds (only lower
// bounds on a measure that never decreases as events are added) rather than when a
// window closes.
func (r *Rule) eager() bool {
	if r.Expression != "" {
		return false
	}
	switch r.Type {
	case Single:
		return true
	case EventCount, ValueCount, ValueSum, Temporal, TemporalOrdered:
		for _, c := range r.Condition {
			if !isLower(c.Op) {
				return false
			}
		}
		return true
	}
	return false
}

// conds returns the effective condition: temporal types default to "every referenced
// rule seen".
func (r *Rule) conds() []Cond {
	if r.Expression != "" {
		return []Cond{{Op: EQ, Value: 1}} // the measure is 1 when the expression holds
	}
	if len(r.Condition) == 0 && (r.Type == Temporal || r.Type == TemporalOrdered) {
		return []Cond{{Op: GTE, Value: float64(len(r.Rules))}}
	}
	return r.Condition
}
