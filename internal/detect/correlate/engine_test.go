package correlate

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func cond(op Op, v float64) []Cond { return []Cond{{Op: op, Value: v}} }

var (
	// fatigue is DETECTIONS.md §8 case 9: 5 push denials per user in 10 minutes.
	fatigue = Rule{ID: "fatigue", Type: EventCount, Rules: []string{"deny"}, GroupBy: []string{"actor.id"}, Timespan: 10 * time.Minute, Condition: cond(GTE, 5)}
	// spray is case 10: more than 9 usernames from one IP in 5 minutes.
	spray = Rule{ID: "spray", Type: ValueCount, Rules: []string{"fail"}, GroupBy: []string{"client.ipAddress"}, Field: "actor.alternateId", Timespan: 5 * time.Minute, Condition: cond(GT, 9)}
	// brute is case 10: at least 20 failures from one IP in 60 minutes.
	brute = Rule{ID: "brute", Type: EventCount, Rules: []string{"fail"}, GroupBy: []string{"client.ipAddress"}, Timespan: time.Hour, Condition: cond(GTE, 20)}
	// roaming is case 11: at least 2 ASNs per session in 1 hour.
	roaming = Rule{ID: "roaming", Type: ValueCount, Rules: []string{"sess"}, GroupBy: []string{"authenticationContext.externalSessionId"}, Field: "securityContext.asNumber", Timespan: time.Hour, Condition: cond(GTE, 2)}
)

// absence is "a push not followed by a successful MFA within 10 minutes".
var absence = Rule{ID: "unanswered", Type: Temporal, Rules: []string{"push", "mfa_ok"}, GroupBy: []string{"actor.id"}, Expression: "push and not mfa_ok", Timespan: 10 * time.Minute}

// denials returns one deny per offset for user u, uuids from id0.
func denials(u string, id0 int, at ...time.Duration) []in {
	var out []in
	for i, a := range at {
		out = append(out, in{rule: "deny", at: a, id: id0 + i, fields: []string{u}})
	}
	return out
}

func seq(n int, step time.Duration, f func(i int) in) []in {
	out := make([]in, n)
	for i := range n {
		out[i] = f(i)
		out[i].at = time.Duration(i) * step
	}
	return out
}

