package activity

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// appendProfile appends p as encoding/json encodes it (the same bytes:
// field order, omitempty, sorted map keys, escaping), without reflection:
// Flush writes every changed profile once a second, and encoding/json was
// most of the fold's CPU at a steady load (BENCHMARKS.md, issue 12). It
// reports false for what it does not write itself (a time encoding/json
// refuses); the caller then uses encoding/json, error included.
// TestAppendProfileSameAsJSON compares the two.
func appendProfile(b []byte, p *Profile) ([]byte, bool) {
	ok := true
	b = append(b, `{"org":`...)
	b = appendJSONString(b, p.Org)
	b = append(b, `,"userId":`...)
	b = appendJSONString(b, p.UserID)
	if p.Login != "" {
		b = append(b, `,"login":`...)
		b = appendJSONString(b, p.Login)
	}
	if p.DisplayName != "" {
		b = append(b, `,"displayName":`...)
		b = appendJSONString(b, p.DisplayName)
	}
	b = append(b, `,"position":`...)
	b = strconv.AppendUint(b, p.Position, 10)
	b = append(b, `,"asActor":`...)
	b = strconv.AppendInt(b, p.AsActor, 10)
	b = append(b, `,"asTarget":`...)
	b = strconv.AppendInt(b, p.AsTarget, 10)
	b = append(b, `,"first":`...)
	b = appendJSONTime(b, p.First, &ok)
	b = append(b, `,"last":`...)
	b = appendJSONTime(b, p.Last, &ok)
	for _, s := range []struct {
		name string
		st   *Stamp
	}{{`,"lastSignIn":`, p.LastSignIn}, {`,"lastSignInFailure":`, p.LastSignInFailure}, {`,"lastMfa":`, p.LastMFA}} {
		if s.st != nil {
			b = append(b, s.name...)
			b = appendStamp(b, s.st, &ok)
		}
	}
	b = append(b, `,"lists":`...)
	if p.Lists == nil {
		b = append(b, "null"...)
	} else {
		kinds := make([]Kind, 0, len(p.Lists))
		for k := range p.Lists {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		b = append(b, '{')
		for i, k := range kinds {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, string(k))
			b = append(b, ':')
			b = appendItems(b, p.Lists[k], &ok)
		}
		b = append(b, '}')
	}
	b = append(b, `,"adminActions":`...)
	b = appendActions(b, p.AdminActions, &ok)
	b = append(b, `,"changesByOthers":`...)
	b = appendActions(b, p.ChangesByOthers, &ok)
	b = append(b, `,"detections":`...)
	b = appendDetections(b, p.Detections, &ok)
	if len(p.Evicted) > 0 {
		names := make([]string, 0, len(p.Evicted))
		for n := range p.Evicted {
			names = append(names, n)
		}
		slices.Sort(names)
		b = append(b, `,"evicted":{`...)
		for i, n := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, n)
			b = append(b, ':')
			b = strconv.AppendInt(b, p.Evicted[n], 10)
		}
		b = append(b, '}')
	}
	if p.Daily != nil {
		b = append(b, `,"dailyCounts":`...)
		b = p.Daily.appendJSON(b)
	}
	b = append(b, '}')
	return b, ok
}

func appendStamp(b []byte, s *Stamp, ok *bool) []byte {
	b = append(b, `{"time":`...)
	b = appendJSONTime(b, s.Time, ok)
	b = append(b, `,"uuid":`...)
	b = appendJSONString(b, s.UUID)
	b = append(b, `,"eventType":`...)
	b = appendJSONString(b, s.Event)
	b = appendOmitEmpty(b, `,"ip":`, s.IP)
	b = appendOmitEmpty(b, `,"result":`, s.Result)
	b = appendOmitEmpty(b, `,"reason":`, s.Reason)
	b = appendOmitEmpty(b, `,"factor":`, s.Factor)
	return append(b, '}')
}

func appendItems(b []byte, items []Item, ok *bool) []byte {
	if items == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range items {
		it := &items[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"value":`...)
		b = appendJSONString(b, it.Value)
		b = appendOmitEmpty(b, `,"label":`, it.Label)
		b = append(b, `,"first":`...)
		b = appendJSONTime(b, it.First, ok)
		b = append(b, `,"last":`...)
		b = appendJSONTime(b, it.Last, ok)
		b = append(b, `,"firstPos":`...)
		b = strconv.AppendUint(b, it.FirstPos, 10)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, it.Count, 10)
		b = append(b, `,"ok":`...)
		b = strconv.AppendInt(b, it.OK, 10)
		b = append(b, `,"fail":`...)
		b = strconv.AppendInt(b, it.Fail, 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendActions(b []byte, as []Action, ok *bool) []byte {
	if as == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range as {
		a := &as[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"time":`...)
		b = appendJSONTime(b, a.Time, ok)
		b = append(b, `,"uuid":`...)
		b = appendJSONString(b, a.UUID)
		b = append(b, `,"eventType":`...)
		b = appendJSONString(b, a.Event)
		b = appendOmitEmpty(b, `,"result":`, a.Result)
		b = appendOmitEmpty(b, `,"actor":`, a.Actor)
		b = appendOmitEmpty(b, `,"target":`, a.Target)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendDetections(b []byte, ds []Detection, ok *bool) []byte {
	if ds == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range ds {
		d := &ds[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendJSONString(b, d.ID)
		b = append(b, `,"rule":`...)
		b = appendJSONString(b, d.Rule)
		b = appendOmitEmpty(b, `,"title":`, d.Title)
		b = appendOmitEmpty(b, `,"level":`, d.Level)
		b = append(b, `,"first":`...)
		b = appendJSONTime(b, d.First, ok)
		b = append(b, `,"last":`...)
		b = appendJSONTime(b, d.Last, ok)
		b = append(b, `,"uuid":`...)
		b = appendJSONString(b, d.UUID)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, d.Count, 10)
		b = appendOmitEmpty(b, `,"status":`, d.Status)
		b = appendOmitEmpty(b, `,"note":`, d.Note)
		if !d.Updated.IsZero() {
			b = append(b, `,"updated":`...)
			b = appendJSONTime(b, d.Updated, ok)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendOmitEmpty appends name and s unless s is empty (omitempty).
func appendOmitEmpty(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, name...), s)
}

// appendJSONTime appends t as time.Time's MarshalJSON does, clearing *ok
// when t has no RFC 3339 form (encoding/json fails on it).
func appendJSONTime(b []byte, t time.Time, ok *bool) []byte {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		*ok = false
	}
	return append(b, '"')
}

// appendJSONString appends s quoted: as it is when every byte is printable
// ASCII that encoding/json writes as is, else as encoding/json writes it
// (its escapes, HTML-safe, invalid UTF-8 replaced).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON marks the bytes encoding/json writes as they are inside a
// string: printable ASCII but for the quote, the backslash and the HTML
// characters it escapes. It is never written.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
