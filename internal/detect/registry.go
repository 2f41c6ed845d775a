package detect

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/oktarule"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/pattern"
)

// ReadOverlay reads a pack overlay file (package overlay: one format for every
// pack, which also reads the older short forms disabled, levels and
// suppress). An empty path is no overlay (nil).
func ReadOverlay(path string) (*overlay.Overlay, error) {
	if path == "" {
		return nil, nil
	}
	ov, err := overlay.Load(path)
	if err != nil {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	return ov, nil
}

// StatusDisabled is the status of a rule its pack's overlay disables.
const StatusDisabled = "disabled"

// Pack is one loaded rule pack: its rules (detections and correlations) in
// the engine's terms and every document's Info, loaded or not.
type Pack struct {
	Name  string
	Org   string
	rules []*rule
	corrs []correlate.Rule
	// Infos lists every rule document: loaded, refused (with reason) or disabled.
	Infos []Info
	// Warnings are the loaders' warnings, for the log.
	Warnings []string
	// tunes are the overlay's exceptions and severityWhen, by rule id.
	tunes map[string]*overlay.Effective
	// files are the pack's files by name, for each rule's text (Text).
	files map[string][]byte
}

// ReadFiles reads the .yml and .yaml files of a pack path (a directory, or
// one file), with pack-relative names.
func ReadFiles(path string) ([]sigma.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return []sigma.File{{Name: filepath.Base(path), Data: b}}, nil
	}
	return sigma.ReadFiles(os.DirFS(path), ".")
}

// LoadPack compiles the files of pack name with its overlay (nil: none),
// telling each file's format from its content (LoadPackFormat with
// FormatAuto).
func LoadPack(name, org string, files []sigma.File, ov *overlay.Overlay, popts ...pattern.Option) *Pack {
	return LoadPackFormat(FormatAuto, name, org, files, ov, popts...)
}

// FormatAuto tells a pack file's format from its first document: native
// when it has a top-level match key, Okta's catalog when its detection has
// okta_systemlog or splunk and no condition, else Sigma.
const FormatAuto = ""

// ValidFormat reports whether f is a pack format LoadPackFormat takes.
func ValidFormat(f string) bool {
	switch f {
	case FormatAuto, FormatSigma, FormatNative, FormatOkta:
		return true
	}
	return false
}

// LoadPackFormat compiles the files of pack name with its overlay. format
// is FormatAuto (each file by its content) or the format of every file:
// FormatSigma, FormatNative or FormatOkta (Okta's detection catalog, whose
// entries without an OIE expression are listed as refused). org is the org
// of uploaded rules ("" for packs of every org). popts are the pattern
// limits native rules compile with.
func LoadPackFormat(format, name, org string, files []sigma.File, ov *overlay.Overlay, popts ...pattern.Option) *Pack {
	p := &Pack{Name: name, Org: org, files: make(map[string][]byte, len(files))}
	for _, f := range files {
		p.files[f.Name] = f.Data
	}
	if !ValidFormat(format) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("unknown pack format %q: every file refused", format))
		for _, f := range files {
			p.Infos = append(p.Infos, Info{Pack: name, Org: org, File: f.Name, Line: 1, Status: StatusRefused,
				Reason: fmt.Sprintf("unknown pack format %q", format)})
		}
		return p
	}
	defSup := DefaultSuppress
	if ov != nil && ov.Defaults.Suppress != nil {
		defSup = ov.Defaults.Suppress.For
		if len(ov.Defaults.Suppress.By) > 0 || ov.Defaults.Suppress.Summary {
			p.Warnings = append(p.Warnings, "overlay: defaults.suppress: only for is applied to every rule (set by and summary per rule)")
		}
	}
	var sigmaFiles, oktaFiles []sigma.File
	for _, f := range files {
		if format == FormatOkta {
			oktaFiles = append(oktaFiles, f)
			continue
		}
		if format == FormatSigma {
			sigmaFiles = append(sigmaFiles, f)
			continue
		}
		docs, err := splitDocs(f.Data)
		if err != nil && len(docs) == 0 {
			p.Infos = append(p.Infos, Info{Pack: name, Org: org, File: f.Name, Line: 1, Status: StatusRefused,
				Reason: fmt.Sprintf("yaml: %v", err), Format: cmpOr(format, FormatSigma)})
			continue
		}
		if format == FormatAuto && (len(docs) == 0 || !isNative(docs[0])) {
			if len(docs) > 0 && isOkta(docs[0]) {
				oktaFiles = append(oktaFiles, f)
			} else {
				sigmaFiles = append(sigmaFiles, f)
			}
			continue
		}
		for _, d := range docs {
			line := d.Line
			if len(d.Content) == 1 {
				line = d.Content[0].Line
			}
			r, c, info, err := loadNative(d, f.Name, line, defSup, popts)
			info.Pack, info.Org = name, org
			if err != nil {
				info.Status, info.Reason = StatusRefused, err.Error()
				p.Infos = append(p.Infos, info)
				continue
			}
			r.Pack, r.Org = name, org
			p.add(ov, r, c, info)
		}
	}
	if len(sigmaFiles) > 0 || (len(ov.SigmaFiles()) > 0 && len(oktaFiles) == 0) {
		p.loadSigma(sigmaFiles, ov, defSup)
	}
	if len(oktaFiles) > 0 {
		p.loadOkta(oktaFiles, ov, defSup)
	}
	var ids []string
	for _, in := range p.Infos {
		ids = append(ids, in.ID)
	}
	for _, id := range ov.Unknown(ids) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("overlay tunes rule %s, which the pack does not have", id))
	}
	return p
}