func TestCorrelationTypes(t *testing.T) {
	fiveDenials := []time.Duration{0, 150 * time.Second, 300 * time.Second, 450 * time.Second, 10*time.Minute - ms(1)}
	cases := []struct {
		name    string
		rules   []Rule
		ins     []in
		advance time.Duration
		want    int     // detections
		value   float64 // of the first detection, when want > 0
		count   int     // contributing events of the first detection
	}{
		// event_count and the window edges (case 9).
		{name: "event_count/5 in 10m fires at the 5th", rules: []Rule{fatigue}, ins: denials("U", 1, fiveDenials...), want: 1, value: 5, count: 5},
		{name: "event_count/last exactly at timespan (inclusive)", rules: []Rule{fatigue}, ins: denials("U", 1, 0, 150*time.Second, 300*time.Second, 450*time.Second, 10*time.Minute), want: 1, value: 5, count: 5},
		{name: "event_count/last one ns over timespan", rules: []Rule{fatigue}, ins: denials("U", 1, 0, 150*time.Second, 300*time.Second, 450*time.Second, 10*time.Minute+1), want: 0},
		{name: "event_count/last one ms over timespan", rules: []Rule{fatigue}, ins: denials("U", 1, 0, 150*time.Second, 300*time.Second, 450*time.Second, 10*time.Minute+ms(1)), want: 0},
		{name: "event_count/two users", rules: []Rule{fatigue}, ins: append(denials("U", 1, 0, time.Minute, 2*time.Minute), denials("V", 10, 3*time.Minute, 4*time.Minute)...), want: 0},
		{name: "event_count/one denial delivered 5 times", rules: []Rule{fatigue}, ins: slices.Repeat(denials("U", 1, 0), 5), want: 0},
		{name: "event_count/sliding not tumbling", rules: []Rule{fatigue}, ins: denials("U", 1, 0, 8*time.Minute, 9*time.Minute, 11*time.Minute, 12*time.Minute, 13*time.Minute), want: 1, value: 5, count: 5},
		{name: "event_count/4 denials", rules: []Rule{fatigue}, ins: denials("U", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute), want: 0},
		// case 10.
		{name: "value_count/10 usernames from one IP in 4m", rules: []Rule{spray}, ins: seq(10, 24*time.Second, func(i int) in {
			return in{rule: "fail", id: i, fields: []string{"203.0.113.7", "user" + string(rune('a'+i))}}
		}), want: 1, value: 10, count: 10},
		{name: "value_count/9 usernames, repeated", rules: []Rule{spray}, ins: seq(30, 5*time.Second, func(i int) in {
			return in{rule: "fail", id: i, fields: []string{"203.0.113.7", "user" + string(rune('a'+i%9))}}
		}), want: 0},
		{name: "value_count/10 users from 10 IPs", rules: []Rule{spray}, ins: seq(10, 10*time.Second, func(i int) in {
			return in{rule: "fail", id: i, fields: []string{"203.0.113." + string(rune('0'+i)), "user" + string(rune('a'+i))}}
		}), want: 0},
		{name: "event_count/20 failures in 50m", rules: []Rule{brute}, ins: seq(20, 150*time.Second, func(i int) in {
			return in{rule: "fail", id: i, fields: []string{"203.0.113.7"}}
		}), want: 1, value: 20, count: 20},
		{name: "event_count/19 failures in 60m", rules: []Rule{brute}, ins: seq(19, 3*time.Minute, func(i int) in {
			return in{rule: "fail", id: i, fields: []string{"203.0.113.7"}}
		}), want: 0},
		// case 11: distinct count, null handling.
		{name: "value_count/ASN change in 40m", rules: []Rule{roaming}, ins: []in{{rule: "sess", id: 1, fields: []string{"S", "7922"}}, {rule: "sess", at: 40 * time.Minute, id: 2, fields: []string{"S", "9009"}}}, want: 1, value: 2, count: 2},
		{name: "value_count/same ASN", rules: []Rule{roaming}, ins: []in{{rule: "sess", id: 1, fields: []string{"S", "7922"}}, {rule: "sess", at: 40 * time.Minute, id: 2, fields: []string{"S", "7922"}}}, want: 0},
		{name: "value_count/ASN change after 70m", rules: []Rule{roaming}, ins: []in{{rule: "sess", id: 1, fields: []string{"S", "7922"}}, {rule: "sess", at: 70 * time.Minute, id: 2, fields: []string{"S", "9009"}}}, want: 0},
		{name: "value_count/two sessions", rules: []Rule{roaming}, ins: []in{{rule: "sess", id: 1, fields: []string{"S", "7922"}}, {rule: "sess", at: time.Minute, id: 2, fields: []string{"T", "9009"}}}, want: 0},
		{name: "value_count/null value is no value", rules: []Rule{roaming}, ins: []in{{rule: "sess", id: 1, fields: []string{"S", "7922"}}, {rule: "sess", at: time.Minute, id: 2, fields: []string{"S", ""}}}, want: 0},
		// gt versus gte.
		{name: "event_count/gt 2 with 2", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: time.Hour, Condition: cond(GT, 2)}}, ins: seq(2, time.Minute, func(i int) in { return in{rule: "a", id: i} }), want: 0},
		{name: "event_count/gt 2 with 3", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: time.Hour, Condition: cond(GT, 2)}}, ins: seq(3, time.Minute, func(i int) in { return in{rule: "a", id: i} }), want: 1, value: 3, count: 3},
		// Conditions decided when the window closes.
		{name: "event_count/lt 3 with 2, window closed", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(LT, 3)}}, ins: seq(2, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: 13 * time.Minute, want: 1, value: 2, count: 2},
		{name: "event_count/lt 3 with 2, window open", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(LT, 3)}}, ins: seq(2, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: 11 * time.Minute, want: 0},
		{name: "event_count/lt 3 with 3", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(LT, 3)}}, ins: seq(3, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 0},
		{name: "event_count/lte 3 with 3", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(LTE, 3)}}, ins: seq(3, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 1, value: 3, count: 3},
		{name: "event_count/eq 3 with 3", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(EQ, 3)}}, ins: seq(3, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 1, value: 3, count: 3},
		{name: "event_count/eq 3 with 4", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(EQ, 3)}}, ins: seq(4, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 0},
		{name: "event_count/neq 3 with 4", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(NEQ, 3)}}, ins: seq(4, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 1, value: 4, count: 4},
		{name: "event_count/neq 3 with 3", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(NEQ, 3)}}, ins: seq(3, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 0},
		{name: "event_count/range 2..3 with 3", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: []Cond{{GTE, 2}, {LTE, 3}}}}, ins: seq(3, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 1, value: 3, count: 3},
		{name: "event_count/range 2..3 with 4", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: []Cond{{GTE, 2}, {LTE, 3}}}}, ins: seq(4, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 0},
		{name: "event_count/range (gt,lt) 2..4 exclusive with 2", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: []Cond{{LT, 4}, {GT, 2}}}}, ins: seq(2, time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 0},
		{name: "event_count/windows of a closed rule do not overlap", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(LT, 3)}}, ins: seq(4, 5*time.Minute, func(i int) in { return in{rule: "a", id: i} }), advance: time.Hour, want: 1, value: 1, count: 1},
		// value_sum / avg / percentile / median.
		{name: "value_sum/gt 100 fires on arrival", rules: []Rule{{ID: "c", Type: ValueSum, Rules: []string{"a"}, Field: "bytes", Timespan: time.Hour, Condition: cond(GT, 100)}}, ins: []in{{rule: "a", id: 1, fields: []string{"50"}}, {rule: "a", at: time.Minute, id: 2, fields: []string{"60.5"}}}, want: 1, value: 110.5, count: 2},
		{name: "value_sum/non-numbers are ignored", rules: []Rule{{ID: "c", Type: ValueSum, Rules: []string{"a"}, Field: "bytes", Timespan: time.Hour, Condition: cond(GT, 100)}}, ins: []in{{rule: "a", id: 1, fields: []string{"50"}}, {rule: "a", at: time.Minute, id: 2, fields: []string{"lots"}}, {rule: "a", at: time.Minute, id: 3, fields: []string{""}}}, want: 0},
		{name: "value_sum/lte decided at close", rules: []Rule{{ID: "c", Type: ValueSum, Rules: []string{"a"}, Field: "bytes", Timespan: time.Hour, Condition: cond(LTE, 100)}}, ins: []in{{rule: "a", id: 1, fields: []string{"50"}}, {rule: "a", at: time.Minute, id: 2, fields: []string{"50"}}}, advance: 2 * time.Hour, want: 1, value: 100, count: 2},
		{name: "value_avg/gt 10", rules: []Rule{{ID: "c", Type: ValueAvg, Rules: []string{"a"}, Field: "n", Timespan: time.Hour, Condition: cond(GT, 10)}}, ins: []in{{rule: "a", id: 1, fields: []string{"5"}}, {rule: "a", at: time.Minute, id: 2, fields: []string{"20"}}}, advance: 2 * time.Hour, want: 1, value: 12.5, count: 2},
		{name: "value_avg/gt 10 not met", rules: []Rule{{ID: "c", Type: ValueAvg, Rules: []string{"a"}, Field: "n", Timespan: time.Hour, Condition: cond(GT, 10)}}, ins: []in{{rule: "a", id: 1, fields: []string{"5"}}, {rule: "a", at: time.Minute, id: 2, fields: []string{"15"}}}, advance: 2 * time.Hour, want: 0},
		{name: "value_percentile/p75 of 0..9", rules: []Rule{{ID: "c", Type: ValuePercentile, Percentile: 75, Rules: []string{"a"}, Field: "n", Timespan: time.Hour, Condition: cond(GTE, 6.75)}}, ins: seq(10, time.Minute, func(i int) in { return in{rule: "a", id: i, fields: []string{string(rune('0' + (9 - i)))}} }), advance: 2 * time.Hour, want: 1, value: 6.75, count: 10},
		{name: "value_median/of 1,2,30", rules: []Rule{{ID: "c", Type: ValueMedian, Rules: []string{"a"}, Field: "n", Timespan: time.Hour, Condition: cond(EQ, 2)}}, ins: []in{{rule: "a", id: 1, fields: []string{"30"}}, {rule: "a", at: time.Minute, id: 2, fields: []string{"1"}}, {rule: "a", at: 2 * time.Minute, id: 3, fields: []string{"2"}}}, advance: 2 * time.Hour, want: 1, value: 2, count: 3},
		// temporal.
		{name: "temporal/both within 10m", rules: []Rule{{ID: "c", Type: Temporal, Rules: []string{"a", "b"}, GroupBy: []string{"u"}, Timespan: 10 * time.Minute}}, ins: []in{{rule: "b", id: 1, fields: []string{"U"}}, {rule: "a", at: 9 * time.Minute, id: 2, fields: []string{"U"}}}, want: 1, value: 2, count: 2},
		{name: "temporal/11m apart", rules: []Rule{{ID: "c", Type: Temporal, Rules: []string{"a", "b"}, GroupBy: []string{"u"}, Timespan: 10 * time.Minute}}, ins: []in{{rule: "a", id: 1, fields: []string{"U"}}, {rule: "b", at: 11 * time.Minute, id: 2, fields: []string{"U"}}}, want: 0},
		{name: "temporal/other user", rules: []Rule{{ID: "c", Type: Temporal, Rules: []string{"a", "b"}, GroupBy: []string{"u"}, Timespan: 10 * time.Minute}}, ins: []in{{rule: "a", id: 1, fields: []string{"U"}}, {rule: "b", at: time.Minute, id: 2, fields: []string{"V"}}}, want: 0},
		{name: "temporal/only one rule, many times", rules: []Rule{{ID: "c", Type: Temporal, Rules: []string{"a", "b"}, Timespan: 10 * time.Minute}}, ins: seq(5, time.Minute, func(i int) in { return in{rule: "a", id: i} }), want: 0},
		{name: "temporal_ordered/in order", rules: []Rule{{ID: "c", Type: TemporalOrdered, Rules: []string{"a", "b"}, Timespan: 10 * time.Minute}}, ins: []in{{rule: "a", id: 1}, {rule: "b", at: time.Minute, id: 2}}, want: 1, value: 2, count: 2},
		{name: "temporal_ordered/wrong order", rules: []Rule{{ID: "c", Type: TemporalOrdered, Rules: []string{"a", "b"}, Timespan: 10 * time.Minute}}, ins: []in{{rule: "b", id: 1}, {rule: "a", at: time.Minute, id: 2}}, want: 0},
		{name: "temporal_ordered/b a b", rules: []Rule{{ID: "c", Type: TemporalOrdered, Rules: []string{"a", "b"}, Timespan: 10 * time.Minute}}, ins: []in{{rule: "b", id: 1}, {rule: "a", at: time.Minute, id: 2}, {rule: "b", at: 2 * time.Minute, id: 3}}, want: 1, value: 2, count: 3},
		// One event matched by two referenced rules.
		{name: "temporal/one event matching both rules", rules: []Rule{{ID: "c", Type: Temporal, Rules: []string{"a", "b"}, Timespan: 10 * time.Minute}}, ins: []in{{rule: "a", id: 1}, {rule: "b", id: 1}}, want: 1, value: 2, count: 2},
		{name: "event_count/one event matching both rules counts once", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a", "b"}, Timespan: 10 * time.Minute, Condition: cond(GTE, 2)}}, ins: []in{{rule: "a", id: 1}, {rule: "b", id: 1}}, want: 0},
		{name: "event_count/two rules", rules: []Rule{{ID: "c", Type: EventCount, Rules: []string{"a", "b"}, Timespan: 10 * time.Minute, Condition: cond(GTE, 2)}}, ins: []in{{rule: "a", id: 1}, {rule: "b", id: 2}}, want: 1, value: 2, count: 2},
		// Extended temporal conditions (pySigma): absence, decided at window close.
		{name: "temporal expression/a and not b: only a", rules: []Rule{absence}, ins: []in{{rule: "push", id: 1, fields: []string{"U"}}}, advance: 12 * time.Minute, want: 1, value: 1, count: 1},
		{name: "temporal expression/a and not b: window still open", rules: []Rule{absence}, ins: []in{{rule: "push", id: 1, fields: []string{"U"}}}, advance: 11 * time.Minute, want: 0},
		{name: "temporal expression/a and not b: b follows", rules: []Rule{absence}, ins: []in{{rule: "push", id: 1, fields: []string{"U"}}, {rule: "mfa_ok", at: 10 * time.Minute, id: 2, fields: []string{"U"}}}, advance: time.Hour, want: 0},
		{name: "temporal expression/a and not b: b too late", rules: []Rule{absence}, ins: []in{{rule: "push", id: 1, fields: []string{"U"}}, {rule: "mfa_ok", at: 10*time.Minute + 1, id: 2, fields: []string{"U"}}}, advance: time.Hour, want: 1, value: 1, count: 1},
		{name: "temporal expression/a and not b: b for another user", rules: []Rule{absence}, ins: []in{{rule: "push", id: 1, fields: []string{"U"}}, {rule: "mfa_ok", at: time.Minute, id: 2, fields: []string{"V"}}}, advance: time.Hour, want: 1, value: 1, count: 1},
		{name: "temporal expression/(a or b) and not c by names", rules: []Rule{{ID: "x", Type: Temporal, Rules: []string{"id-a", "id-b", "id-c"}, Names: []string{"a", "b", "c"}, Expression: "(a OR b) and not c", Timespan: 10 * time.Minute}},
			ins: []in{{rule: "id-b", id: 1}}, advance: time.Hour, want: 1, value: 1, count: 1},
		{name: "temporal expression/(a or b) and not c, c seen", rules: []Rule{{ID: "x", Type: Temporal, Rules: []string{"id-a", "id-b", "id-c"}, Names: []string{"a", "b", "c"}, Expression: "(a OR b) and not c", Timespan: 10 * time.Minute}},
			ins: []in{{rule: "id-b", id: 1}, {rule: "id-c", at: time.Minute, id: 2}}, advance: time.Hour, want: 0},
		// group-by: absent values form their own group; aliases.
		{name: "group-by/null is a group", rules: []Rule{fatigue}, ins: denials("", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute, 4*time.Minute), want: 1, value: 5, count: 5},
		{name: "group-by/orgs never share a group", rules: []Rule{fatigue}, ins: func() []in {
			ins := denials("U", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute, 4*time.Minute)
			ins[4].org = "org2"
			return ins
		}(), want: 0},
		{name: "group-by/aliases", rules: []Rule{{ID: "c", Type: Temporal, Rules: []string{"a", "b"}, GroupBy: []string{"user"}, Aliases: map[string]map[string]string{"user": {"a": "actor.id", "b": "target.id"}}, Timespan: 10 * time.Minute}},
			ins: []in{{rule: "a", id: 1, fields: []string{"U"}}, {rule: "b", at: time.Minute, id: 2, fields: []string{"U"}}}, want: 1, value: 2, count: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := mustNew(t, Config{AllowedLateness: time.Minute}, tc.rules...)
			got := feed(t, e, tc.ins, tc.advance)
			if len(got.Detections) != tc.want {
				t.Fatalf("got %d detections, want %d: %s", len(got.Detections), tc.want, js(t, got.Detections))
			}
			if tc.want == 0 {
				return
			}
			d := got.Detections[0]
			if d.Value != tc.value || d.Count != tc.count {
				t.Errorf("got value %v count %d, want %v and %d", d.Value, d.Count, tc.value, tc.count)
			}
			if len(d.Events) != d.Count {
				t.Errorf("got %d event uuids, want %d", len(d.Events), d.Count)
			}
		})
	}
}

