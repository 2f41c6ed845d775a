// Package overlay is the pack overlay: the one file per rule pack in which a user
// tunes the pack's rules without editing the upstream rule files
// (DETECTIONS.md §5.1, §6.4). The same format serves every rule front end (Sigma,
// Okta's catalog, native rules):
//
//	placeholders: {name: [values]}      # Sigma %name% placeholders (|expand)
//	aliases: {written.name: logevent.path}
//	defaults:                           # applies to every rule of the pack
//	  suppress: {for: 1h}
//	  exceptions: [<EventBridge pattern>]
//	rules:
//	  <rule id>:
//	    enabled: false
//	    level: high
//	    suppress: {for: 30m, by: [client.ipAddress], summary: true}
//	    exceptions: [<EventBridge pattern>, ...]
//	    severityWhen: [{match: <EventBridge pattern>, level: critical}]
//	disabled: [<rule id>, ...]          # short forms: rules.<id>.enabled: false,
//	levels: {<rule id>: high}           # rules.<id>.level,
//	suppress: {for: 1h}                 # defaults.suppress
//	filters: [<Sigma filter document>]  # for Sigma packs (SigmaFiles)
//
// Exceptions and severityWhen patterns are EventBridge event patterns (package
// pattern, the full language) matched against the event's envelope, whose detail
// is the LogEvent: an event matching an exception never triggers the rule.
// A rule-level list is added to the defaults' list; a rule-level enabled, level
// or suppress replaces the default's.
package overlay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/pattern"
)

// Levels are the Sigma levels a rule or an overlay may set, lowest first.
var Levels = []string{"informational", "low", "medium", "high", "critical"}

// Overlay is a parsed, compiled pack overlay. The zero Overlay (and nil) tunes
// nothing. It is immutable after Parse and safe for concurrent use.
type Overlay struct {
	// Placeholders and Aliases are handed to the front ends (see Sigma).
	Placeholders map[string][]string
	Aliases      map[string]string
	// Defaults apply to every rule of the pack; Rules per rule id.
	Defaults Tuning
	Rules    map[string]Tuning
	// Filters are Sigma filter documents (filter: {rules, selection…,
	// condition}) to load with a Sigma pack, as SigmaFiles.
	Filters []*yaml.Node
}

// Tuning is what the overlay sets for one rule (or as the pack's default).
type Tuning struct {
	// Enabled is nil when not set (a rule is enabled unless an overlay says not).
	Enabled *bool
	// Level overrides the rule's level when not empty.
	Level string
	// Suppress overrides the rule's suppression when not nil.
	Suppress *Suppress
	// Exceptions: an event matching any of them never triggers the rule.
	Exceptions []*pattern.Pattern
	// SeverityWhen raises (or lowers) the level for events matching a pattern; the
	// first match wins.
	SeverityWhen []SeverityRule
}

// SeverityRule is one severityWhen entry.
type SeverityRule struct {
	Match *pattern.Pattern
	Level string
}

// Suppress is a rule's suppression (DETECTIONS.md §6.3).
type Suppress struct {
	// For is the suppression period; 0 means every match raises.
	For time.Duration
	// By are the LogEvent paths of the suppression key (empty: the correlation's
	// group-by, or actor.id for single-event rules).
	By []string
	// Summary asks for one roll-up detection when a window with suppressed matches
	// ends.
	Summary bool
}

// Effective is the tuning of one rule: the defaults merged with the rule's own.
type Effective struct {
	Enabled      bool
	Level        string
	Suppress     *Suppress
	Exceptions   []*pattern.Pattern
	SeverityWhen []SeverityRule
}

// Sigma returns the part of the overlay the Sigma loader takes.
func (o *Overlay) Sigma() sigma.Overlay {
	if o == nil {
		return sigma.Overlay{}
	}
	return sigma.Overlay{Placeholders: o.Placeholders, Aliases: o.Aliases}
}