// isOkta reports whether a YAML document is an entry of Okta's detection
// catalog: its detection has okta_systemlog or splunk and no condition.
func isOkta(doc *yaml.Node) bool {
	det := topKey(doc, "detection")
	if det == nil || det.Kind != yaml.MappingNode {
		return false
	}
	okta := false
	for j := 0; j+1 < len(det.Content); j += 2 {
		switch det.Content[j].Value {
		case "condition":
			return false
		case "okta_systemlog", "splunk":
			okta = true
		}
	}
	return okta
}

// loadOkta compiles files of Okta's detection catalog. Entries without an
// OIE expression are refused ("unsupported: no OIE expression").
func (p *Pack) loadOkta(files []sigma.File, ov *overlay.Overlay, defSup time.Duration) {
	op := oktarule.LoadFiles(ov, files...)
	for _, w := range op.Warnings {
		p.Warnings = append(p.Warnings, w.String())
	}
	for _, rf := range op.Refused {
		p.Infos = append(p.Infos, Info{ID: rf.ID, Title: rf.Title, Pack: p.Name, Org: p.Org, File: rf.File, Line: rf.Line,
			Format: FormatOkta, Status: StatusRefused, Reason: rf.Reason, Kind: KindDetection})
	}
	var aliases map[string]string
	if ov != nil {
		aliases = ov.Aliases
	}
	for _, or := range op.Rules {
		info := metaInfo(or.Meta, p.Name, p.Org)
		info.Format, info.Kind = FormatOkta, KindDetection
		info.License = cmpOr(or.License, oktarule.License)
		r := &rule{Info: info, match: or.Match, suppress: defSup, groupBy: []string{"actor.id"}, raises: true, aliases: aliases}
		if pf := or.Prefilter(); pf != nil {
			r.prefilter = pf.Pattern()
		}
		p.add(ov, r, nil, info)
	}
}

// add applies the overlay's tuning of the rule (enabled, level, suppress,
// exceptions, severityWhen) and adds it: r is its detection rule, c its
// correlation (either may be nil).
func (p *Pack) add(ov *overlay.Overlay, r *rule, c *correlate.Rule, info Info) {
	eff := ov.For(info.ID)
	if eff.Level != "" {
		info.Level = eff.Level
		if r != nil {
			r.Level = eff.Level
		}
	}
	if !eff.Enabled {
		info.Status = StatusDisabled
		p.Infos = append(p.Infos, info)
		return
	}
	if ov != nil {
		if s := ov.Rules[info.ID].Suppress; s != nil {
			p.applySuppress(info.ID, s, r, c)
		}
	}
	if len(eff.Exceptions) > 0 && r == nil && c != nil {
		p.privateInputs(c, &overlay.Effective{Exceptions: eff.Exceptions})
	}
	if len(eff.Exceptions) > 0 || len(eff.SeverityWhen) > 0 {
		if p.tunes == nil {
			p.tunes = map[string]*overlay.Effective{}
		}
		e := eff
		p.tunes[info.ID] = &e
	}
	info.Status = StatusLoaded
	if r != nil {
		r.Info.Level = info.Level
		r.Info.Status = StatusLoaded
		if len(eff.Exceptions) > 0 {
			r.exceptions = &overlay.Effective{Exceptions: eff.Exceptions}
		}
		p.rules = append(p.rules, r)
	}
	if c != nil {
		p.corrs = append(p.corrs, *c)
	}
	p.Infos = append(p.Infos, info)
}