func TestPercentileInterpolation(t *testing.T) {
	cases := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{[]float64{7}, 90, 7},
		{[]float64{1, 2, 3, 4}, 50, 2.5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9.1},
		{[]float64{1, 2, 3}, 100, 3},
		{[]float64{1, 2, 3}, 0, 1},
	}
	for _, tc := range cases {
		if got := percentile(tc.xs, tc.p); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("percentile(%v, %v): got %v, want %v", tc.xs, tc.p, got, tc.want)
		}
	}
}

func TestEventCountDetection(t *testing.T) {
	e := mustNew(t, Config{}, fatigue)
	ins := denials("U", 1, 0, 150*time.Second, 300*time.Second, 450*time.Second, 10*time.Minute)
	var got outcome
	for i, x := range ins {
		r := e.Observe(x.match())
		if i < 4 && len(r.Detections) != 0 {
			t.Fatalf("input %d: got a detection before the 5th", i)
		}
		got.add(r)
	}
	if len(got.Detections) != 1 {
		t.Fatalf("got %d detections, want 1", len(got.Detections))
	}
	d := got.Detections[0]
	want := Detection{
		Rule: "fatigue", Org: "org1", Group: []GroupField{{Field: "actor.id", Value: "U"}},
		Time: t0.Add(10 * time.Minute), WindowStart: t0, WindowEnd: t0.Add(10 * time.Minute),
		Count: 5, Value: 5, Events: []string{uid(1), uid(2), uid(3), uid(4), uid(5)},
	}
	want.ID = d.ID
	if js(t, d) != js(t, want) {
		t.Errorf("got %s\nwant %s", js(t, d), js(t, want))
	}
	if d.ID == "" || !canonicalUUID(d.ID) || d.ID[14] != '5' {
		t.Errorf("got id %q, want a UUIDv5", d.ID)
	}
	// Reset: a sixth denial alone does not fire again.
	if r := e.Observe(in{rule: "deny", at: 11 * time.Minute, id: 6, fields: []string{"U"}}.match()); len(r.Detections) != 0 {
		t.Errorf("got a detection from the 6th denial after a firing, want none (window reset)")
	}
}

