package detect

import "bytes"

// maxRuleText bounds the text Text returns.
const maxRuleText = 64 << 10

// textKey names a rule of an org ("" for pack rules) in Registry.files.
func textKey(org, id string) string { return org + "\x00" + id }

// Text is the source text of the rule in describes, as its pack's file
// holds it: the YAML document around in.Line (from the document
// separator before it to the one after it), at most 64 KiB. It is empty
// when the registry has no file of that name (a rule refused before its
// file was read).
func (g *Registry) Text(in Info) string {
	data := g.files[textKey(in.Org, in.ID)][in.File]
	if len(data) == 0 {
		return ""
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	at := min(max(in.Line, 1), len(lines)) - 1
	isSep := func(l []byte) bool {
		l = bytes.TrimRight(l, " \t\r\n")
		return bytes.Equal(l, []byte("---")) || bytes.HasPrefix(l, []byte("--- ")) || bytes.Equal(l, []byte("..."))
	}
	start := at
	for start > 0 && !isSep(lines[start-1]) {
		start--
	}
	if isSep(lines[at]) { // a line number naming the separator itself
		start = at + 1
	}
	end := max(start, at+1)
	for end < len(lines) && !isSep(lines[end]) {
		end++
	}
	text := bytes.Join(lines[start:end], nil)
	if len(text) > maxRuleText {
		text = append(text[:maxRuleText:maxRuleText], "\n… (cut at 64 KiB)\n"...)
	}
	return string(text)
}

// RuleTuning is a rule's effective tuning as loaded: its suppression
// and its pack overlay's exceptions and severityWhen (the overlay's
// level and enabled show in Info's level and status).
type RuleTuning struct {
	// Suppress is the suppression window after a detection ("0s": every
	// match raises); empty for a rule that raises nothing itself (a
	// Sigma rule only referenced by correlations).
	Suppress string `json:"suppress,omitempty"`
	// SuppressBy are the fields of the suppression key (a correlation's
	// group-by).
	SuppressBy []string `json:"suppressBy,omitempty"`
	// Exceptions are EventBridge patterns: an event matching one never
	// triggers the rule.
	Exceptions []string `json:"exceptions,omitempty"`
	// SeverityWhen sets the level for events matching a pattern.
	SeverityWhen []SeverityWhen `json:"severityWhen,omitempty"`
}

// SeverityWhen is one severityWhen entry of RuleTuning.
type SeverityWhen struct {
	Match string `json:"match"`
	Level string `json:"level"`
}

// Tuning is the effective tuning of the loaded rule in describes (zero
// for a rule not loaded).
func (g *Registry) Tuning(in Info) RuleTuning {
	var t RuleTuning
	for _, c := range g.corrs {
		if c.ID == in.ID {
			t.Suppress, t.SuppressBy = c.Suppress.String(), c.GroupBy
		}
	}
	if t.Suppress == "" {
		for _, r := range g.rules {
			if r.ID == in.ID && r.Org == in.Org && r.raises {
				t.Suppress, t.SuppressBy = r.suppress.String(), r.groupBy
			}
		}
	}
	if e := g.tunes[in.ID]; e != nil {
		for _, p := range e.Exceptions {
			t.Exceptions = append(t.Exceptions, p.String())
		}
		for _, s := range e.SeverityWhen {
			t.SeverityWhen = append(t.SeverityWhen, SeverityWhen{Match: s.Match.String(), Level: s.Level})
		}
	}
	return t
}
