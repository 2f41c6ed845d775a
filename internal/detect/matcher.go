package detect

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/pattern"
)

// Envelope holds the EventBridge envelope defaults native rules' patterns
// see (as log streams' filters see them).
type Envelope struct {
	Account string
	Region  string
}

// Raised is one detection the matcher raised: the detection event to append
// and what it was built from.
type Raised struct {
	Record    event.Record
	Detection correlate.Detection
	Info      Info
}

// Matcher evaluates journal events against a Registry: logsource routing,
// one prefilter pattern.Set per route, full predicates of the candidates, and
// the correlation engine. It is not safe for concurrent use: the runtime
// feeds it from one goroutine.
type Matcher struct {
	reg       *Registry
	eng       *correlate.Engine
	env       Envelope
	sets      []*pattern.Set // per class of sources (Registry.classes)
	unindexed [][]*rule      // per class
	byPat     map[pattern.ID]*rule
	inputs    map[string][]field.Path // by base id
	corrType  map[string]string
	// native is true when some rule's pattern may test the envelope's time.
	native bool
	// Enabled, when set, says whether rule id runs for org (the API's
	// enable/disable); nil runs every rule.
	Enabled func(org, id string) bool
	// FirstSeen, when set, answers rules' firstSeen tests; nil: rules with
	// firstSeen never match (counted in MatchStats.FirstSeenUnavailable).
	FirstSeen FirstSeenFunc

	fe     field.Event
	feSet  bool
	ids    []pattern.ID
	fields []correlate.Field
	vals   []field.Value
	supps  []correlate.Suppression
	stats  MatchStats
	// curRule and curDepth describe the detection event being fed: the rule
	// that raised it and its chain depth.
	curRule  string
	curDepth int
	// curEnv is the envelope of the event being fed (nil in Advance), for
	// the overlays' severityWhen.
	curEnv *pattern.Envelope
	envBuf pattern.Envelope
	// sec and secText cache the envelope time of the last event's second.
	sec     int64
	secText string
	// apiOrg and apiSource are the last org fed without an envelope
	// source (events of the API) and its source, auditstream.<org>.
	apiOrg, apiSource string
}

// MatchStats are the matcher's counters, for metrics.
type MatchStats struct {
	Events, Candidates, Matches, Detections, Suppressed, Late, BadEvents uint64
	// Excepted counts matches dropped by an overlay exception.
	Excepted uint64
	// ChainStopped counts detection events not evaluated because their chain
	// of alert-on-alert detections reached MaxChainDepth.
	ChainStopped uint64
	// FirstSeenUnavailable counts pattern matches of rules with firstSeen
	// not evaluated because the matcher has no FirstSeen source.
	FirstSeenUnavailable uint64
}

// MaxChainDepth bounds chains of detections raised from detection events
// (alert-on-alert rules): a detection event this deep is not evaluated.
const MaxChainDepth = 10

var (
	pathRuleID     = field.MustParsePath("debugContext.debugData.ruleId")
	pathChainDepth = field.MustParsePath("debugContext.debugData.chainDepth")
)

// NewMatcher builds the matcher of reg's rules with a fresh correlation
// engine.
func NewMatcher(reg *Registry, cfg correlate.Config, env Envelope) (*Matcher, error) {
	eng, err := correlate.New(cfg, reg.engineRules())
	if err != nil {
		return nil, fmt.Errorf("correlation rules: %w", err)
	}
	m := &Matcher{reg: reg, eng: eng, env: env, byPat: map[pattern.ID]*rule{}, inputs: map[string][]field.Path{},
		corrType: map[string]string{}}
	n := len(reg.classes)
	if n > 64 {
		return nil, fmt.Errorf("rules bind %d distinct sets of event sources, at most 64", n)
	}
	m.sets = make([]*pattern.Set, n)
	m.unindexed = make([][]*rule, n)
	for i := range m.sets {
		m.sets[i] = pattern.NewSet()
	}
	for i, r := range reg.rules {
		ri := reg.route[i]
		var p *pattern.Pattern
		switch {
		case r.pat != nil:
			p, m.native = r.pat, true
		case r.prefilter != nil:
			p, err = pattern.Compile(r.prefilter)
			if err != nil {
				return nil, fmt.Errorf("rule %s prefilter: %w", r.ID, err)
			}
		}
		if p == nil {
			m.unindexed[ri] = append(m.unindexed[ri], r)
		} else {
			m.sets[ri].Add(pattern.ID(r.ID), p)
			m.byPat[pattern.ID(r.ID)] = r
		}
		bases := []string{baseID(r.ID)}
		for _, f := range r.feeds {
			bases = append(bases, f.base)
		}
		for _, b := range bases {
			var paths []field.Path
			for _, in := range eng.Inputs(b) {
				if a, ok := r.aliases[in]; ok {
					in = a
				}
				fp, err := field.ParsePath(in)
				if err != nil {
					return nil, fmt.Errorf("rule %s: field %q: %w", r.ID, in, err)
				}
				paths = append(paths, fp)
			}
			m.inputs[b] = paths
		}
	}
	for _, c := range reg.engineRules() {
		m.corrType[c.ID] = string(c.Type)
	}
	return m, nil
}