func TestDuplicates(t *testing.T) {
	e := mustNew(t, Config{AllowedLateness: 10 * time.Minute}, fatigue)
	var got outcome
	for _, x := range denials("U", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute) {
		got.add(e.Observe(x.match()))
		got.add(e.Observe(x.match())) // redelivered at once
	}
	for _, x := range denials("U", 1, 0, time.Minute) {
		got.add(e.Observe(x.match())) // redelivered later
	}
	if len(got.Detections) != 0 {
		t.Fatalf("got %d detections from 4 distinct events, want 0", len(got.Detections))
	}
	if s := e.Stats()["fatigue"]; s.Duplicates != 6 || s.Inputs != 4 {
		t.Errorf("got duplicates %d inputs %d, want 6 and 4", s.Duplicates, s.Inputs)
	}
	got.add(e.Observe(denials("U", 5, 4*time.Minute)[0].match()))
	if len(got.Detections) != 1 {
		t.Fatalf("got %d detections with the 5th distinct event, want 1", len(got.Detections))
	}
	// Redelivery of events consumed by the firing does not start a new count.
	for _, x := range denials("U", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute, 4*time.Minute) {
		got.add(e.Observe(x.match()))
	}
	if len(got.Detections) != 1 {
		t.Errorf("got %d detections after redelivering the window, want 1", len(got.Detections))
	}
}

