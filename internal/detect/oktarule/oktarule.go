// Package oktarule loads Okta's detection catalog (okta/customer-detections): one
// YAML file per rule whose detection.okta_systemlog.OIE is a System Log filter
// expression. The expression is parsed with the query package's filter parser in
// its detection dialect (query.ParseDetectionFilter: in [...], index segments,
// scalar coercion, case-insensitive segments) and evaluated against a
// field.Event, so field names mean what they mean in Sigma rules.
//
// A file without an OIE expression (the catalog's Splunk-only entries) is listed
// in Pack.Refused with the reason "unsupported: no OIE expression (Splunk only)";
// auditstream's shipped native pack re-expresses them. The catalog has no level:
// rules get medium, and the pack overlay may set another per rule.
//
// Rules have the shape of a sigma.Rule (sigma.Meta, Match, Prefilter) so the
// runtime registry handles both alike. Compiled rules are immutable and safe for
// concurrent use; the field.Event passed to Match is not.
package oktarule

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/query"
)

// DefaultLevel is the level of a catalog rule, which has none in its source.
const DefaultLevel = "medium"

// License is the catalog's licence, carried by every rule.
const License = "Apache-2.0"

// ReasonNoOIE is the refusal reason of a catalog entry without an OIE expression.
const ReasonNoOIE = "unsupported: no OIE expression (Splunk only)"

//go:embed shipped_overlay.yml
var shippedOverlay []byte

// ShippedOverlay returns the overlay auditstream ships with the catalog (the
// result → outcome.result alias). Its aliases are always applied.
func ShippedOverlay() *overlay.Overlay {
	o, err := overlay.Parse(shippedOverlay)
	if err != nil {
		panic("oktarule: shipped overlay: " + err.Error()) // a build defect, caught by tests
	}
	return o
}

// Rule is a compiled catalog rule.
type Rule struct {
	sigma.Meta
	// Expression is the OIE expression as written.
	Expression string `json:"expression"`
	// Hunt is true for the catalog's hunts/ (hunting queries rather than alerts).
	Hunt bool `json:"hunt,omitempty"`
	// Fields lists the LogEvent paths the expression reads (after aliases).
	Fields []string `json:"fields"`

	filter    *query.DetectionFilter
	prefilter *sigma.Prefilter
}

// Match reports whether the event satisfies the rule's expression. e must have
// been Reset with the LogEvent.
func (r *Rule) Match(e *field.Event) bool { return r.filter.Match(e) }

// Prefilter returns the rule's necessary condition (eventType equal to one of a
// set of values), or nil when it has none and must run for every event.
func (r *Rule) Prefilter() *sigma.Prefilter { return r.prefilter }

// Pack is a loaded catalog: the rules, what was refused and why, and warnings.
type Pack struct {
	Rules    []*Rule
	Refused  []sigma.Refusal
	Warnings []sigma.Warning
}