// privateInputs gives Sigma correlation c, which has exceptions, private
// inputs: its detection rules' matches reach it under a base id of its own
// (base:<rule>#<correlation>) unless the event matches an exception, so
// that other correlations of the same rules are not affected. Correlations
// it references (chaining) are not filtered: the loader warns.
func (p *Pack) privateInputs(c *correlate.Rule, exc *overlay.Effective) {
	rename := map[string]string{}
	for i, in := range c.Rules {
		if !strings.HasPrefix(in, "base:") {
			p.Warnings = append(p.Warnings, fmt.Sprintf("overlay: exceptions of correlation %s apply to its rules' events, not to the firings of correlation %s", c.ID, in))
			continue
		}
		rid := strings.TrimPrefix(in, "base:")
		var target *rule
		for _, r := range p.rules {
			if r.ID == rid {
				target = r
			}
		}
		if target == nil {
			continue // disabled: no matches at all
		}
		priv := in + "#" + c.ID
		target.feeds = append(target.feeds, feed{base: priv, exc: exc})
		rename[in] = priv
		c.Rules[i] = priv
	}
	for _, per := range c.Aliases {
		for from, to := range rename {
			if f, ok := per[from]; ok {
				delete(per, from)
				per[to] = f
			}
		}
	}
}

// applySuppress applies an overlay's per-rule suppression.
func (p *Pack) applySuppress(id string, s *overlay.Suppress, r *rule, c *correlate.Rule) {
	if s.Summary && s.For <= 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("overlay: rule %s: suppress.summary without a suppression period (for: 0) is ignored", id))
	}
	summary := s.Summary && s.For > 0
	if c != nil {
		c.Suppress, c.SuppressSummary = s.For, summary
		if len(s.By) > 0 && !slices.Equal(s.By, c.GroupBy) {
			p.Warnings = append(p.Warnings, fmt.Sprintf("overlay: rule %s: suppress.by is ignored: a correlation is suppressed per group-by group", id))
		}
		if r != nil {
			r.suppress, r.summary = s.For, summary
		}
		return
	}
	if r != nil {
		r.suppress, r.summary = s.For, summary
		if len(s.By) > 0 {
			r.groupBy = slices.Clone(s.By)
		}
	}
}