func TestOutOfOrderWithinLateness(t *testing.T) {
	ins := denials("U", 1, 0, 150*time.Second, 300*time.Second, 450*time.Second, 10*time.Minute)
	cfg := Config{AllowedLateness: 15 * time.Minute}
	want := feed(t, mustNew(t, cfg, fatigue), ins, 0)
	if len(want.Detections) != 1 {
		t.Fatalf("in order: got %d detections, want 1", len(want.Detections))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(ins)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := feed(t, mustNew(t, cfg, fatigue), shuffled, 0)
		if js(t, got.Detections) != js(t, want.Detections) {
			t.Fatalf("order %v: got %s, want %s", shuffled, js(t, got.Detections), js(t, want.Detections))
		}
	}
	// Out of order across the window edge: the late event is within the window of the
	// earlier ones, not of the newest.
	got := feed(t, mustNew(t, cfg, fatigue), denials("U", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute, 12*time.Minute, 4*time.Minute), 0)
	if len(got.Detections) != 1 || got.Detections[0].WindowStart != t0 || got.Detections[0].WindowEnd != t0.Add(4*time.Minute) {
		t.Errorf("got %s, want one detection over [0, 4m]", js(t, got.Detections))
	}
}

func TestLateness(t *testing.T) {
	e := mustNew(t, Config{AllowedLateness: 2 * time.Minute}, fatigue)
	got := feed(t, e, denials("U", 1, 10*time.Minute, 9*time.Minute, 8*time.Minute, 8*time.Minute-1, 0), 0)
	if len(got.Late) != 2 {
		t.Fatalf("got %d late, want 2 (8m-1ns and 0): %s", len(got.Late), js(t, got.Late))
	}
	l := got.Late[0]
	if l.UUID != uid(4) || !l.Time.Equal(t0.Add(8*time.Minute-1)) || !l.Watermark.Equal(t0.Add(8*time.Minute)) || l.Rule != "deny" {
		t.Errorf("got %+v, want uuid %s at 8m-1ns with watermark 8m", l, uid(4))
	}
	s := e.Stats()["fatigue"]
	if s.Late != 2 || s.Inputs != 3 {
		t.Errorf("got late %d inputs %d, want 2 and 3", s.Late, s.Inputs)
	}
	if w := e.Watermark("org1"); !w.Equal(t0.Add(8 * time.Minute)) {
		t.Errorf("got watermark %v, want %v", w, t0.Add(8*time.Minute))
	}
	// The late events did not count: two more in time make 5, not 7.
	got = feed(t, e, denials("U", 10, 9*time.Minute, 11*time.Minute), 0)
	if len(got.Detections) != 1 || got.Detections[0].Count != 5 {
		t.Errorf("got %s, want one detection of 5 events", js(t, got.Detections))
	}
}