// SigmaFiles returns the overlay's Sigma filters as files to load with a Sigma
// pack (sigma.LoadFiles(o.Sigma(), append(packFiles, o.SigmaFiles()...)...)), so
// that they are applied to the rules they name, or refused with a reason, like
// filter files of the pack. Names are "overlay/filters/<n>.yml".
func (o *Overlay) SigmaFiles() []sigma.File {
	if o == nil {
		return nil
	}
	var out []sigma.File
	for i, n := range o.Filters {
		data, err := yaml.Marshal(n)
		if err != nil {
			continue // a parsed node always marshals
		}
		out = append(out, sigma.File{Name: fmt.Sprintf("overlay/filters/%d.yml", i), Data: data})
	}
	return out
}

// For returns the effective tuning of the rule with the given id.
func (o *Overlay) For(id string) Effective {
	eff := Effective{Enabled: true}
	if o == nil {
		return eff
	}
	for _, t := range []Tuning{o.Defaults, o.Rules[id]} {
		if t.Enabled != nil {
			eff.Enabled = *t.Enabled
		}
		if t.Level != "" {
			eff.Level = t.Level
		}
		if t.Suppress != nil {
			eff.Suppress = t.Suppress
		}
		eff.Exceptions = append(eff.Exceptions, t.Exceptions...)
		eff.SeverityWhen = append(eff.SeverityWhen, t.SeverityWhen...)
	}
	return eff
}

// Unknown returns the rule ids the overlay tunes that are not among ids (sorted):
// the loader reports them as warnings, since a typo would silently tune nothing.
func (o *Overlay) Unknown(ids []string) []string {
	if o == nil {
		return nil
	}
	var out []string
	for id := range o.Rules {
		if !slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// Excepted reports whether the event matches one of the rule's exceptions.
func (e *Effective) Excepted(env *pattern.Envelope) bool {
	for _, p := range e.Exceptions {
		if p.MatchEnvelope(env) {
			return true
		}
	}
	return false
}

// LevelFor returns the level a detection of the rule carries for the event: the
// first matching severityWhen level, else the overlay's level, else the rule's
// own (base).
func (e *Effective) LevelFor(base string, env *pattern.Envelope) string {
	for _, s := range e.SeverityWhen {
		if s.Match.MatchEnvelope(env) {
			return s.Level
		}
	}
	if e.Level != "" {
		return e.Level
	}
	return base
}

// Load reads and parses an overlay file.
func Load(path string) (*Overlay, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read overlay: %w", err)
	}
	o, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}

type fileSuppress struct {
	For     string   `yaml:"for"`
	By      []string `yaml:"by"`
	Summary bool     `yaml:"summary"`
}

type fileSeverity struct {
	Match any    `yaml:"match"`
	Level string `yaml:"level"`
}

type fileTuning struct {
	Enabled      *bool          `yaml:"enabled"`
	Level        string         `yaml:"level"`
	Suppress     *fileSuppress  `yaml:"suppress"`
	Exceptions   []any          `yaml:"exceptions"`
	SeverityWhen []fileSeverity `yaml:"severityWhen"`
}

type file struct {
	Placeholders map[string][]string   `yaml:"placeholders"`
	Aliases      map[string]string     `yaml:"aliases"`
	Defaults     fileTuning            `yaml:"defaults"`
	Rules        map[string]fileTuning `yaml:"rules"`
	// Short forms (the runtime's first overlay spelling): disabled ids, levels by
	// id, the pack's default suppression. rules: wins where both set a rule.
	Disabled []string          `yaml:"disabled"`
	Levels   map[string]string `yaml:"levels"`
	Suppress *fileSuppress     `yaml:"suppress"`
	// Filters are Sigma filter documents.
	Filters []yaml.Node `yaml:"filters"`
}

// Parse parses an overlay (YAML). Unknown keys, bad levels, durations and
// patterns are errors naming where they are.
func Parse(data []byte) (*Overlay, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	o := &Overlay{Placeholders: f.Placeholders, Aliases: f.Aliases, Rules: map[string]Tuning{}}
	for i := range f.Filters {
		n := &f.Filters[i]
		o.Filters = append(o.Filters, n)
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("overlay: filters[%d] (line %d): want a Sigma filter document (a map)", i, n.Line)
		}
		hasFilter := false
		for j := 0; j+1 < len(n.Content); j += 2 {
			hasFilter = hasFilter || n.Content[j].Value == "filter"
		}
		if !hasFilter {
			return nil, fmt.Errorf("overlay: filters[%d] (line %d): a Sigma filter document needs a filter key", i, n.Line)
		}
	}
	if f.Rules == nil {
		f.Rules = map[string]fileTuning{}
	}
	off := false
	for _, id := range f.Disabled {
		ft := f.Rules[id]
		if ft.Enabled == nil {
			ft.Enabled = &off
		}
		f.Rules[id] = ft
	}
	for id, lv := range f.Levels {
		ft := f.Rules[id]
		if ft.Level == "" {
			ft.Level = lv
		}
		f.Rules[id] = ft
	}
	if f.Suppress != nil && f.Defaults.Suppress == nil {
		f.Defaults.Suppress = f.Suppress
	}
	var err error
	if o.Defaults, err = compileTuning(f.Defaults); err != nil {
		return nil, fmt.Errorf("overlay: defaults: %w", err)
	}
	for id, ft := range f.Rules {
		t, err := compileTuning(ft)
		if err != nil {
			return nil, fmt.Errorf("overlay: rules.%s: %w", id, err)
		}
		o.Rules[id] = t
	}
	return o, nil
}

