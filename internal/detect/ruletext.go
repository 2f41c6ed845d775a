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