func (p *Pack) loadSigma(files []sigma.File, ov *overlay.Overlay, defSup time.Duration) {
	sp := sigma.LoadFiles(ov.Sigma(), append(slices.Clone(files), ov.SigmaFiles()...)...)
	var aliases map[string]string
	if ov != nil {
		aliases = ov.Aliases
	}
	for _, w := range sp.Warnings {
		p.Warnings = append(p.Warnings, w.String())
	}
	for _, rf := range sp.Refused {
		p.Infos = append(p.Infos, Info{ID: rf.ID, Title: rf.Title, Pack: p.Name, Org: p.Org, File: rf.File, Line: rf.Line,
			Format: FormatSigma, Status: StatusRefused, Reason: rf.Reason})
	}
	isCorr := make(map[string]bool, len(sp.Correlations))
	for _, c := range sp.Correlations {
		isCorr[c.ID] = true
	}
	ref := func(id string) string {
		if isCorr[id] {
			return id
		}
		return baseID(id)
	}
	// Sigma's generate: a rule referenced only by correlations that do not
	// generate raises nothing on its own.
	referenced := map[string]bool{}
	generated := map[string]bool{}
	for _, c := range sp.Correlations {
		for _, id := range c.Resolved {
			referenced[id] = true
			if c.Generate {
				generated[id] = true
			}
		}
	}
	for _, sr := range sp.Rules {
		info := metaInfo(sr.Meta, p.Name, p.Org)
		info.Kind = KindDetection
		r := &rule{Info: info, match: sr.Match, suppress: defSup, groupBy: []string{"actor.id"}, raises: !referenced[sr.ID] || generated[sr.ID],
			aliases: aliases}
		if pf := sr.Prefilter(); pf != nil {
			r.prefilter = pf.Pattern()
		}
		p.add(ov, r, nil, info)
	}
	for _, sc := range sp.Correlations {
		info := metaInfo(sc.Meta, p.Name, p.Org)
		info.Kind = KindCorrelation
		c := correlate.Rule{ID: sc.ID, Type: correlate.Type(sc.Type), GroupBy: sc.GroupBy, Field: sc.Field,
			Timespan: sc.Timespan, Percentile: sc.Percentile, Generate: sc.Generate, Suppress: defSup}
		for _, id := range sc.Resolved {
			c.Rules = append(c.Rules, ref(id))
		}
		for _, t := range sc.Thresholds {
			c.Condition = append(c.Condition, correlate.Cond{Op: correlate.Op(t.Op), Value: t.Value})
		}
		if len(sc.Aliases) > 0 {
			c.Aliases = map[string]map[string]string{}
			for alias, per := range sc.Aliases {
				m := map[string]string{}
				for k, f := range per {
					id := k
					if i := slices.Index(sc.Rules, k); i >= 0 && i < len(sc.Resolved) {
						id = sc.Resolved[i]
					}
					m[ref(id)] = f
				}
				c.Aliases[alias] = m
			}
		}
		if sc.Expression != "" {
			c.Expression, c.Names = sc.Expression, slices.Clone(sc.Rules)
		}
		p.add(ov, nil, &c, info)
	}
}

func metaInfo(m sigma.Meta, pack, org string) Info {
	return Info{ID: m.ID, Title: m.Title, Name: m.Name, Format: FormatSigma, Pack: pack, Org: org, File: m.File, Line: m.Line,
		Level: cmpOr(m.Level, "medium"), RuleStatus: m.Status, Description: m.Description, Author: m.Author,
		License: cmpOr(m.License, "DRL-1.1"), Tags: m.Tags, References: m.References, FalsePositives: m.FalsePositives,
		Logsource: m.Logsource, Slug: slugOf(m.Name, m.File, m.Title)}
}

// Route binds a logsource to the journal events that carry it: events whose
// envelope source starts with one of Sources (DETECTIONS.md §5.2).
type Route struct {
	Product string   `yaml:"product" json:"product"`
	Service string   `yaml:"service,omitempty" json:"service,omitempty"`
	Sources []string `yaml:"sources" json:"sources"`
}

// OktaSourcePrefix starts the envelope source of Okta's events: the poller's
// and the EventBridge receiver's (aws.partner/okta.com/<org>/<name>).
const OktaSourcePrefix = "aws.partner/okta.com/"

// DetectSource is the envelope source of detection events.
const DetectSource = "auditstream.detect"

// DefaultRoutes binds logsource product okta to Okta's own event sources.
func DefaultRoutes() []Route {
	return []Route{{Product: "okta", Sources: []string{OktaSourcePrefix}}}
}

// detectionsLogsource is the logsource of detection events: only rules that
// ask for it see them (no loops).
var detectionsLogsource = sigma.Logsource{Product: "auditstream", Service: "detections"}

func (r Route) binds(ls sigma.Logsource) bool {
	return strings.EqualFold(r.Product, ls.Product) && (r.Service == "" || ls.Service == "" || strings.EqualFold(r.Service, ls.Service))
}

