package sigma

import (
	"bytes"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// Index picks the candidate rules for an event from their prefilters, on an
// already parsed field.Event: one lookup of eventType, legacyEventType and
// displayMessage each and a map access per value. It is the in-process alternative
// to putting Prefilter.Pattern into a pattern.Set when the event is parsed anyway.
// An Index is immutable and safe for concurrent use.
type Index struct {
	fields []indexField
	always []*Rule // rules without a prefilter
}

type indexField struct {
	path  field.Path
	rules map[string][]*Rule // lower-cased value → rules
}

// NewIndex indexes the rules by their prefilters.
func NewIndex(rules []*Rule) *Index {
	ix := &Index{}
	byField := map[string]int{}
	for _, r := range rules {
		pre := r.Prefilter()
		if pre == nil {
			ix.always = append(ix.always, r)
			continue
		}
		fi, ok := byField[pre.Field]
		if !ok {
			fi = len(ix.fields)
			byField[pre.Field] = fi
			ix.fields = append(ix.fields, indexField{path: field.MustParsePath(pre.Field), rules: map[string][]*Rule{}})
		}
		for _, v := range pre.Values {
			ix.fields[fi].rules[v] = append(ix.fields[fi].rules[v], r)
		}
	}
	return ix
}

// Unindexed returns the rules that have no prefilter and are evaluated for every
// event.
func (ix *Index) Unindexed() []*Rule { return ix.always }

// Candidates appends to dst the rules that may match e, each once: the unindexed
// rules and those whose prefilter e satisfies.
func (ix *Index) Candidates(e *field.Event, dst []*Rule) []*Rule {
	dst = append(dst, ix.always...)
	var arr [4]field.Value
	var lower [128]byte
	start := len(dst)
	for i := range ix.fields {
		f := &ix.fields[i]
		for _, v := range e.AppendValues(arr[:0], f.path) {
			if v.Kind != field.String || len(v.Text) > len(lower) {
				continue
			}
			key := lower[:len(v.Text)]
			ascii := true
			for j, c := range v.Text {
				if c >= 0x80 {
					ascii = false
					break
				}
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				key[j] = c
			}
			if !ascii {
				key = bytes.ToLower(v.Text)
			}
			for _, r := range f.rules[string(key)] {
				dup := false
				for _, d := range dst[start:] {
					if d == r {
						dup = true
						break
					}
				}
				if !dup {
					dst = append(dst, r)
				}
			}
		}
	}
	return dst
}