// ValidLevel reports whether s is a Sigma level.
func ValidLevel(s string) bool { return slices.Contains(Levels, s) }

func compileTuning(ft fileTuning) (Tuning, error) {
	t := Tuning{Enabled: ft.Enabled, Level: ft.Level}
	if t.Level != "" && !ValidLevel(t.Level) {
		return t, fmt.Errorf("level %q is not one of %v", t.Level, Levels)
	}
	if ft.Suppress != nil {
		s, err := ParseSuppress(ft.Suppress.For, ft.Suppress.By, ft.Suppress.Summary)
		if err != nil {
			return t, err
		}
		t.Suppress = s
	}
	for i, x := range ft.Exceptions {
		p, err := CompilePattern(x)
		if err != nil {
			return t, fmt.Errorf("exceptions[%d]: %w", i, err)
		}
		t.Exceptions = append(t.Exceptions, p)
	}
	for i, s := range ft.SeverityWhen {
		if !ValidLevel(s.Level) {
			return t, fmt.Errorf("severityWhen[%d]: level %q is not one of %v", i, s.Level, Levels)
		}
		p, err := CompilePattern(s.Match)
		if err != nil {
			return t, fmt.Errorf("severityWhen[%d].match: %w", i, err)
		}
		t.SeverityWhen = append(t.SeverityWhen, SeverityRule{Match: p, Level: s.Level})
	}
	return t, nil
}

// ParseSuppress builds a Suppress from the YAML form's values: for is a number
// followed by s, m, h, d or w, or "0".
func ParseSuppress(forText string, by []string, summary bool) (*Suppress, error) {
	s := &Suppress{By: by, Summary: summary}
	switch forText {
	case "":
		return nil, fmt.Errorf("suppress.for is required (0 raises every match)")
	case "0":
	default:
		d, err := sigma.ParseTimespan(forText)
		if err != nil {
			return nil, fmt.Errorf("suppress.for: %w", err)
		}
		s.For = d
	}
	return s, nil
}

// CompilePattern compiles an EventBridge pattern written as YAML (decoded into
// maps and lists) or as a JSON string.
func CompilePattern(x any) (*pattern.Pattern, error) {
	var js []byte
	if s, ok := x.(string); ok {
		js = []byte(s)
	} else {
		var err error
		if js, err = json.Marshal(x); err != nil {
			return nil, fmt.Errorf("pattern: %w", err)
		}
	}
	p, err := pattern.Compile(js)
	if err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	return p, nil
}