// Registry is the set of packs the runtime evaluates, with each rule's status.
type Registry struct {
	routes []Route
	// classes are the distinct sets of envelope source prefixes rules bind
	// to (the union of the routes binding their logsource); class
	// detectClass (when not -1) is the detection events'.
	classes     [][]string
	classKey    map[string]int
	detectClass int
	// rules are the loaded detection rules; route[i] is rules[i]'s class.
	rules []*rule
	route []int
	corrs []correlate.Rule
	infos []Info
	byID  map[string]*Info
	// tunes are the overlays' severityWhen (and exceptions), by rule id.
	tunes map[string]*overlay.Effective
	// files are the files of each rule's pack by textKey, for Text.
	files map[string]map[string][]byte
}

// NewRegistry gathers packs: rule ids must be unique across packs (a later
// duplicate is refused), and each loaded rule is bound to the route of its
// logsource or listed as "no source".
func NewRegistry(routes []Route, packs ...*Pack) *Registry {
	g := &Registry{routes: routes, byID: map[string]*Info{}, classKey: map[string]int{}, detectClass: -1}
	seen := map[string]string{}
	dup := map[string]bool{}
	for _, p := range packs {
		for _, in := range p.Infos {
			if in.Status != StatusLoaded || in.ID == "" {
				continue
			}
			// Ids are unique across orgs too: they name the engine's state.
			key := in.ID
			if first, ok := seen[key]; ok && first != p.Name {
				dup[p.Name+"\x00"+key] = true
				continue
			}
			seen[key] = p.Name
		}
	}
	for _, p := range packs {
		for _, in := range p.Infos {
			if g.files == nil {
				g.files = map[string]map[string][]byte{}
			}
			if _, ok := g.files[textKey(in.Org, in.ID)]; !ok {
				g.files[textKey(in.Org, in.ID)] = p.files
			}
		}
		isDup := func(_, id string) bool { return dup[p.Name+"\x00"+id] }
		for _, in := range p.Infos {
			if in.Status == StatusLoaded && isDup(in.Org, in.ID) {
				in.Status, in.Reason = StatusRefused, fmt.Sprintf("id %s is already loaded from pack %s", in.ID, seen[in.ID])
			}
			g.infos = append(g.infos, in)
		}
		for _, r := range p.rules {
			if isDup(r.Org, r.ID) {
				continue
			}
			ri := g.classOf(r.Logsource)
			if ri < 0 {
				g.setStatus(r.Org, r.ID, StatusNoSource, fmt.Sprintf("no event source declares logsource %s", lsString(r.Logsource)))
				continue
			}
			// A copy: packs' rules are shared by every registry built
			// from them (a rebuild runs while the engine reads the last).
			rc := *r
			rc.base = baseID(r.ID)
			g.rules = append(g.rules, &rc)
			g.route = append(g.route, ri)
		}
		for _, c := range p.corrs {
			if !isDup(p.Org, c.ID) {
				g.corrs = append(g.corrs, c)
			}
		}
		for id, t := range p.tunes {
			if !isDup(p.Org, id) {
				if g.tunes == nil {
					g.tunes = map[string]*overlay.Effective{}
				}
				g.tunes[id] = t
			}
		}
	}
	for i := range g.infos {
		in := &g.infos[i]
		if in.Status == StatusLoaded || in.Status == StatusNoSource {
			g.byID[in.ID] = in
		}
	}
	return g
}

// classOf returns the class of a logsource, adding it when new; -1 when no
// route binds it.
func (g *Registry) classOf(ls sigma.Logsource) int {
	if strings.EqualFold(ls.Product, detectionsLogsource.Product) && strings.EqualFold(ls.Service, detectionsLogsource.Service) {
		if g.detectClass < 0 {
			g.detectClass = len(g.classes)
			g.classes = append(g.classes, nil)
		}
		return g.detectClass
	}
	var prefixes []string
	for _, rt := range g.routes {
		if rt.binds(ls) {
			prefixes = append(prefixes, rt.Sources...)
		}
	}
	if len(prefixes) == 0 {
		return -1
	}
	slices.Sort(prefixes)
	prefixes = slices.Compact(prefixes)
	key := strings.Join(prefixes, "\x00")
	if i, ok := g.classKey[key]; ok {
		return i
	}
	g.classKey[key] = len(g.classes)
	g.classes = append(g.classes, prefixes)
	return len(g.classes) - 1
}