func TestSuppression(t *testing.T) {
	// Case 1: a single-event rule with the default suppression of one hour.
	reset := Rule{ID: "mfa_reset", Type: Single, Rules: []string{"reset"}, GroupBy: []string{"actor.id"}, Suppress: time.Hour}
	e := mustNew(t, Config{}, reset)
	got := feed(t, e, []in{
		{rule: "reset", id: 1, fields: []string{"A"}},
		{rule: "reset", at: 4 * time.Minute, id: 2, fields: []string{"A"}},
		{rule: "reset", at: 9 * time.Minute, id: 3, fields: []string{"A"}},
		{rule: "reset", at: 9 * time.Minute, id: 3, fields: []string{"A"}}, // duplicate: not a suppression
		{rule: "reset", at: 10 * time.Minute, id: 4, fields: []string{"B"}},
	}, 0)
	if len(got.Detections) != 2 || got.Detections[0].Group[0].Value != "A" || got.Detections[1].Group[0].Value != "B" {
		t.Fatalf("got %s, want one detection for A and one for B", js(t, got.Detections))
	}
	if len(got.Suppressed) != 2 {
		t.Fatalf("got %d suppressions, want 2", len(got.Suppressed))
	}
	last := got.Suppressed[1]
	if last.Count != 2 || last.OpenID != got.Detections[0].ID || last.LastUID != uid(3) {
		t.Errorf("got %+v, want count 2 on %s, last event %s", last, got.Detections[0].ID, uid(3))
	}
	// After the hour, the next one is emitted and carries the suppressed count.
	got = feed(t, e, []in{
		{rule: "reset", at: time.Hour - 1, id: 5, fields: []string{"A"}},
		{rule: "reset", at: time.Hour, id: 6, fields: []string{"A"}},
	}, 0)
	if len(got.Detections) != 1 || got.Detections[0].SuppressedBefore != 3 || got.Detections[0].Events[0] != uid(6) {
		t.Fatalf("got %s, want one detection of %s with suppressed_before 3", js(t, got.Detections), uid(6))
	}
	if s := e.Stats()["mfa_reset"]; s.Fired != 6 || s.Emitted != 3 || s.Suppressed != 3 || s.Duplicates != 1 {
		t.Errorf("got %+v, want fired 6 emitted 3 suppressed 3 duplicates 1", s)
	}
	// Suppress 0: every firing is emitted.
	e = mustNew(t, Config{}, Rule{ID: "mfa_reset", Type: Single, Rules: []string{"reset"}})
	got = feed(t, e, []in{{rule: "reset", id: 1}, {rule: "reset", id: 2}, {rule: "reset", id: 2}}, 0)
	if len(got.Detections) != 2 {
		t.Errorf("got %d detections without suppression, want 2", len(got.Detections))
	}
}

func TestSuppressionOfWindowedRule(t *testing.T) {
	r := fatigue
	r.Suppress = time.Hour
	e := mustNew(t, Config{}, r)
	got := feed(t, e, denials("U", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute, 4*time.Minute, 5*time.Minute, 6*time.Minute, 7*time.Minute, 8*time.Minute, 9*time.Minute), 0)
	if len(got.Detections) != 1 || len(got.Suppressed) != 1 || got.Suppressed[0].Count != 1 {
		t.Errorf("got %d detections, %d suppressed, want 1 and 1 (10 denials = two firings)", len(got.Detections), len(got.Suppressed))
	}
}

func TestChaining(t *testing.T) {
	// Case 9: push fatigue, then fatigue followed by a successful MFA.
	fat := fatigue
	ordered := Rule{ID: "fatigue_then_success", Type: TemporalOrdered, Rules: []string{"fatigue", "mfa_ok"}, GroupBy: []string{"actor.id"}, Timespan: 10 * time.Minute, Generate: true}
	e := mustNew(t, Config{}, fat, ordered)
	if e.Generates("deny") {
		t.Errorf("Generates(deny): got true, want false (referenced with generate false)")
	}
	if !e.Generates("fatigue") {
		t.Errorf("Generates(fatigue): got false, want true (generate: true)")
	}
	if !e.Generates("unrelated") {
		t.Errorf("Generates(unrelated): got false, want true")
	}
	if got := e.Inputs("mfa_ok"); !slices.Equal(got, []string{"actor.id"}) {
		t.Errorf("Inputs(mfa_ok): got %v, want [actor.id]", got)
	}
	ins := append(denials("U", 1, 0, 150*time.Second, 300*time.Second, 450*time.Second, 10*time.Minute-ms(1)),
		in{rule: "mfa_ok", at: 12 * time.Minute, id: 9, fields: []string{"U"}})
	got := feed(t, e, ins, 0)
	if len(got.Detections) != 2 {
		t.Fatalf("got %d detections, want 2: %s", len(got.Detections), js(t, got.Detections))
	}
	first, second := got.Detections[0], got.Detections[1]
	if first.Rule != "fatigue" || second.Rule != "fatigue_then_success" {
		t.Fatalf("got rules %s, %s, want fatigue, fatigue_then_success", first.Rule, second.Rule)
	}
	if !slices.Equal(second.Events, []string{first.ID, uid(9)}) || js(t, second.Group) != `[{"field":"actor.id","value":"U"}]` {
		t.Errorf("got events %v group %s, want [%s %s] and actor.id=U", second.Events, js(t, second.Group), first.ID, uid(9))
	}
	// Without generate, the inner correlation only feeds the outer.
	ordered.Generate = false
	e = mustNew(t, Config{}, fat, ordered)
	got = feed(t, e, ins, 0)
	if len(got.Detections) != 1 || got.Detections[0].Rule != "fatigue_then_success" {
		t.Fatalf("got %s, want only fatigue_then_success", js(t, got.Detections))
	}
	if s := e.Stats()["fatigue"]; s.NotGenerated != 1 || s.Emitted != 0 {
		t.Errorf("got %+v, want not_generated 1 emitted 0", s)
	}
	// 4 denials + success: nothing.
	e = mustNew(t, Config{}, fat, ordered)
	if got := feed(t, e, append(denials("U", 1, 0, time.Minute, 2*time.Minute, 3*time.Minute), in{rule: "mfa_ok", at: 4 * time.Minute, id: 9, fields: []string{"U"}}), 0); len(got.Detections) != 0 {
		t.Errorf("4 denials and a success: got %d detections, want 0", len(got.Detections))
	}
	// Success before the fatigue: nothing (order).
	e = mustNew(t, Config{}, fat, ordered)
	if got := feed(t, e, append([]in{{rule: "mfa_ok", id: 9, fields: []string{"U"}}}, denials("U", 1, time.Minute, 2*time.Minute, 3*time.Minute, 4*time.Minute, 5*time.Minute)...), 0); len(got.Detections) != 0 {
		t.Errorf("success then fatigue: got %d detections, want 0", len(got.Detections))
	}
}