// Engine is the matcher's correlation engine (for snapshots).
func (m *Matcher) Engine() *correlate.Engine { return m.eng }

// Registry is the registry the matcher evaluates.
func (m *Matcher) Registry() *Registry { return m.reg }

// Stats returns the matcher's counters.
func (m *Matcher) Stats() MatchStats { return m.stats }

// Unindexed is the number of rules evaluated for every event of their route
// (no prefilter).
func (m *Matcher) Unindexed() int {
	n := 0
	for _, u := range m.unindexed {
		n += len(u)
	}
	return n
}

// routeOf returns the routes an event's envelope source binds, as a bit set
// (at most 63 routes; more is refused by config validation). Detection
// events bind only the detections route. raw is the event's own source
// (empty for the org's default source, which can therefore never pose as
// a detection even for an org named "detect").
func (m *Matcher) routeOf(raw, source string) uint64 {
	if raw == DetectSource {
		if m.reg.detectClass < 0 {
			return 0
		}
		return 1 << uint(m.reg.detectClass)
	}
	var bits uint64
	for i, prefixes := range m.reg.classes {
		if i == m.reg.detectClass {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(source, p) {
				bits |= 1 << uint(i)
				break
			}
		}
	}
	return bits
}

// Feed evaluates one journal event and appends what it raised to out.
func (m *Matcher) Feed(r *event.Record, out []Raised) []Raised {
	m.stats.Events++
	source := r.Source
	if source == "" {
		// The API's source, built once per org in a row (one allocation
		// per event before).
		if r.Org != m.apiOrg || m.apiSource == "" {
			m.apiOrg, m.apiSource = r.Org, "auditstream."+r.Org
		}
		source = m.apiSource
	}
	routes := m.routeOf(r.Source, source)
	if routes == 0 {
		return out
	}
	m.feSet = false
	m.curRule, m.curDepth = "", 0
	if r.Source == DetectSource {
		// A detection event: the rule that raised it never sees it, and
		// chains of alert-on-alert rules stop at MaxChainDepth (no loops,
		// also between two rules).
		if fe, ok := m.event(r); ok {
			m.vals = fe.AppendValues(m.vals[:0], pathRuleID)
			if len(m.vals) > 0 {
				m.curRule = string(m.vals[0].Text)
			}
			m.vals = fe.AppendValues(m.vals[:0], pathChainDepth)
			if len(m.vals) > 0 {
				m.curDepth, _ = strconv.Atoi(string(m.vals[0].Text))
			}
		}
		if m.curDepth >= MaxChainDepth {
			m.stats.ChainStopped++
			return out
		}
	}
	// The envelope lives in the matcher (no allocation per event); curEnv
	// points at it while the event's rules are evaluated.
	m.envBuf = pattern.Envelope{Version: "0", ID: r.UUID, DetailType: "SystemLog", Source: source,
		Account: m.env.Account, Region: m.env.Region, Detail: r.Data}
	env := &m.envBuf
	if r.Account != "" {
		env.Account = r.Account
	}
	if m.native {
		if sec := r.Published.Unix(); sec != m.sec || m.secText == "" {
			m.sec, m.secText = sec, r.Published.UTC().Truncate(time.Second).Format(time.RFC3339)
		}
		env.Time = m.secText
	}
	for ri := range m.sets {
		if routes&(1<<uint(ri)) == 0 {
			continue
		}
		m.ids = m.sets[ri].MatchAllEnvelope(env, m.ids[:0])
		m.curEnv = env
		for _, id := range m.ids {
			out = m.eval(m.byPat[id], r, env, out)
		}
		for _, rl := range m.unindexed[ri] {
			out = m.eval(rl, r, env, out)
		}
		m.curEnv = nil
	}
	return out
}