func (g *Registry) setStatus(org, id, status, reason string) {
	for i := range g.infos {
		if g.infos[i].ID == id && g.infos[i].Org == org && g.infos[i].Status == StatusLoaded {
			g.infos[i].Status, g.infos[i].Reason = status, reason
		}
	}
}

func lsString(ls sigma.Logsource) string {
	var parts []string
	for _, kv := range [][2]string{{"product", ls.Product}, {"service", ls.Service}, {"category", ls.Category}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+kv[1])
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Infos lists every rule document of every pack with its status.
func (g *Registry) Infos() []Info { return slices.Clone(g.infos) }

// Info returns a loaded (or "no source") rule's description.
func (g *Registry) Info(id string) (Info, bool) {
	in, ok := g.byID[id]
	if !ok {
		return Info{}, false
	}
	return *in, true
}

// engineRules are the correlation engine's rules: each Sigma or native
// correlation, and a Single correlation for every detection rule that raises
// its own detections.
func (g *Registry) engineRules() []correlate.Rule {
	out := slices.Clone(g.corrs)
	for _, r := range g.rules {
		if r.raises {
			out = append(out, correlate.Rule{ID: r.ID, Type: correlate.Single, Rules: []string{baseID(r.ID)},
				GroupBy: r.groupBy, Suppress: r.suppress, SuppressSummary: r.summary && r.suppress > 0})
		}
	}
	return out
}

// errNoRules is returned by operations that need at least one loaded rule.
var errNoRules = errors.New("no rule loaded")

// Check compiles the registry's correlation rules with the engine's
// configuration and refuses (with the engine's reason) those it would not
// accept, such as a threshold maxEventsPerWindow cannot reach, so that one
// such rule does not stop every other. It must run before the registry is
// shared.
func (g *Registry) Check(cfg correlate.Config) {
	for range 3 {
		all := g.engineRules()
		if _, err := correlate.New(cfg, all); err == nil {
			return
		}
		bad := map[string]string{}
		for _, r := range all {
			if _, err := correlate.New(cfg, []correlate.Rule{r}); err != nil {
				bad[r.ID] = err.Error()
			}
		}
		if len(bad) == 0 {
			// A problem between rules (a cycle): refuse every correlation
			// the error names.
			_, err := correlate.New(cfg, all)
			for _, r := range all {
				if strings.Contains(err.Error(), fmt.Sprintf("%q", r.ID)) {
					bad[r.ID] = err.Error()
				}
			}
			if len(bad) == 0 {
				return
			}
		}
		g.corrs = slices.DeleteFunc(g.corrs, func(c correlate.Rule) bool { return bad[c.ID] != "" })
		for i := 0; i < len(g.rules); i++ {
			if bad[g.rules[i].ID] != "" {
				g.rules = slices.Delete(g.rules, i, i+1)
				g.route = slices.Delete(g.route, i, i+1)
				i--
			}
		}
		for i := range g.infos {
			if reason := bad[g.infos[i].ID]; reason != "" && g.infos[i].Status == StatusLoaded {
				g.infos[i].Status, g.infos[i].Reason = StatusRefused, reason
			}
		}
	}
}

// NoFirstSeenReason is the status reason of rules using firstSeen when the
// runtime has no FirstSeenSource.
const NoFirstSeenReason = "firstSeen needs the per-user activity profiles (activity.enabled: true)"

// WithoutFirstSeen lists the rules using firstSeen as "no source" and takes
// them out of evaluation: for a runtime without a FirstSeenSource. It
// changes g (call it before g is shared) and returns it.
func (g *Registry) WithoutFirstSeen() *Registry {
	keep, route := g.rules[:0], g.route[:0]
	for i, r := range g.rules {
		if len(r.firstSeen) > 0 {
			g.setStatus(r.Org, r.ID, StatusNoSource, NoFirstSeenReason)
			continue
		}
		keep, route = append(keep, r), append(route, g.route[i])
	}
	clear(g.rules[len(keep):])
	g.rules, g.route = keep, route
	return g
}

// firstSeenRules lists the ids of the evaluated rules using firstSeen.
func (g *Registry) firstSeenRules() []string {
	var ids []string
	for _, r := range g.rules {
		if len(r.firstSeen) > 0 {
			ids = append(ids, r.ID)
		}
	}
	return ids
}