func TestAdvanceClosesIdleWindows(t *testing.T) {
	quiet := Rule{ID: "quiet", Type: EventCount, Rules: []string{"a"}, Timespan: 10 * time.Minute, Condition: cond(LT, 2)}
	e := mustNew(t, Config{AllowedLateness: time.Minute}, quiet)
	got := feed(t, e, []in{{rule: "a", id: 1}}, 0)
	if len(got.Detections) != 0 {
		t.Fatalf("got a detection before the window closed")
	}
	if r := e.Advance(t0.Add(11 * time.Minute)); len(r.Detections) != 0 {
		t.Fatalf("got a detection at watermark 10m, want none (the end is inclusive)")
	}
	r := e.Advance(t0.Add(11*time.Minute + 1))
	if len(r.Detections) != 1 || !r.Detections[0].Time.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("got %s, want one detection at the window's end", js(t, r.Detections))
	}
	if s := e.Stats()["quiet"]; s.Groups != 0 {
		t.Errorf("got %d groups after the window closed, want 0", s.Groups)
	}
}

func TestEviction(t *testing.T) {
	e := mustNew(t, Config{MaxGroupsPerRule: 2}, fatigue)
	feed(t, e, []in{
		{rule: "deny", id: 1, fields: []string{"U1"}},
		{rule: "deny", id: 2, fields: []string{"U2"}},
		{rule: "deny", id: 3, fields: []string{"U1"}}, // U1 is now the most recent
		{rule: "deny", id: 4, fields: []string{"U3"}}, // evicts U2
	}, 0)
	s := e.Stats()["fatigue"]
	if s.EvictedGroups != 1 || s.EvictedEvents != 1 || s.Groups != 2 {
		t.Fatalf("got %+v, want 1 group and 1 event evicted, 2 groups", s)
	}
	// U1 kept its two events: three more fire; U2 starts from scratch.
	got := feed(t, e, append(denials("U1", 10, time.Minute, 2*time.Minute, 3*time.Minute), denials("U2", 20, time.Minute, 2*time.Minute, 3*time.Minute, 4*time.Minute)...), 0)
	if len(got.Detections) != 1 || got.Detections[0].Group[0].Value != "U1" {
		t.Errorf("got %s, want one detection for U1", js(t, got.Detections))
	}

	e = mustNew(t, Config{MaxEventsPerWindow: 10}, Rule{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: time.Hour, Condition: cond(LTE, 100)})
	feed(t, e, seq(15, time.Second, func(i int) in { return in{rule: "a", id: i} }), 0)
	if s := e.Stats()["c"]; s.EvictedEvents != 5 {
		t.Errorf("got %d events evicted, want 5", s.EvictedEvents)
	}
	if _, err := New(Config{MaxEventsPerWindow: 10}, []Rule{brute}); err == nil || !strings.Contains(err.Error(), "cannot be reached") {
		t.Errorf("got %v, want an error: gte 20 cannot be reached with 10 events", err)
	}
	at10 := brute
	at10.Condition = cond(GTE, 10)
	e = mustNew(t, Config{MaxEventsPerWindow: 10}, at10)
	if got := feed(t, e, seq(10, time.Second, func(i int) in { return in{rule: "fail", id: i, fields: []string{"203.0.113.7"}} }), 0); len(got.Detections) != 1 {
		t.Errorf("gte 10 with 10 events at most: got %d detections, want 1", len(got.Detections))
	}
}

func TestStateExpires(t *testing.T) {
	e := mustNew(t, Config{AllowedLateness: time.Minute}, fatigue)
	feed(t, e, denials("U", 1, 0, time.Minute), 0)
	feed(t, e, denials("V", 10, 30*time.Minute), 0)
	if s := e.Stats()["fatigue"]; s.Groups != 1 {
		t.Errorf("got %d groups, want 1 (U expired)", s.Groups)
	}
	e.Advance(t0.Add(time.Hour))
	if s := e.Stats()["fatigue"]; s.Groups != 0 {
		t.Errorf("got %d groups after Advance, want 0", s.Groups)
	}
}

