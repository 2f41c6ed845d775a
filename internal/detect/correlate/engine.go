package correlate

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"
)

// crule is a compiled rule with its state.
type crule struct {
	Rule
	idx       int
	span      int64
	conds     []Cond
	eager     bool
	generates bool
	fp        string
	consumers []consumer // correlations that reference this one
	expr      *expr      // Temporal with an Expression
	groups    map[string]*group
	lru       group // sentinel: lru.next is the most recently updated group
	stats     RuleStats
}

// consumer is a correlation fed by a rule: ref is the rule's index in c.Rules; slots
// map each group-by field (and the value field, last, when c needs one) to an index of
// the base rule's inputs, or names them for a chained correlation.
type consumer struct {
	c     *crule
	ref   int
	slots []int
	names []string
}

// baseRule is a rule not defined in the engine: its matches come from Observe.
type baseRule struct {
	inputs    []string
	consumers []consumer
	generates bool
}

// Engine is the correlation engine. It is not safe for concurrent use: the runtime
// owns one per partition and feeds it from one goroutine.
type Engine struct {
	cfg      Config
	lateness int64
	rules    []*crule
	byID     map[string]*crule
	base     map[string]*baseRule
	orgs     map[string]*orgState
	orgNames []string
	seq      uint64
	kbuf     []byte
	vbuf     []Field
	scratch  scratch
	res      Result
	// noIncremental turns off incremental distinct counting (tests compare both).
	noIncremental bool
}

// New compiles rules. Every problem is reported at once.
func New(cfg Config, rules []Rule) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Engine{
		cfg:      cfg,
		lateness: int64(cfg.AllowedLateness),
		byID:     make(map[string]*crule, len(rules)),
		base:     make(map[string]*baseRule),
		orgs:     make(map[string]*orgState),
	}
	var errs []error
	for i := range rules {
		r := rules[i]
		r.Rules = slices.Clone(r.Rules)
		r.GroupBy = slices.Clone(r.GroupBy)
		r.Condition = slices.Clone(r.Condition)
		r.Names = slices.Clone(r.Names)
		if r.Aliases != nil {
			aliases := make(map[string]map[string]string, len(r.Aliases))
			for k, v := range r.Aliases {
				aliases[k] = maps.Clone(v)
			}
			r.Aliases = aliases
		}
		if err := r.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := e.byID[r.ID]; dup {
			errs = append(errs, fmt.Errorf("correlation %q: defined twice", r.ID))
			continue
		}
		if r.Type == EventCount || r.Type == ValueCount || r.Type == Temporal || r.Type == TemporalOrdered {
			// A window holds at most MaxEventsPerWindow events.
			for _, c := range r.conds() {
				if limit := float64(cfg.MaxEventsPerWindow); c.Op == GT && c.Value >= limit || c.Op == GTE && c.Value > limit {
					errs = append(errs, fmt.Errorf("correlation %q: condition %s %v cannot be reached with max_events_per_window %d", r.ID, c.Op, c.Value, cfg.MaxEventsPerWindow))
				}
			}
		}
		cr := &crule{Rule: r, idx: len(e.rules), span: int64(r.Timespan), conds: r.conds(), eager: r.eager(), fp: r.fingerprint(), groups: make(map[string]*group)}
		if r.Expression != "" {
			cr.expr, _ = parseExpr(r.Expression, r.Rules, r.Names) // validated above
		}
		cr.lru.next, cr.lru.prev = &cr.lru, &cr.lru
		e.rules = append(e.rules, cr)
		e.byID[r.ID] = cr
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := e.checkChains(); err != nil {
		return nil, err
	}
	e.link()
	return e, nil
}

