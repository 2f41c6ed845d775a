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
	b = appendOmitEmpty(b, `,"login":`, p.Login)
	b = appendOmitEmpty(b, `,"displayName":`, p.DisplayName)
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
		b = appendObject(b, p.Lists, func(b []byte, items []Item) []byte {
			return appendArray(b, items, &ok, appendItem)
		})
	}
	b = append(b, `,"adminActions":`...)
	b = appendArray(b, p.AdminActions, &ok, appendAction)
	b = append(b, `,"changesByOthers":`...)
	b = appendArray(b, p.ChangesByOthers, &ok, appendAction)
	b = append(b, `,"detections":`...)
	b = appendArray(b, p.Detections, &ok, appendDetection)
	if len(p.Evicted) > 0 {
		b = append(b, `,"evicted":`...)
		b = appendObject(b, p.Evicted, func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
	}
	if p.Daily != nil {
		b = append(b, `,"dailyCounts":`...)
		b = p.Daily.appendJSON(b)
	}
	b = append(b, '}')
	return b, ok
}

func appendStamp(b []byte, s *Stamp, ok *bool) []byte {
	b = appendEventHead(b, s.Time, s.UUID, s.Event, ok)
	b = appendOmitEmpty(b, `,"ip":`, s.IP)
	b = appendOmitEmpty(b, `,"result":`, s.Result)
	b = appendOmitEmpty(b, `,"reason":`, s.Reason)
	b = appendOmitEmpty(b, `,"factor":`, s.Factor)
	return append(b, '}')
}

// appendEventHead opens the object of an event a profile keeps (a Stamp,
// an Action) with the members both begin with: time, uuid, eventType.
func appendEventHead(b []byte, t time.Time, uuid, event string, ok *bool) []byte {
	b = append(b, `{"time":`...)
	b = appendJSONTime(b, t, ok)
	b = append(b, `,"uuid":`...)
	b = appendJSONString(b, uuid)
	b = append(b, `,"eventType":`...)
	return appendJSONString(b, event)
}

// appendArray appends xs as encoding/json writes a slice: null when nil,
// else each element as elem appends it, in brackets.
func appendArray[T any](b []byte, xs []T, ok *bool, elem func(b []byte, x *T, ok *bool) []byte) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = elem(b, &xs[i], ok)
	}
	return append(b, ']')
}

// appendObject appends the non-nil map m as encoding/json writes a map:
// its keys sorted, each value as val appends it.
func appendObject[K ~string, V any](b []byte, m map[K]V, val func(b []byte, v V) []byte) []byte {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(k))
		b = append(b, ':')
		b = val(b, m[k])
	}
	return append(b, '}')
}

func appendItem(b []byte, it *Item, ok *bool) []byte {
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
	return append(b, '}')
}

func appendAction(b []byte, a *Action, ok *bool) []byte {
	b = appendEventHead(b, a.Time, a.UUID, a.Event, ok)
	b = appendOmitEmpty(b, `,"result":`, a.Result)
	b = appendOmitEmpty(b, `,"actor":`, a.Actor)
	b = appendOmitEmpty(b, `,"target":`, a.Target)
	return append(b, '}')
}

func appendDetection(b []byte, d *Detection, ok *bool) []byte {
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
	return append(b, '}')
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