func TestNewRejects(t *testing.T) {
	chain := func(n int) []Rule {
		rules := []Rule{{ID: "c0", Type: EventCount, Rules: []string{"base"}, Timespan: time.Minute, Condition: cond(GTE, 1)}}
		for i := 1; i < n; i++ {
			rules = append(rules, Rule{ID: "c" + string(rune('0'+i)), Type: EventCount, Rules: []string{rules[i-1].ID}, Timespan: time.Minute, Condition: cond(GTE, 1)})
		}
		return rules
	}
	cases := []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"unknown type", []Rule{{ID: "x", Type: "near", Rules: []string{"a"}, Timespan: time.Minute}}, `unknown correlation type "near"`},
		{"no timespan", []Rule{{ID: "x", Type: EventCount, Rules: []string{"a"}, Condition: cond(GT, 1)}}, "timespan must be positive"},
		{"no condition", []Rule{{ID: "x", Type: EventCount, Rules: []string{"a"}, Timespan: time.Minute}}, "needs a condition"},
		{"bad range", []Rule{{ID: "x", Type: EventCount, Rules: []string{"a"}, Timespan: time.Minute, Condition: []Cond{{GT, 1}, {GTE, 2}}}}, "must be a range"},
		{"value_count without field", []Rule{{ID: "x", Type: ValueCount, Rules: []string{"a"}, Timespan: time.Minute, Condition: cond(GT, 1)}}, "needs a field"},
		{"cycle", []Rule{
			{ID: "x", Type: EventCount, Rules: []string{"y"}, Timespan: time.Minute, Condition: cond(GT, 1)},
			{ID: "y", Type: EventCount, Rules: []string{"x"}, Timespan: time.Minute, Condition: cond(GT, 1)},
		}, "cycle"},
		{"depth 11", chain(11), "chain depth 11 exceeds 10"},
		{"alias not grouped", []Rule{{ID: "x", Type: EventCount, Rules: []string{"a"}, Timespan: time.Minute, Condition: cond(GT, 1), Aliases: map[string]map[string]string{"u": {"a": "b"}}}}, `alias "u" is not a group-by field`},
		{"defined twice", []Rule{fatigue, fatigue}, "defined twice"},
		{"expression on event_count", []Rule{{ID: "x", Type: EventCount, Rules: []string{"a"}, Timespan: time.Minute, Condition: cond(GT, 1), Expression: "a"}}, "only for temporal"},
		{"expression and condition", []Rule{{ID: "x", Type: Temporal, Rules: []string{"a"}, Timespan: time.Minute, Condition: cond(GT, 1), Expression: "a"}}, "exclusive"},
		{"expression names another rule", []Rule{{ID: "x", Type: Temporal, Rules: []string{"a", "b"}, Timespan: time.Minute, Expression: "a and not c"}}, `"c" is not a referenced rule`},
		{"expression unbalanced", []Rule{{ID: "x", Type: Temporal, Rules: []string{"a", "b"}, Timespan: time.Minute, Expression: "(a and not b"}}, "missing )"},
		{"expression trailing", []Rule{{ID: "x", Type: Temporal, Rules: []string{"a", "b"}, Timespan: time.Minute, Expression: "a b"}}, `unexpected "b"`},
		{"expression dangling and", []Rule{{ID: "x", Type: Temporal, Rules: []string{"a", "b"}, Timespan: time.Minute, Expression: "a and"}}, "ends early"},
		{"names length", []Rule{{ID: "x", Type: Temporal, Rules: []string{"a", "b"}, Names: []string{"a"}, Timespan: time.Minute, Expression: "a"}}, "names has 1 entries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Config{}, tc.rules)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{}, chain(10)); err != nil {
		t.Errorf("chain of 10: got %v, want accepted", err)
	}
}

// TestEventIDs: ids that are not canonical lower-case uuids are kept as given, in
// detections and snapshots, and de-duplicated like uuids.
func TestEventIDs(t *testing.T) {
	r := Rule{ID: "c", Type: EventCount, Rules: []string{"a"}, Timespan: time.Hour, Condition: cond(GTE, 3)}
	ids := []string{"AAAAAAAA-0000-4000-8000-000000000001", "evt-2", "00000000-0000-4000-8000-000000000003"}
	e := mustNew(t, Config{}, r)
	var got outcome
	for k, n := range []int{0, 1, 0, 1, 2} { // the first two twice, across a restore
		got.add(e.Observe(Match{Rule: "a", Org: "org1", Time: t0.Add(time.Duration(n) * time.Second), UUID: ids[n]}))
		if k == 1 {
			snap, err := e.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			e = mustNew(t, Config{}, r)
			if _, err := e.Restore(snap); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got.Detections) != 1 || !slices.Equal(got.Detections[0].Events, ids) {
		t.Fatalf("got %s, want one detection with events %v", js(t, got.Detections), ids)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{AllowedLateness: -1, MaxGroupsPerRule: -1, MaxEventsPerWindow: -1, MaxContributing: -1}.Validate()
	for _, want := range []string{"allowed_lateness", "max_groups_per_rule", "max_events_per_window", "max_contributing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want an error naming %s", err, want)
		}
	}
	if _, err := New(Config{MaxGroupsPerRule: -1}, nil); err == nil {
		t.Errorf("New with a bad config: got nil error")
	}
}

func TestMaxContributing(t *testing.T) {
	e := mustNew(t, Config{MaxContributing: 3}, brute)
	got := feed(t, e, seq(20, time.Second, func(i int) in { return in{rule: "fail", id: i, fields: []string{"203.0.113.7"}} }), 0)
	if len(got.Detections) != 1 || got.Detections[0].Count != 20 || !slices.Equal(got.Detections[0].Events, []string{uid(0), uid(1), uid(2)}) {
		t.Errorf("got %s, want count 20 with the first 3 uuids", js(t, got.Detections))
	}
}
