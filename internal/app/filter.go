package app

import (
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/pattern"
	"github.com/auditstream/auditstream/internal/stream"
)

// envelopeDefaults are the EventBridge envelope's account and region for
// events that carry none.
type envelopeDefaults struct{ account, region string }

// filter matches a record as the detail of its EventBridge envelope
// (PATTERNS.md §1). The envelope's default source and its time are kept
// from one event to the next (events of one org, published within the
// same second, share them), so matching allocates nothing on the common
// path; the filter is used by one goroutine (stream.Filter).
//
// When every rule of the pattern names the event types it selects with
// exact strings (the usual stream filter, {"detail":{"eventType":[...]}}),
// a record whose journal event type is none of them is refused without
// reading its JSON: the event type is the one Parse took from that JSON
// (a string, its only eventType member), so matching could only say
// false. Ten streams filtered on event types then read each event's JSON
// about once between them instead of ten times. A record without an
// event type is matched in full.
func (t *destinations) filter(p *pattern.Pattern) stream.Filter {
	var types map[string]struct{}
	if vals, ok := p.ExactStrings("detail.eventType"); ok {
		types = make(map[string]struct{}, len(vals))
		for _, v := range vals {
			types[v] = struct{}{}
		}
	}
	var (
		org, defSource string // defSource is the default source of org
		sec            int64  // the Unix second of timeStr
		timeStr        string
		haveTime       bool
	)
	return func(r *event.Record) bool {
		if types != nil && r.EventType != "" {
			if _, ok := types[r.EventType]; !ok {
				return false
			}
		}
		source := r.Source
		if source == "" {
			if r.Org != org || defSource == "" {
				org, defSource = r.Org, "auditstream."+r.Org
			}
			source = defSource
		}
		account := r.Account
		if account == "" {
			account = t.envelope.account
		}
		if s := r.Published.Unix(); !haveTime || s != sec {
			sec, haveTime = s, true
			timeStr = r.Published.UTC().Truncate(time.Second).Format(time.RFC3339)
		}
		env := pattern.Envelope{
			Version:    "0",
			ID:         r.UUID,
			DetailType: "SystemLog",
			Source:     source,
			Account:    account,
			Time:       timeStr,
			Region:     t.envelope.region,
			Detail:     r.Data,
		}
		return p.MatchEnvelope(&env)
	}
}

// ValidateFilter compiles a pattern and returns AWS's error text.
func ValidateFilter(raw []byte, opts ...pattern.Option) error {
	_, err := pattern.Compile(raw, opts...)
	return err
}

// patternOptions turns the config's pattern limits into Compile options.
func patternOptions(c config.Patterns) []pattern.Option {
	var opts []pattern.Option
	if c.MaxLength > 0 {
		opts = append(opts, pattern.WithMaxLength(c.MaxLength))
	}
	if c.MaxCombinations > 0 {
		opts = append(opts, pattern.WithMaxCombinations(c.MaxCombinations))
	}
	if c.MaxWildcardComplexity > 0 {
		opts = append(opts, pattern.WithMaxWildcardComplexity(c.MaxWildcardComplexity))
	}
	if c.StrictNumericOperands != nil {
		opts = append(opts, pattern.WithStrictNumericOperands(*c.StrictNumericOperands))
	}
	return opts
}

// validateFilter is ValidateFilter with the configured limits.
func (t *destinations) validateFilter(raw []byte) error { return ValidateFilter(raw, t.patterns...) }
