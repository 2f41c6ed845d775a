package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/pattern"
)

// nativeDoc is a native rule (DETECTIONS.md §5.5): Sigma's metadata keys, an
// EventBridge pattern under match, an optional Sigma correlation block and
// auditstream's suppress.
type nativeDoc struct {
	sigma.Meta  `yaml:",inline"`
	Match       yaml.Node     `yaml:"match"`
	Correlation *nativeCorr   `yaml:"correlation"`
	Suppress    *suppressSpec `yaml:"suppress"`
	// FirstSeen lists kinds (country, asn, userAgent, app) whose value on
	// the event must be new for the event's actor (FirstSeenSource).
	FirstSeen []string `yaml:"firstSeen"`
}

// nativeCorr is a Sigma correlation block without rules (the native rule's
// match is its one input).
type nativeCorr struct {
	Type      string    `yaml:"type"`
	GroupBy   []string  `yaml:"group-by"`
	Timespan  string    `yaml:"timespan"`
	Condition yaml.Node `yaml:"condition"`
	Generate  bool      `yaml:"generate"`
}

// suppressSpec is auditstream's suppression setting: for is a duration ("1h";
// "0" raises every match), by the group (default: the correlation's group-by,
// actor.id for single-event rules).
type suppressSpec struct {
	For string   `yaml:"for"`
	By  []string `yaml:"by"`
	// Summary asks for one roll-up detection when a suppression period
	// with suppressed firings ends.
	Summary bool `yaml:"summary"`
}

func (s *suppressSpec) duration(def time.Duration) (time.Duration, error) {
	if s == nil || s.For == "" {
		return def, nil
	}
	if s.For == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s.For)
	if err != nil {
		if d, err2 := sigma.ParseTimespan(s.For); err2 == nil {
			return d, nil
		}
		return 0, fmt.Errorf("suppress.for %q: %w", s.For, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("suppress.for %q is negative", s.For)
	}
	return d, nil
}

// isNative reports whether a YAML document is a native rule: it has a
// top-level match key (Sigma rules have detection).
func isNative(doc *yaml.Node) bool { return topKey(doc, "match") != nil }

// topKey returns the value of a YAML document's top-level key, nil when
// the document is not a mapping or has no such key.
func topKey(doc *yaml.Node, key string) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == key {
			return doc.Content[i+1]
		}
	}
	return nil
}