// Rule returns the loaded rule with the given id, or nil.
func (p *Pack) Rule(id string) *Rule {
	for _, r := range p.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// LoadDir loads every .yml and .yaml file under dir (the catalog's detections/
// and hunts/). The error is for reading the directory only.
func LoadDir(dir string, ov *overlay.Overlay) (*Pack, error) {
	return LoadFS(os.DirFS(dir), ".", ov)
}

// LoadFS loads every .yml and .yaml file under root in fsys.
func LoadFS(fsys fs.FS, root string, ov *overlay.Overlay) (*Pack, error) {
	files, err := sigma.ReadFiles(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("load okta catalog: %w", err)
	}
	return LoadFiles(ov, files...), nil
}

// LoadFiles loads the given files as one pack, with the shipped overlay's aliases
// and then ov's. A rule's Level is the overlay's level for it when set, else
// DefaultLevel; the rest of the overlay (enabled, suppression, exceptions) is the
// runtime's to apply (overlay.For).
func LoadFiles(ov *overlay.Overlay, files ...sigma.File) *Pack {
	aliases := map[string]string{}
	for _, o := range []*overlay.Overlay{ShippedOverlay(), ov} {
		if o != nil {
			for k, v := range o.Aliases {
				aliases[k] = v
			}
		}
	}
	p := &Pack{}
	seen := map[string]string{}
	for _, f := range files {
		r, err := load(f, aliases, p)
		if err != nil {
			var rf sigma.Refusal
			if errors.As(err, &rf) {
				p.Refused = append(p.Refused, rf)
				continue
			}
			p.Refused = append(p.Refused, sigma.Refusal{File: f.Name, Line: 1, Reason: err.Error()})
			continue
		}
		if other, dup := seen[r.ID]; dup {
			p.Refused = append(p.Refused, sigma.Refusal{File: f.Name, Line: r.Line, ID: r.ID, Title: r.Title,
				Reason: fmt.Sprintf("duplicate id %s (also in %s)", r.ID, other)})
			continue
		}
		seen[r.ID] = f.Name
		if lv := ov.For(r.ID).Level; lv != "" {
			r.Level = lv
		}
		p.Rules = append(p.Rules, r)
	}
	if ov != nil {
		ids := make([]string, len(p.Rules))
		for i, r := range p.Rules {
			ids[i] = r.ID
		}
		for _, id := range ov.Unknown(ids) {
			p.Warnings = append(p.Warnings, sigma.Warning{Message: fmt.Sprintf("overlay tunes rule %s, which the pack does not load", id)})
		}
	}
	return p
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// doc is a catalog file as far as this package reads it.
type doc struct {
	Title          string        `yaml:"title"`
	ID             string        `yaml:"id"`
	Description    string        `yaml:"description"`
	References     []*string     `yaml:"references"`
	Author         any           `yaml:"author"`
	Created        string        `yaml:"created_date"`
	Modified       string        `yaml:"modified_date"`
	Threat         threat        `yaml:"threat"`
	FalsePositives []string      `yaml:"false_positives"`
	Detection      detectionPart `yaml:"detection"`
}

type threat struct {
	Tactic    []string `yaml:"Tactic"`
	Technique []any    `yaml:"Technique"`
}

type detectionPart struct {
	OktaSystemLog struct {
		OIE string `yaml:"OIE"`
	} `yaml:"okta_systemlog"`
	Splunk string `yaml:"splunk"`
}

func load(f sigma.File, aliases map[string]string, p *Pack) (*Rule, error) {
	var d doc
	if err := yaml.Unmarshal(f.Data, &d); err != nil {
		return nil, sigma.Refusal{File: f.Name, Line: 1, Reason: fmt.Sprintf("not a catalog rule: %v", err)}
	}
	refuse := func(reason string) error {
		return sigma.Refusal{File: f.Name, Line: oieLine(f.Data), ID: d.ID, Title: d.Title, Reason: reason}
	}
	switch {
	case d.Title == "":
		return nil, refuse("title is required")
	case d.ID == "":
		return nil, refuse("id is required")
	}
	if !hexID.MatchString(d.ID) {
		p.Warnings = append(p.Warnings, sigma.Warning{File: f.Name, Line: 1, Message: fmt.Sprintf("id %q is not 32 hex digits", d.ID)})
	}
	oie := strings.TrimSpace(d.Detection.OktaSystemLog.OIE)
	if oie == "" {
		return nil, refuse(ReasonNoOIE)
	}
	flt, err := query.ParseDetectionFilter(oie, query.DetectionOptions{Aliases: aliases})
	if err != nil {
		return nil, refuse("OIE expression: " + err.Error())
	}
	for _, a := range flt.Aliased() {
		p.Warnings = append(p.Warnings, sigma.Warning{File: f.Name, Line: oieLine(f.Data),
			Message: "field " + a + " by the pack overlay's alias (not a LogEvent path as written)"})
	}
	r := &Rule{
		Meta: sigma.Meta{
			Title: d.Title, ID: d.ID, Description: strings.TrimSpace(d.Description),
			Author: authorString(d.Author), License: License,
			Date: d.Created, Modified: d.Modified, Level: DefaultLevel,
			Tags:           tags(d.Threat),
			FalsePositives: d.FalsePositives,
			Logsource:      sigma.Logsource{Product: "okta", Service: "okta"},
			File:           f.Name, Line: 1,
		},
		Expression: oie,
		Hunt:       strings.HasPrefix(f.Name, "hunts/") || strings.Contains(f.Name, "/hunts/"),
		Fields:     flt.Fields(),
		filter:     flt,
	}
	for _, ref := range d.References {
		if ref != nil && *ref != "" {
			r.References = append(r.References, *ref)
		}
	}
	if r.Hunt {
		r.Status = "hunt"
	}
	if ets := flt.EventTypes(); ets != nil {
		r.prefilter = &sigma.Prefilter{Field: "eventType", Values: ets}
	}
	return r, nil
}

// oieLine is the line of the OIE key, else of detection:, else 1, for messages.
func oieLine(data []byte) int {
	det := 1
	for i, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.Contains(l, "OIE:"):
			return i + 1
		case strings.HasPrefix(l, "detection:"):
			det = i + 1
		}
	}
	return det
}

func authorString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []any:
		var s []string
		for _, x := range v {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, ", ")
	}
	return ""
}

// tags maps threat.Tactic names to attack.<tactic-name> and threat.Technique ids
// (T1078, T1556.006) to attack.t1078, attack.t1556.006, as Sigma tags them.
func tags(t threat) []string {
	var out []string
	for _, tac := range t.Tactic {
		out = append(out, "attack."+strings.ReplaceAll(strings.ToLower(strings.TrimSpace(tac)), " ", "-"))
	}
	for _, tech := range t.Technique {
		var id string
		switch v := tech.(type) {
		case string:
			id, _, _ = strings.Cut(v, ":")
		case map[string]any:
			for k := range v {
				id = k
			}
		}
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, "attack."+strings.ToLower(id))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