// checkChains rejects cycles and chains deeper than MaxChainDepth.
func (e *Engine) checkChains() error {
	depth := make(map[string]int, len(e.rules))
	const visiting = -1
	var errs []error
	var visit func(r *crule, path []string) int
	visit = func(r *crule, path []string) int {
		switch d := depth[r.ID]; {
		case d == visiting:
			errs = append(errs, fmt.Errorf("correlation %q: cycle %v", r.ID, append(path, r.ID)))
			return MaxChainDepth + 1
		case d > 0:
			return d
		}
		depth[r.ID] = visiting
		d := 1
		for _, ref := range r.Rules {
			if child, ok := e.byID[ref]; ok {
				d = max(d, 1+visit(child, append(path, r.ID)))
			}
		}
		depth[r.ID] = d
		return d
	}
	for _, r := range e.rules {
		if d := visit(r, nil); d > MaxChainDepth && depth[r.ID] != visiting {
			errs = append(errs, fmt.Errorf("correlation %q: chain depth %d exceeds %d", r.ID, d, MaxChainDepth))
		}
	}
	return errors.Join(errs...)
}

// link builds the consumer lists and input field lists.
func (e *Engine) link() {
	for _, c := range e.rules {
		for ref, id := range c.Rules {
			fields := make([]string, 0, len(c.GroupBy)+1)
			for _, name := range c.GroupBy {
				if f, ok := c.Aliases[name][id]; ok {
					name = f
				}
				fields = append(fields, name)
			}
			if c.Field != "" {
				fields = append(fields, c.Field)
			}
			if child, ok := e.byID[id]; ok {
				child.consumers = append(child.consumers, consumer{c: c, ref: ref, names: fields})
				continue
			}
			b := e.base[id]
			if b == nil {
				b = &baseRule{}
				e.base[id] = b
			}
			cons := consumer{c: c, ref: ref, slots: make([]int, len(fields))}
			for i, f := range fields {
				at := slices.Index(b.inputs, f)
				if at < 0 {
					at = len(b.inputs)
					b.inputs = append(b.inputs, f)
				}
				cons.slots[i] = at
			}
			b.consumers = append(b.consumers, cons)
		}
	}
	gen := func(cons []consumer) bool {
		windowed := false
		for _, c := range cons {
			if c.c.Type == Single {
				continue
			}
			windowed = true
			if c.c.Generate {
				return true
			}
		}
		return !windowed
	}
	for _, b := range e.base {
		b.generates = gen(b.consumers)
	}
	for _, r := range e.rules {
		r.generates = gen(r.consumers)
	}
}

// Inputs returns the fields the runtime must resolve, in order, for a match of the
// base rule id (Match.Fields); nil when no correlation references the rule.
func (e *Engine) Inputs(ruleID string) []string {
	if b := e.base[ruleID]; b != nil {
		return slices.Clone(b.inputs)
	}
	return nil
}

// Generates reports whether matches (for a base rule) or firings (for a correlation)
// of ruleID are raised as detections on their own: true unless every windowed
// correlation referencing it has Generate false (Sigma's generate flag). Single
// correlations do not count as references: they are the rule's own detections. The
// engine applies this to correlations itself; for base rules it is the runtime's
// decision (wrap the rule in a Single correlation only when this is true).
func (e *Engine) Generates(ruleID string) bool {
	if r := e.byID[ruleID]; r != nil {
		return r.generates
	}
	if b := e.base[ruleID]; b != nil {
		return b.generates
	}
	return true
}

// Stats returns the counters of every rule, by rule id.
func (e *Engine) Stats() map[string]RuleStats {
	out := make(map[string]RuleStats, len(e.rules))
	for _, r := range e.rules {
		s := r.stats
		s.Groups = len(r.groups)
		out[r.ID] = s
	}
	return out
}

// Watermark returns an org's watermark: events older than it are too late. Zero when
// the org has not been seen.
func (e *Engine) Watermark(org string) time.Time {
	if o := e.orgs[org]; o != nil && o.seen {
		return time.Unix(0, o.wm(e.lateness)).UTC()
	}
	return time.Time{}
}