// event returns the parsed event, parsing it once per Feed.
func (m *Matcher) event(r *event.Record) (*field.Event, bool) {
	if !m.feSet {
		m.feSet = true
		if err := m.fe.Reset(r.Data); err != nil {
			m.stats.BadEvents++
			return nil, false
		}
	}
	return &m.fe, len(m.fe.Raw()) > 0
}

func (m *Matcher) eval(rl *rule, r *event.Record, env *pattern.Envelope, out []Raised) []Raised {
	if rl == nil || (rl.Org != "" && rl.Org != r.Org) || (m.curRule != "" && rl.ID == m.curRule) {
		return out
	}
	if m.Enabled != nil && !m.Enabled(r.Org, rl.ID) {
		return out
	}
	m.stats.Candidates++
	if rl.match != nil {
		fe, ok := m.event(r)
		if !ok || !rl.match(fe) {
			return out
		}
	}
	if rl.exceptions != nil && rl.exceptions.Excepted(env) {
		m.stats.Excepted++
		return out
	}
	if len(rl.firstSeen) > 0 && !m.firstSeenOK(rl, r) {
		return out
	}
	m.stats.Matches++
	out = m.observe(rl.base, r, out)
	for _, f := range rl.feeds {
		if !f.exc.Excepted(env) {
			out = m.observe(f.base, r, out)
		}
	}
	return out
}

// observe gives the engine one match of base id bid with the fields it
// asks for.
func (m *Matcher) observe(bid string, r *event.Record, out []Raised) []Raised {
	paths := m.inputs[bid]
	m.fields = m.fields[:0]
	if len(paths) > 0 {
		fe, ok := m.event(r)
		for _, p := range paths {
			var f correlate.Field
			if ok {
				// The first value, as Sigma's group-by takes it.
				m.vals = fe.AppendValues(m.vals[:0], p)
				if len(m.vals) > 0 && m.vals[0].Kind != field.Null {
					f = correlate.Field{Value: string(m.vals[0].Text), Present: true}
				}
			}
			m.fields = append(m.fields, f)
		}
	}
	res := m.eng.Observe(correlate.Match{Rule: bid, Org: r.Org, Time: r.Published, UUID: r.UUID, Fields: m.fields})
	return m.collect(res, r, out)
}

// TakeSuppressed returns the firings suppressed since the last call (the
// newest per open detection last) and forgets them.
func (m *Matcher) TakeSuppressed() []correlate.Suppression {
	s := m.supps
	m.supps = nil
	return s
}

// Advance moves idle orgs' clocks to now (wall clock), closing windows.
func (m *Matcher) Advance(now time.Time, out []Raised) []Raised {
	return m.collect(m.eng.Advance(now), nil, out)
}

func (m *Matcher) collect(res correlate.Result, last *event.Record, out []Raised) []Raised {
	m.stats.Suppressed += uint64(len(res.Suppressed))
	m.supps = append(m.supps, res.Suppressed...)
	m.stats.Late += uint64(len(res.Late))
	for _, d := range res.Detections {
		info, ok := m.reg.Info(d.Rule)
		if !ok {
			info = Info{ID: d.Rule, Title: d.Rule, Slug: slugOf("", "", d.Rule), Level: "medium"}
		}
		src := last
		if d.SummaryOf != "" {
			// A summary is about its period, not the event that ended it
			// (the clock may end it as well): the same bytes either way.
			src = nil
		}
		if t := m.reg.tunes[d.Rule]; t != nil && m.curEnv != nil && src != nil {
			// severityWhen: the event that completed the detection decides.
			info.Level = t.LevelFor(info.Level, m.curEnv)
		}
		depth := 1
		if last != nil && last.Source == DetectSource {
			depth = m.curDepth + 1
		}
		rec, err := buildDetection(d, info, m.corrType[d.Rule], src, depth)
		if err != nil {
			continue // cannot happen: the event is built from strings and numbers
		}
		m.stats.Detections++
		out = append(out, Raised{Record: rec, Detection: d, Info: info})
	}
	return out
}
