// Package correlate is the correlation engine of the detection runtime: given the
// matches of base (single-event) rules, it decides when a Sigma correlation fires. It
// is pure and deterministic: no goroutines, no I/O, no timers and no wall clock. Time
// comes from the events and from explicit Advance calls, so the same inputs in the same
// order always give byte-identical detections, and a restored snapshot continues
// exactly where it was taken. This comment is the reference for the runtime that
// feeds it (DETECTIONS.md §5.3, §5.6, §6).
//
// # Feeding the engine
//
// New compiles a set of Rules (the runtime maps the Sigma loader's correlation struct
// onto Rule, with rule names already resolved to ids). A referenced id that is not a
// correlation of the engine is a base rule. For each base rule, Inputs lists the
// fields the runtime must resolve from a matching event (the group-by fields of every
// correlation referencing it, through Sigma aliases, then value fields), and Observe
// takes one Match: base rule id, org, event time (LogEvent published), event uuid and
// those fields' values (absent and JSON null both mean not present). Observe returns
// the Result of that input: detections to emit, suppressed firings, late inputs. A
// match of a base rule no correlation references is ignored.
//
// Generates tells the runtime whether a base rule raises detections of its own
// (Sigma's generate flag): it does unless every windowed correlation referencing it has
// Generate false. The runtime wraps such a base rule in a Single correlation to get
// suppression, input de-duplication and deterministic ids for single-event detections
// too. The engine applies the same rule to correlations referenced by other
// correlations: a correlation whose firings only feed chained correlations is counted
// (RuleStats.NotGenerated), not emitted.
//
// # Groups
//
// Every correlation keeps one group per (org, group-by values). Org is always part of
// the key: two orgs never share a window, a watermark or a suppression. A group-by
// field that is absent gives a null value, which is a value like any other (all events
// without the field form one group). For a chained correlation, the group-by values
// come from the referenced correlation's group, by name or through Aliases; a name the
// inner group does not have is null.
//
// # Windows and conditions
//
// Windows are sliding, in event time, Timespan long, and both ends are inclusive:
// events at t and t+Timespan are in one window, one nanosecond more is not.
//
// Conditions that only have lower bounds (gt, gte) on a measure that can only grow as
// events are added (event_count, value_count, value_sum with non-negative values,
// temporal, temporal_ordered) are decided eagerly: on every input, the windows that
// contain it are tested, and the engine fires on the first (earliest) window whose
// measure meets the condition. In time order that is the window [t-Timespan, t] ending
// at the new event. The detection's Time is the newest contributing event's time, its
// window the span of the contributing events.
//
// Every other condition (lt, lte, eq, neq, ranges, every condition of value_avg,
// value_percentile, value_median, and temporal expressions) can only be decided once no more events can enter
// the window. These windows are aligned to the events: a window starts at the oldest
// event not yet in a decided window and covers [s, s+Timespan]; it is decided when the
// org's watermark passes s+Timespan; whether it fires or not, its events are consumed,
// so each event is in exactly one decided window (sliding windows anchored at every
// event would make "fewer than N" true at the tail of every burst). The detection's
// Time and WindowEnd are s+Timespan.
//
// Measures: event_count counts events; value_count counts distinct values of Field
// (events without the field are ignored and counted in RuleStats.IgnoredValues);
// temporal counts the distinct referenced rules seen, and with no Condition requires
// all of them; temporal_ordered measures the longest prefix of Rules matched in order
// by event time (events at the same time are ordered by uuid), and with no Condition
// requires all of them; value_sum, value_avg, value_percentile (linear interpolation
// between closest ranks, as numpy's default) and value_median (percentile 50) take
// Field as a decimal number; events where it is absent or not a finite number are
// ignored (IgnoredValues).
//
// pySigma's extended temporal conditions (Rule.Expression, e.g. "push and not
// mfa_ok": and, or, not, parentheses over the referenced rules) are temporal
// correlations decided when the window closes: the window fires when the expression
// holds with each rule true if it matched in the window. That is how absence is
// written ("a push not followed by a success within 10 minutes").
//
// Firing resets the group (rsigma's Reset): every event of the group up to the newest
// contributing one is consumed, so the next firing needs a fresh threshold.
//
// # Time, lateness, de-duplication
//
// Each org has a clock: the newest event time seen (or the time given to Advance, when
// later). Its watermark is the clock minus Config.AllowedLateness. An input older than
// the watermark is too late: it is not applied, it is reported in Result.Late and
// counted (RuleStats.Late), never silently dropped. Inputs at or after the watermark
// are applied wherever they fall, so arrival out of order within the lateness gives the
// same windows as arrival in order (eager rules may fire on an earlier window if the
// order reveals it first; the window, events and id are those of that window).
// Advance moves every org's clock to now; the runtime calls it periodically with the
// wall clock so idle orgs close their windows and drop their state. Backtests never
// call it.
//
// The input is de-duplicated by (group, event time, uuid): a redelivered event, or one
// replayed after a restore, counts once, including after it was consumed by a firing.
// This memory lasts until the event falls behind the watermark, after which a
// redelivery is reported as late instead.
//
// Inputs from a chained correlation are its firings: time = the firing's Time, uuid =
// its detection id; they are internal and never late.
//
// # Suppression
//
// After a group emits a detection at time D, its firings before D+Suppress (detection
// times) are suppressed: each is reported in Result.Suppressed with the open
// detection's id and the number suppressed so far, counted in RuleStats.Suppressed,
// and the next emitted detection of the group carries the count in SuppressedBefore.
// Suppressed firings still feed chained correlations and still reset the window.
// Suppress 0 emits every firing.
//
// # Detections and ids
//
// A Detection carries the rule id, org, group (field, value, null), Time, the window,
// Count (contributing events), Value (the measure), the uuids of the first
// MaxContributing contributing events in event-time order, and ID: UUIDv5 (fixed
// namespace) of rule id, org and group values, window start and first contributing
// uuid. Replaying the same journal gives the same ids, so a firing repeated after a
// crash is absorbed by the journal's Nats-Msg-Id de-duplication.
//
// # State, snapshots, bounds
//
// Snapshot encodes all state (groups with their windows and de-duplication entries,
// suppression, org clocks; not the counters) as versioned JSON; the same state always
// gives the same bytes. The runtime stores it in JetStream KV together with the journal
// position it covers; after a restart, Restore it into a new engine with the same rules
// and feed the journal from that position. Inputs fed after the snapshot are simply
// fed again; inputs the snapshot already holds are recognised as duplicates. State of
// a rule whose definition changed (or that is gone) is discarded and listed in the
// RestoreReport.
//
// State is bounded: at most Config.MaxGroupsPerRule groups per correlation (the least
// recently updated group is evicted) and Config.MaxEventsPerWindow events per group
// (the oldest is evicted); both are counted per rule (RuleStats.EvictedGroups,
// EvictedEvents) for metrics. A rule whose threshold cannot be reached within
// MaxEventsPerWindow events is refused by New. Groups whose state has expired are
// deleted as the watermark passes.
//
// An Engine is not safe for concurrent use: one goroutine owns it (one engine per
// partition of orgs).
package correlate