// Observe applies one match of a base rule and returns what fired. The Result's
// slices belong to the caller.
func (e *Engine) Observe(m Match) Result {
	e.res = Result{}
	b := e.base[m.Rule]
	if b == nil {
		return e.res
	}
	o := e.org(m.Org)
	t := m.Time.UnixNano()
	if o.seen && t < o.wm(e.lateness) {
		for _, c := range b.consumers {
			c.c.stats.Late++
		}
		e.res.Late = append(e.res.Late, Late{Rule: m.Rule, Org: m.Org, UUID: m.UUID, Time: m.Time.UTC(), Watermark: time.Unix(0, o.wm(e.lateness)).UTC()})
		return e.res
	}
	if !o.seen || t > o.max {
		o.max, o.seen = t, true
	}
	id, raw := parseID(m.UUID)
	for _, c := range b.consumers {
		vals := e.vbuf[:0]
		for _, s := range c.slots {
			if s < len(m.Fields) {
				vals = append(vals, m.Fields[s])
			} else {
				vals = append(vals, Field{})
			}
		}
		e.vbuf = vals
		e.feed(c, o, vals, t, id, raw)
	}
	e.runTimers(o)
	return e.res
}

// Advance moves every org's clock to now (when now is later than its newest event),
// so that windows of idle orgs close and state expires. The runtime calls it
// periodically with the wall clock minus the delivery delay it expects from its
// sources: afterwards, events older than now - AllowedLateness are late. Backtests
// never call it.
func (e *Engine) Advance(now time.Time) Result {
	e.res = Result{}
	t := now.UnixNano()
	for _, name := range e.orgNames {
		o := e.orgs[name]
		if !o.seen || t > o.max {
			o.max, o.seen = t, true
		}
		e.runTimers(o)
	}
	return e.res
}

func (e *Engine) org(name string) *orgState {
	o := e.orgs[name]
	if o == nil {
		o = &orgState{name: name}
		e.orgs[name] = o
		i, _ := slices.BinarySearch(e.orgNames, name)
		e.orgNames = slices.Insert(e.orgNames, i, name)
	}
	return o
}

// feed applies one input to a correlation. vals holds the group-by values and, last,
// the value field when the rule has one.
func (e *Engine) feed(c consumer, o *orgState, vals []Field, t int64, id [16]byte, raw string) {
	r := c.c
	ng := len(r.GroupBy)
	en := entry{t: t, id: id, raw: raw}
	if r.Type == Temporal || r.Type == TemporalOrdered {
		// One event matching two referenced rules counts for both; for the other
		// types it is one event.
		en.ref = uint16(c.ref)
	}
	if r.Field != "" {
		v := vals[ng]
		switch {
		case !v.Present:
			r.stats.IgnoredValues++
			return
		case r.Type == ValueCount:
			en.str = v.Value
		default:
			n, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
				r.stats.IgnoredValues++
				return
			}
			en.num = n
		}
	}
	g := e.lookup(r, o, vals[:ng])
	if g.seen(t, id, en.ref) {
		r.stats.Duplicates++
		return
	}
	r.stats.Inputs++
	g.touch()
	if en.str != "" {
		en.str = cloneString(en.str)
	}
	if en.raw != "" {
		en.raw = cloneString(en.raw)
	}
	if r.Type == Single {
		g.gone = appendGone(reserve(&g.gbuf, g.gone, 1), []entry{en})
		e.capGone(g)
		e.fire(g, []entry{en}, t, t, t, 1)
		g.prune(e.wm(o))
		at, ok := g.nextDue(e.wm(o))
		e.schedule(g, at, ok)
		return
	}
	g.insertLive(en)
	if len(g.live) > e.cfg.MaxEventsPerWindow {
		g.removeLive(1, true)
		r.stats.EvictedEvents++
		e.capGone(g)
	}
	if !r.eager {
		e.schedule(g, t+r.span, true)
		return
	}
	g.prune(e.wm(o))
	if i := g.index(en); i >= 0 {
		e.evalEager(g, i)
	}
	if g.timerAt == math.MaxInt64 {
		at, ok := g.nextDue(e.wm(o))
		e.schedule(g, at, ok)
	}
}

func (e *Engine) wm(o *orgState) int64 { return o.wm(e.lateness) }

// capGone bounds the de-duplication memory of a group like its window.
func (e *Engine) capGone(g *group) {
	if n := len(g.gone) - e.cfg.MaxEventsPerWindow; n > 0 {
		g.removeGone(n)
		g.rule.stats.EvictedEvents += uint64(n)
	}
}

