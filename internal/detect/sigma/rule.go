package sigma

import (
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// Overlay is what a user sets per pack instead of editing the upstream rule files.
type Overlay struct {
	// Placeholders gives the values of %name% placeholders used with the expand
	// modifier. Each value is a Sigma string (it may hold wildcards).
	Placeholders map[string][]string `yaml:"placeholders"`
	// Aliases maps a Sigma field name, as written in rules, to the LogEvent path to
	// resolve instead (for example target.user.display.name: target.displayName).
	Aliases map[string]string `yaml:"aliases"`
}

// Logsource is a rule's logsource, kept for routing rules to event sources.
type Logsource struct {
	Category   string `json:"category,omitempty"`
	Product    string `json:"product,omitempty"`
	Service    string `json:"service,omitempty"`
	Definition string `json:"definition,omitempty"`
}

// Related is one entry of a rule's related list.
type Related struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Meta is the metadata every Sigma document (rule, correlation, filter) carries.
// Its keys are read from YAML under their lowercased names (title, …,
// falsepositives, related, logsource), by this package's parser and by
// decoders that inline Meta (detect's native rules); File, Line, IDDerived
// and Extra are never read from a document.
type Meta struct {
	Title          string    `json:"title"`
	ID             string    `json:"id"`
	Name           string    `json:"name,omitempty"`
	Status         string    `json:"status,omitempty"`
	Description    string    `json:"description,omitempty"`
	Author         string    `json:"author,omitempty"`
	License        string    `json:"license,omitempty"`
	Date           string    `json:"date,omitempty"`
	Modified       string    `json:"modified,omitempty"`
	Level          string    `json:"level,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
	References     []string  `json:"references,omitempty"`
	FalsePositives []string  `json:"falsepositives,omitempty"`
	Related        []Related `json:"related,omitempty"`
	Logsource      Logsource `json:"logsource"`
	// File is the pack-relative path of the file, Line the line the document starts.
	File string `json:"file" yaml:"-"`
	Line int    `json:"line" yaml:"-"`
	// IDDerived is true when the document had no id and ID was derived from File.
	IDDerived bool `json:"idDerived,omitempty" yaml:"-"`
	// Extra holds top-level keys this package does not interpret, as YAML nodes.
	Extra map[string]*yaml.Node `json:"-" yaml:"-"`
}

// Rule is a compiled Sigma detection rule.
type Rule struct {
	Meta
	// Condition is the rule's condition as written (a list of conditions joined by or).
	Condition string
	// Fields lists the Sigma field names the detection uses, sorted.
	Fields []string
	// Filters lists the ids of the Sigma filters applied to this rule.
	Filters []string

	pred   node
	filter node // the OR of the filters' conditions; nil when none apply
	pre    *Prefilter
}

// Match reports whether the event satisfies the rule's detection and none of the
// filters applied to it. e must have been Reset with the event.
func (r *Rule) Match(e *field.Event) bool {
	if !r.pred.eval(e) {
		return false
	}
	return r.filter == nil || !r.filter.eval(e)
}

// Filter is a Sigma filter document: a condition excluded from the named rules.
type Filter struct {
	Meta
	// Rules are the ids (or names or titles) of the rules the filter applies to.
	Rules     []string
	Condition string

	pred node
}

// Correlation types.
const (
	EventCount      = "event_count"
	ValueCount      = "value_count"
	Temporal        = "temporal"
	TemporalOrdered = "temporal_ordered"
	ValueSum        = "value_sum"
	ValueAvg        = "value_avg"
	ValuePercentile = "value_percentile"
)

// Threshold is one comparison of a correlation condition: Op is gt, gte, lt, lte,
// eq or neq.
type Threshold struct {
	Op    string  `json:"op"`
	Value float64 `json:"value"`
}

// Correlation is a validated Sigma correlation rule, ready for the runtime to map
// onto the correlation engine.
type Correlation struct {
	Meta
	Type string `json:"type"`
	// Rules are the referenced rules' ids or names as written; Resolved are their ids
	// after the pack was loaded (same order).
	Rules    []string `json:"rules"`
	Resolved []string `json:"resolved,omitempty"`
	// GroupBy are LogEvent paths (Sigma field names, or alias names).
	GroupBy  []string      `json:"groupBy,omitempty"`
	Timespan time.Duration `json:"timespan"`
	// Thresholds are ANDed (two make a range). Empty for temporal types without a
	// condition: every referenced rule must be seen.
	Thresholds []Threshold `json:"thresholds,omitempty"`
	// Field is condition.field of the value_* types.
	Field string `json:"field,omitempty"`
	// Percentile is condition.percentile of value_percentile, when given.
	Percentile float64 `json:"percentile,omitempty"`
	// Expression is an extended temporal condition over rule names (pySigma's
	// "a and not b"), when the condition is a string.
	Expression string `json:"expression,omitempty"`
	// Aliases maps an alias name (used in GroupBy) to, per referenced rule, the field
	// that holds its value.
	Aliases map[string]map[string]string `json:"aliases,omitempty"`
	// Generate is true when the referenced rules also raise their own detections.
	Generate bool `json:"generate"`
	// Depth is the length of the longest chain of correlations below this one (1 when
	// it refers only to detection rules).
	Depth int `json:"depth"`

	groupPaths map[string][]field.Path // resolved rule id → group-by paths after aliases
	fieldPath  field.Path
}

// GroupPaths returns the LogEvent paths whose values form the group key of an event
// matched by the referenced rule with the given (resolved) id, in GroupBy order, with
// the correlation's aliases applied; nil when the correlation does not refer to the
// rule. A path that resolves to nothing in an event is part of the key as absent.
func (c *Correlation) GroupPaths(ruleID string) []field.Path { return c.groupPaths[ruleID] }

// FieldPath returns condition.field as a path (the zero Path when there is none).
func (c *Correlation) FieldPath() field.Path { return c.fieldPath }

// MaxChainDepth is the deepest chain of correlations a pack may hold.
const MaxChainDepth = 10

func str(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "want a string")
	}
	return n.Value, nil
}

func strList(n *yaml.Node) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "want a list of strings")
	}
	out := make([]string, 0, len(n.Content))
	for _, x := range n.Content {
		if x.Kind != yaml.ScalarNode {
			return nil, errAt(x, "want a string")
		}
		out = append(out, x.Value)
	}
	return out, nil
}

func get(m *yaml.Node, key string) (k, v *yaml.Node) {
	for k, v := range members(m) {
		if k.Value == key {
			return k, v
		}
	}
	return nil, nil
}

// members yields the key and value nodes of a mapping node, in order.
func members(m *yaml.Node) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(k, v *yaml.Node) bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if !yield(m.Content[i], m.Content[i+1]) {
				return
			}
		}
	}
}

// parseMeta reads the common keys of a document into m, keeping unknown keys.
func parseMeta(doc *yaml.Node, m *Meta, own map[string]bool) error {
	var errs []error
	for k, v := range members(doc) {
		var err error
		switch k.Value {
		case "title":
			m.Title, err = str(v)
		case "id":
			m.ID, err = str(v)
		case "name":
			m.Name, err = str(v)
		case "status":
			m.Status, err = str(v)
		case "description":
			m.Description, err = str(v)
		case "author":
			m.Author, err = str(v)
		case "license":
			m.License, err = str(v)
		case "date":
			m.Date, err = str(v)
		case "modified":
			m.Modified, err = str(v)
		case "level":
			m.Level, err = str(v)
		case "tags":
			m.Tags, err = strList(v)
		case "references":
			m.References, err = strList(v)
		case "falsepositives":
			m.FalsePositives, err = strList(v)
		case "related":
			if v.Kind != yaml.SequenceNode {
				err = errAt(v, "related must be a list")
				break
			}
			for _, r := range v.Content {
				var rel Related
				if e := r.Decode(&rel); e != nil {
					err = errAt(r, "related: %v", e)
					break
				}
				m.Related = append(m.Related, rel)
			}
		case "logsource":
			if v.Kind != yaml.MappingNode {
				err = errAt(v, "logsource must be a map")
				break
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				val := v.Content[j+1].Value
				switch v.Content[j].Value {
				case "category":
					m.Logsource.Category = val
				case "product":
					m.Logsource.Product = val
				case "service":
					m.Logsource.Service = val
				case "definition":
					m.Logsource.Definition = val
				}
			}
		default:
			if !own[k.Value] {
				if m.Extra == nil {
					m.Extra = map[string]*yaml.Node{}
				}
				m.Extra[k.Value] = v
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if m.Title == "" {
		errs = append(errs, errAt(doc, "title is required"))
	}
	return errors.Join(errs...)
}

var levels = map[string]bool{"": true, "informational": true, "low": true, "medium": true, "high": true, "critical": true}

// compileRule compiles a detection rule document.
func compileRule(doc *yaml.Node, m Meta, ov *Overlay, warn func(int, string)) (*Rule, error) {
	r := &Rule{Meta: m}
	if !levels[r.Level] {
		return nil, errAt(doc, "level %q is not one of informational, low, medium, high, critical", r.Level)
	}
	dk, det := get(doc, "detection")
	if det.Kind != yaml.MappingNode {
		return nil, errAt(dk, "detection must be a map")
	}
	pred, cond, fields, err := compileDetection(det, dk, ov, warn)
	if err != nil {
		return nil, err
	}
	r.pred, r.Condition, r.Fields = pred, cond, fields
	r.pre = necessary(pred)
	return r, nil
}

// compileDetection compiles a detection (or filter) map: its search identifiers and
// condition.
func compileDetection(det, at *yaml.Node, ov *Overlay, warn func(int, string)) (node, string, []string, error) {
	c := &compileCtx{ov: ov, warn: warn, fields: map[string]bool{}}
	idents := map[string]node{}
	var names []string
	var condNode *yaml.Node
	for k, v := range members(det) {
		switch k.Value {
		case "condition":
			condNode = v
			continue
		case "timeframe":
			return nil, "", nil, errAt(k, "%v", errAggregation)
		}
		x, err := c.search(v)
		if err != nil {
			var pe *placeholderError
			if errors.As(err, &pe) {
				return nil, "", nil, err
			}
			return nil, "", nil, fmt.Errorf("search identifier %s: %w", k.Value, err)
		}
		idents[k.Value] = x
		names = append(names, k.Value)
	}
	if condNode == nil {
		return nil, "", nil, errAt(at, "condition is required")
	}
	conds, err := strList(condNode)
	if err != nil {
		return nil, "", nil, err
	}
	var or orNode
	for _, s := range conds {
		x, err := parseCondition(s)
		if err != nil {
			return nil, "", nil, errAt(condNode, "%v", err)
		}
		n, err := bind(x, idents, names)
		if err != nil {
			return nil, "", nil, errAt(condNode, "condition %q: %v", s, err)
		}
		or = append(or, n)
	}
	var pred node = or
	if len(or) == 1 {
		pred = or[0]
	}
	fields := make([]string, 0, len(c.fields))
	for f := range c.fields {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	return pred, strings.Join(conds, " or "), fields, nil
}

// bind turns a parsed condition into a predicate over the compiled identifiers.
func bind(x expr, idents map[string]node, names []string) (node, error) {
	switch x := x.(type) {
	case identExpr:
		n, ok := idents[x.name]
		if !ok {
			return nil, fmt.Errorf("no search identifier %q", x.name)
		}
		return n, nil
	case notExpr:
		n, err := bind(x.x, idents, names)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case andExpr, orExpr:
		var xs []expr
		if a, ok := x.(andExpr); ok {
			xs = a.xs
		} else {
			xs = x.(orExpr).xs
		}
		ns := make([]node, len(xs))
		for i, y := range xs {
			n, err := bind(y, idents, names)
			if err != nil {
				return nil, err
			}
			ns[i] = n
		}
		if _, ok := x.(andExpr); ok {
			return andNode(ns), nil
		}
		return orNode(ns), nil
	case ofExpr:
		sel, err := ofNames(x.pattern, names)
		if err != nil {
			return nil, err
		}
		ns := make([]node, len(sel))
		for i, s := range sel {
			ns[i] = idents[s]
		}
		if x.all {
			return andNode(ns), nil
		}
		return orNode(ns), nil
	}
	return nil, fmt.Errorf("unknown condition %v", x)
}

// compileFilter compiles a filter document.
func compileFilter(doc *yaml.Node, m Meta, ov *Overlay, warn func(int, string)) (*Filter, error) {
	fk, fv := get(doc, "filter")
	if fv.Kind != yaml.MappingNode {
		return nil, errAt(fk, "filter must be a map")
	}
	f := &Filter{Meta: m}
	rk, rv := get(fv, "rules")
	if rk == nil {
		return nil, errAt(fk, "filter.rules is required")
	}
	var err error
	if f.Rules, err = strList(rv); err != nil {
		return nil, err
	}
	// The filter's own map minus rules is a detection.
	det := &yaml.Node{Kind: yaml.MappingNode, Line: fv.Line, Column: fv.Column}
	for k, v := range members(fv) {
		if k.Value != "rules" {
			det.Content = append(det.Content, k, v)
		}
	}
	f.pred, f.Condition, _, err = compileDetection(det, fk, ov, warn)
	if err != nil {
		return nil, err
	}
	return f, nil
}

var timespanRE = regexp.MustCompile(`^([0-9]+)([smhdw])$`)

// ParseTimespan parses a correlation timespan: a number followed by s, m, h, d or w.
func ParseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want a number followed by s, m, h, d or w", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q: want a positive number", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	if time.Duration(n) > (1<<62)/unit {
		return 0, fmt.Errorf("timespan %q is too long", s)
	}
	return time.Duration(n) * unit, nil
}

var thresholdOps = map[string]bool{"gt": true, "gte": true, "lt": true, "lte": true, "eq": true, "neq": true}

// compileCorrelation validates a correlation document.
func compileCorrelation(doc *yaml.Node, m Meta) (*Correlation, error) {
	ck, cv := get(doc, "correlation")
	if cv.Kind != yaml.MappingNode {
		return nil, errAt(ck, "correlation must be a map")
	}
	c := &Correlation{Meta: m}
	var condK, condV *yaml.Node
	for k, v := range members(cv) {
		var err error
		switch k.Value {
		case "type":
			c.Type, err = str(v)
		case "rules":
			c.Rules, err = strList(v)
		case "group-by":
			c.GroupBy, err = strList(v)
		case "timespan", "timeframe":
			var s string
			if s, err = str(v); err == nil {
				c.Timespan, err = ParseTimespan(s)
				if err != nil {
					err = errAt(v, "%v", err)
				}
			}
		case "condition":
			condK, condV = k, v
		case "generate":
			if v.Tag != "!!bool" {
				err = errAt(v, "generate must be true or false")
			} else {
				c.Generate = v.Value == "true"
			}
		case "aliases":
			err = v.Decode(&c.Aliases)
			if err != nil {
				err = errAt(v, "aliases: want a map of alias to a map of rule to field: %v", err)
			}
		default:
			err = errAt(k, "unknown correlation key %q", k.Value)
		}
		if err != nil {
			return nil, err
		}
	}
	switch c.Type {
	case EventCount, ValueCount, Temporal, TemporalOrdered, ValueSum, ValueAvg, ValuePercentile:
	case "":
		return nil, errAt(ck, "correlation.type is required")
	default:
		return nil, errAt(ck, "correlation type %q is not one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile", c.Type)
	}
	if len(c.Rules) == 0 {
		return nil, errAt(ck, "correlation.rules is required")
	}
	if c.Timespan == 0 {
		return nil, errAt(ck, "correlation.timespan is required")
	}
	temporal := c.Type == Temporal || c.Type == TemporalOrdered
	switch {
	case condV == nil && !temporal:
		return nil, errAt(ck, "correlation.condition is required for %s", c.Type)
	case condV == nil:
	case condV.Kind == yaml.ScalarNode && temporal:
		x, err := parseCondition(condV.Value)
		if err != nil {
			return nil, errAt(condV, "%v", err)
		}
		if err := checkNames(x, c.Rules); err != nil {
			return nil, errAt(condV, "condition: %v", err)
		}
		c.Expression = condV.Value
	case condV.Kind == yaml.MappingNode:
		for k, v := range members(condV) {
			switch {
			case k.Value == "field":
				c.Field = v.Value
			case k.Value == "percentile" && c.Type == ValuePercentile:
				p, err := strconv.ParseFloat(v.Value, 64)
				if err != nil || p < 0 || p > 100 {
					return nil, errAt(v, "percentile must be a number from 0 to 100")
				}
				c.Percentile = p
			case thresholdOps[k.Value]:
				if v.Tag != "!!int" && v.Tag != "!!float" {
					return nil, errAt(v, "condition %s needs a number, got %q", k.Value, v.Value)
				}
				n, err := strconv.ParseFloat(v.Value, 64)
				if err != nil {
					return nil, errAt(v, "%v", err)
				}
				c.Thresholds = append(c.Thresholds, Threshold{Op: k.Value, Value: n})
			default:
				return nil, errAt(k, "unknown correlation condition key %q", k.Value)
			}
		}
		if len(c.Thresholds) == 0 || len(c.Thresholds) > 2 {
			return nil, errAt(condK, "correlation condition needs one comparison or two (a range), got %d", len(c.Thresholds))
		}
	default:
		return nil, errAt(condV, "correlation condition must be a map of comparisons")
	}
	switch c.Type {
	case ValueCount, ValueSum, ValueAvg, ValuePercentile:
		if c.Field == "" {
			return nil, errAt(ck, "%s needs condition.field", c.Type)
		}
		p, err := field.ParsePath(c.Field)
		if err != nil {
			return nil, errAt(condV, "condition.field: %v", err)
		}
		c.fieldPath = p
	default:
		if c.Field != "" {
			return nil, errAt(condV, "condition.field is only for value_* correlations")
		}
	}
	for _, g := range c.GroupBy {
		if _, err := field.ParsePath(g); err != nil {
			return nil, errAt(ck, "group-by: %v", err)
		}
	}
	for a, per := range c.Aliases {
		if !slices.Contains(c.GroupBy, a) {
			return nil, errAt(ck, "alias %q is not in group-by", a)
		}
		for r, f := range per {
			if !slices.Contains(c.Rules, r) {
				return nil, errAt(ck, "alias %q names rule %q, which the correlation does not refer to", a, r)
			}
			if _, err := field.ParsePath(f); err != nil {
				return nil, errAt(ck, "alias %q: %v", a, err)
			}
		}
	}
	return c, nil
}

// checkNames checks that an extended temporal condition names only referenced rules.
func checkNames(x expr, rules []string) error {
	switch x := x.(type) {
	case identExpr:
		if !slices.Contains(rules, x.name) {
			return fmt.Errorf("%q is not one of the correlation's rules", x.name)
		}
	case notExpr:
		return checkNames(x.x, rules)
	case andExpr:
		for _, y := range x.xs {
			if err := checkNames(y, rules); err != nil {
				return err
			}
		}
	case orExpr:
		for _, y := range x.xs {
			if err := checkNames(y, rules); err != nil {
				return err
			}
		}
	}
	return nil
}