// loadNative compiles one native rule document: its detection rule and, when
// it has a correlation block, the correlation. file and line locate it.
func loadNative(doc *yaml.Node, file string, line int, defSuppress time.Duration, popts []pattern.Option) (*rule, *correlate.Rule, Info, error) {
	var d nativeDoc
	info := Info{Format: FormatNative, File: file, Line: line, Kind: KindDetection}
	if err := doc.Decode(&d); err != nil {
		return nil, nil, info, err
	}
	d.File, d.Line = file, line
	info = metaInfo(d.Meta, "", "")
	// A native rule has no licence unless it says so, and reads Okta's
	// System Log unless it names another source.
	info.Format, info.Kind, info.License = FormatNative, KindDetection, d.License
	if info.Logsource == (sigma.Logsource{}) {
		info.Logsource = sigma.Logsource{Product: "okta", Service: "okta"}
	}
	var errs []error
	if d.Title == "" {
		errs = append(errs, errors.New("title is required"))
	}
	if d.ID == "" {
		errs = append(errs, errors.New("id is required"))
	}
	if d.Match.Kind == 0 {
		errs = append(errs, errors.New("match is required"))
	}
	info.Slug = slugOf(d.Name, file, d.Title)
	var pat *pattern.Pattern
	var pj []byte
	if d.Match.Kind != 0 {
		var v any
		if err := d.Match.Decode(&v); err != nil {
			errs = append(errs, fmt.Errorf("match: %w", err))
		} else if b, err := json.Marshal(jsonable(v)); err != nil {
			errs = append(errs, fmt.Errorf("match: %w", err))
		} else if p, err := pattern.Compile(b, popts...); err != nil {
			errs = append(errs, fmt.Errorf("match (line %d): %w", d.Match.Line, err))
		} else {
			pat, pj = p, b
		}
	}
	sup, err := d.Suppress.duration(defSuppress)
	if err != nil {
		errs = append(errs, err)
	}
	var by []string
	summary := false
	if d.Suppress != nil {
		by, summary = d.Suppress.By, d.Suppress.Summary
		if summary && sup <= 0 {
			errs = append(errs, errors.New("suppress.summary needs a suppression period (for is 0)"))
		}
	}
	fs, err := parseFirstSeen(d.FirstSeen)
	if err != nil {
		errs = append(errs, err)
	}
	r := &rule{Info: info, prefilter: pj, pat: pat, suppress: sup, summary: summary, raises: true, firstSeen: fs}
	r.Info.Kind = KindDetection
	var corr *correlate.Rule
	if d.Correlation != nil {
		c, err := d.Correlation.compile(d.ID, sup)
		if d.Correlation.Generate {
			err = errors.Join(err, errors.New("generate is not supported in a native rule: write the match as a rule of its own"))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("correlation: %w", err))
		} else {
			corr = c
			corr.SuppressSummary = summary && sup > 0
			r.raises = false
			info.Kind = KindCorrelation
		}
	}
	r.groupBy = cmpSlice(by, []string{"actor.id"})
	if corr != nil && len(by) > 0 {
		// suppression groups are the correlation's groups; a different by is not
		// supported by the engine, so say so rather than ignore it.
		if !slices.Equal(by, corr.GroupBy) {
			errs = append(errs, errors.New("suppress.by must equal the correlation's group-by"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, info, err
	}
	return r, corr, info, nil
}

func (c *nativeCorr) compile(id string, suppress time.Duration) (*correlate.Rule, error) {
	var errs []error
	r := &correlate.Rule{ID: id, Type: correlate.Type(c.Type), Rules: []string{baseID(id)}, GroupBy: c.GroupBy,
		Generate: c.Generate, Suppress: suppress}
	switch r.Type {
	case correlate.EventCount, correlate.ValueCount, correlate.ValueSum, correlate.ValueAvg, correlate.ValuePercentile, correlate.ValueMedian:
	case correlate.Temporal, correlate.TemporalOrdered:
		errs = append(errs, fmt.Errorf("type %s needs several rules: write it as a Sigma correlation", c.Type))
	default:
		errs = append(errs, fmt.Errorf("unknown type %q", c.Type))
	}
	ts, err := sigma.ParseTimespan(c.Timespan)
	if err != nil {
		errs = append(errs, fmt.Errorf("timespan: %w", err))
	}
	r.Timespan = ts
	var cond map[string]any
	if err := c.Condition.Decode(&cond); err != nil || len(cond) == 0 {
		errs = append(errs, errors.New("condition must be a map such as {gte: 5}"))
	}
	for k, v := range cond {
		switch k {
		case "field":
			s, ok := v.(string)
			if !ok {
				errs = append(errs, errors.New("condition.field must be a string"))
			}
			r.Field = s
		case "percentile":
			f, ok := number(v)
			if !ok {
				errs = append(errs, errors.New("condition.percentile must be a number"))
			}
			r.Percentile = f
		case "gt", "gte", "lt", "lte", "eq", "neq":
			f, ok := number(v)
			if !ok {
				errs = append(errs, fmt.Errorf("condition.%s must be a number", k))
			}
			r.Condition = append(r.Condition, correlate.Cond{Op: correlate.Op(k), Value: f})
		default:
			errs = append(errs, fmt.Errorf("condition: unknown key %q", k))
		}
	}
	slices.SortFunc(r.Condition, func(a, b correlate.Cond) int { return strings.Compare(string(a.Op), string(b.Op)) })
	return r, errors.Join(errs...)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n)
	}
	return 0, false
}

// jsonable turns what yaml.v3 decodes into values encoding/json accepts
// (map[any]any never appears with v3, but keys are strings only in mappings
// with string keys: others are refused by the pattern compiler later).
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = jsonable(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = jsonable(x)
		}
		return t
	}
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func cmpSlice(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// splitDocs splits a YAML file into its documents.
func splitDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, &n)
	}
}