// lookup finds or creates the group of (org, vals), evicting the least recently
// updated group at the cap.
func (e *Engine) lookup(r *crule, o *orgState, vals []Field) *group {
	e.kbuf = appendKey(e.kbuf[:0], o.name, vals)
	if g := r.groups[string(e.kbuf)]; g != nil {
		return g
	}
	if len(r.groups) >= e.cfg.MaxGroupsPerRule {
		victim := r.lru.prev
		e.drop(victim)
		r.stats.EvictedGroups++
		r.stats.EvictedEvents += uint64(len(victim.live))
	}
	g := &group{rule: r, org: o, key: string(e.kbuf), seq: e.seq, timerAt: math.MaxInt64}
	e.seq++
	g.vals = make([]GroupField, len(vals))
	for i, v := range vals {
		g.vals[i] = GroupField{Field: r.GroupBy[i], Value: cloneString(v.Value), Null: !v.Present}
	}
	if r.Type == ValueCount && r.eager && !e.noIncremental {
		g.dc = &distinct{from: math.MinInt64, counts: make(map[string]int32)}
	}
	r.groups[g.key] = g
	g.prev, g.next = &r.lru, r.lru.next
	g.prev.next, g.next.prev = g, g
	return g
}

// drop removes a group; its pending timers become no-ops.
func (e *Engine) drop(g *group) {
	delete(g.rule.groups, g.key)
	g.prev.next, g.next.prev = g.next, g.prev
	g.prev, g.next = nil, nil
	g.dead = true
}

// evalEager tests the windows that contain live[i] (the new entry) and fires on the
// first, in time order, whose measure meets the condition.
func (e *Engine) evalEager(g *group, i int) {
	r := g.rule
	live := g.live
	t := live[i].t
	lo := lowerBound(live, t-r.span)
	if i == len(live)-1 {
		// In order: the window [t-T, t] holds every other window containing live[i].
		win := live[lo:]
		var m float64
		if g.dc != nil {
			m = g.dc.advance(live, t-r.span)
		} else {
			m = e.measure(r, win)
		}
		if r.holds(m) {
			e.fire(g, win, win[0].t, t, t, m)
		}
		return
	}
	last := upperBound(live, t) // entries with time <= t
	if g.dc != nil {
		e.evalDistinctSliding(g, lo, last)
		return
	}
	for j := lo; j < last; j++ {
		if j > lo && live[j].t == live[j-1].t {
			continue
		}
		end := upperBound(live, live[j].t+r.span)
		win := live[j:end]
		if m := e.measure(r, win); r.holds(m) {
			e.fire(g, win, win[0].t, win[len(win)-1].t, win[len(win)-1].t, m)
			return
		}
	}
}

// evalDistinctSliding is evalEager's out-of-order case for value_count: the
// windows [live[j].t, live[j].t+T] for j in [lo, last) are tested in order as
// above, their distinct counts kept by moving both ends of a counted range
// instead of counting every window again. The range starts from the group's
// own counts (live entries from dc.from on, i.e. the newest window) when the
// first window is close to it, as for an arrival a little out of order, and
// those counts are put back before anything else uses them; otherwise from an
// empty count. A window within the previous one (same end) is not counted.
func (e *Engine) evalDistinctSliding(g *group, lo, last int) {
	r := g.rule
	live := g.live
	dc := g.dc
	a, n := lowerBound(live, dc.from), len(live)
	first := upperBound(live, live[lo].t+r.span)
	w := countedRange{d: dc, s: a, e: n}
	if abs(lo-a)+(n-first) >= first-lo {
		w = countedRange{d: &distinct{counts: e.scratch.counts()}, s: lo, e: lo}
	}
	putBack := func() {
		if w.d == dc {
			w.move(live, a, n)
		}
	}
	end, prevEnd := first, -1
	for j := lo; j < last; j++ {
		if j > lo && live[j].t == live[j-1].t {
			continue
		}
		for lim := live[j].t + r.span; end < n && live[end].t <= lim; end++ {
		}
		if end == prevEnd {
			// live[j:end] lies within the previous window, which did not
			// hold: an eager rule's conditions are lower bounds, so neither
			// does this one.
			continue
		}
		prevEnd = end
		w.move(live, j, end)
		if m := float64(len(w.d.counts)); r.holds(m) {
			putBack()
			win := live[j:end]
			e.fire(g, win, win[0].t, win[len(win)-1].t, win[len(win)-1].t, m)
			return
		}
	}
	putBack()
}

// countedRange is a distinct count of the values of live[s:e].
type countedRange struct {
	d    *distinct
	s, e int
}

// move makes the range live[s:e], adding before removing.
func (w *countedRange) move(live []entry, s, e int) {
	for ; w.s > s; w.s-- {
		w.d.add(live[w.s-1].str)
	}
	for ; w.e < e; w.e++ {
		w.d.add(live[w.e].str)
	}
	for ; w.s < s; w.s++ {
		w.d.remove(live[w.s].str)
	}
	for ; w.e > e; w.e-- {
		w.d.remove(live[w.e-1].str)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// closeWindows decides the windows whose end the watermark has passed. A window starts
// at the first live entry and covers [s, s+T]; it is final once the watermark is past
// s+T. Whether it fires or not, its entries are consumed, so each event is in exactly
// one decided window.
func (e *Engine) closeWindows(g *group, wm int64) {
	r := g.rule
	for len(g.live) > 0 && g.live[0].t+r.span < wm {
		s := g.live[0].t
		end := upperBound(g.live, s+r.span)
		win := g.live[:end]
		if m := e.measure(r, win); r.holds(m) {
			e.fire(g, win, s, s+r.span, s+r.span, m)
			continue
		}
		// Not met: the entries are decided and, being older than the watermark, too late
		// to be redelivered; they are dropped.
		g.removeLive(end, false)
	}
}

func (r *crule) holds(m float64) bool {
	for _, c := range r.conds {
		if !c.holds(m) {
			return false
		}
	}
	return true
}

// fire records a firing: the window's events are consumed (a fresh threshold is
// needed), the detection is emitted or suppressed, and chained correlations are fed.
func (e *Engine) fire(g *group, win []entry, start, end, at int64, m float64) {
	r := g.rule
	r.stats.Fired++
	suppressed := r.generates && at < g.suppUntil
	var d Detection
	if !suppressed || len(r.consumers) > 0 {
		n := min(len(win), e.cfg.MaxContributing)
		d = Detection{
			Rule:        r.ID,
			Org:         g.org.name,
			Group:       slices.Clone(g.vals),
			Time:        time.Unix(0, at).UTC(),
			WindowStart: time.Unix(0, start).UTC(),
			WindowEnd:   time.Unix(0, end).UTC(),
			Count:       len(win),
			Value:       m,
			Events:      make([]string, n),
		}
		for k := range n {
			d.Events[k] = win[k].uuid()
		}
		d.ID = detectionID(r.ID, g.key, start, d.Events[0])
	}
	if suppressed {
		g.suppressed++
		g.suppLast = win[len(win)-1].uuid()
		if r.SuppressSummary {
			e.schedule(g, g.suppUntil-1, true)
		}
		r.stats.Suppressed++
		e.res.Suppressed = append(e.res.Suppressed, Suppression{
			Rule: r.ID, Org: g.org.name, Group: slices.Clone(g.vals), OpenID: g.openID, Count: g.suppressed,
			Time: time.Unix(0, at).UTC(), LastUID: win[len(win)-1].uuid(),
		})
	}
	if r.Type != Single {
		// Reset: every live entry up to the window's newest is consumed (win aliases
		// live, so this comes after reading it); their uuids stay for de-duplication.
		g.removeLive(upperBound(g.live, win[len(win)-1].t), true)
		e.capGone(g)
	}
	switch {
	case suppressed:
	case !r.generates:
		r.stats.NotGenerated++
	default:
		if g.summaryPending() {
			// The previous suppression period ended (at >= suppUntil) before its
			// timer ran: its summary comes first.
			e.summarize(g)
		}
		d.SuppressedBefore = g.suppressed
		g.suppressed = 0
		g.openID = d.ID
		if r.Suppress > 0 {
			g.suppUntil = at + int64(r.Suppress)
		}
		r.stats.Emitted++
		e.res.Detections = append(e.res.Detections, d)
	}
	// Chained correlations see the firing as one input at its time, keyed by its id;
	// it is internal, so the lateness check does not apply.
	if len(r.consumers) == 0 {
		return
	}
	pid, praw := parseID(d.ID)
	for _, c := range r.consumers {
		vals := make([]Field, len(c.names))
		for i, name := range c.names {
			for _, gf := range g.vals {
				if gf.Field == name {
					vals[i] = Field{Value: gf.Value, Present: !gf.Null}
					break
				}
			}
		}
		e.feed(c, g.org, vals, at, pid, praw)
	}
}

// summarize emits the suppression summary of g's ended suppression period:
// one detection counting the firings suppressed in it (Rule.SuppressSummary).
// Its id is derived from the detection that opened the period, so a replay
// gives the same.
func (e *Engine) summarize(g *group) {
	r := g.rule
	d := Detection{
		ID:          detectionID(r.ID, g.key, g.suppUntil, "summary:"+g.openID),
		Rule:        r.ID,
		Org:         g.org.name,
		Group:       slices.Clone(g.vals),
		Time:        time.Unix(0, g.suppUntil).UTC(),
		WindowStart: time.Unix(0, g.suppUntil-int64(r.Suppress)).UTC(),
		WindowEnd:   time.Unix(0, g.suppUntil).UTC(),
		Count:       g.suppressed,
		Value:       float64(g.suppressed),
		Events:      []string{},
		SummaryOf:   g.openID,
	}
	if g.suppLast != "" {
		d.Events = append(d.Events, g.suppLast)
	}
	g.suppressed, g.suppLast = 0, ""
	r.stats.Summaries++
	e.res.Detections = append(e.res.Detections, d)
}

// measure computes the rule's measure over a window.
func (e *Engine) measure(r *crule, win []entry) float64 {
	switch r.Type {
	case EventCount, Single:
		return float64(len(win))
	case ValueCount:
		seen := e.scratch.strings()
		for i := range win {
			seen[win[i].str] = struct{}{}
		}
		return float64(len(seen))
	case Temporal:
		seen := e.scratch.bools(len(r.Rules))
		n := 0
		for i := range win {
			if !seen[win[i].ref] {
				seen[win[i].ref] = true
				n++
			}
		}
		if r.expr != nil {
			if r.expr.eval(seen) {
				return 1
			}
			return 0
		}
		return float64(n)
	case TemporalOrdered:
		k := 0
		for i := range win {
			if int(win[i].ref) == k {
				if k++; k == len(r.Rules) {
					break
				}
			}
		}
		return float64(k)
	case ValueSum, ValueAvg:
		s := 0.0
		for i := range win {
			s += win[i].num
		}
		if r.Type == ValueAvg {
			return s / float64(len(win))
		}
		return s
	case ValuePercentile, ValueMedian:
		p := r.Percentile
		if r.Type == ValueMedian {
			p = 50
		}
		xs := e.scratch.floats(len(win))
		for i := range win {
			xs[i] = win[i].num
		}
		sort.Float64s(xs)
		return percentile(xs, p)
	}
	return 0
}

// percentile interpolates linearly between the closest ranks of sorted xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 1 {
		return xs[0]
	}
	rank := p / 100 * float64(len(xs)-1)
	lo := int(math.Floor(rank))
	if lo >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	f := rank - float64(lo)
	return xs[lo] + f*(xs[lo+1]-xs[lo])
}

type scratch struct {
	set map[string]struct{}
	cnt map[string]int32
	bs  []bool
	fs  []float64
}

func (s *scratch) strings() map[string]struct{} {
	if s.set == nil {
		s.set = make(map[string]struct{})
	}
	clear(s.set)
	return s.set
}

func (s *scratch) counts() map[string]int32 {
	if s.cnt == nil {
		s.cnt = make(map[string]int32)
	}
	clear(s.cnt)
	return s.cnt
}

func (s *scratch) bools(n int) []bool {
	if cap(s.bs) < n {
		s.bs = make([]bool, n)
	}
	s.bs = s.bs[:n]
	clear(s.bs)
	return s.bs
}

func (s *scratch) floats(n int) []float64 {
	if cap(s.fs) < n {
		s.fs = make([]float64, n)
	}
	return s.fs[:n]
}
