package activity

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// TestParseEventSameAsBefore checks the one-pass walk (scan.go) against
// the reader it replaced (kept below as oldParseEvent: skip each member,
// then scan the ones it reads again): the same logEvent and the same
// verdict for the fixture's events, the extra ones, and mutations of them
// (bytes dropped, changed, truncated) that are still valid JSON, with
// one interner for all (as the store has). The
// journal stores only events validated at ingest; on invalid JSON the two
// may differ (both are lenient in their own way) and only must not panic.
func TestParseEventSameAsBefore(t *testing.T) {
	var inputs [][]byte
	for _, r := range oktaEvents(t, "acme") {
		inputs = append(inputs, r.Data)
	}
	for _, r := range parseAll(t, "acme", extraEvents...) {
		inputs = append(inputs, r.Data)
	}
	for _, s := range []string{`{}`, `[1]`, `{"target":{"id":"x"}}`, `{"device":{"id":"d"},"device":5}`,
		`{"target":[{"id":"a","type":"User"}],"target":[]}`, `{"\u0074arget":[{"\u0069d":"a"}]}`, `{"a\x":1,"uuid":"u"}`,
		` { "uuid" : "u" , "actor" : { "id" : "x" } } trailing`, `{"actor":{"id":"x"`, `{"actor":{"id":"x",}}`} {
		inputs = append(inputs, []byte(s))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := len(inputs)
	for i := range base {
		in := inputs[i]
		for range 40 {
			m := bytes.Clone(in)
			if len(m) == 0 {
				continue
			}
			p := rng.IntN(len(m))
			switch rng.IntN(3) {
			case 0:
				m = append(m[:p], m[p+1:]...)
			case 1:
				m[p] = "{}[]\",:\\ a1"[rng.IntN(11)]
			case 2:
				m = m[:p]
			}
			inputs = append(inputs, m)
		}
	}
	valid := 0
	var intern interner // shared, as the store's: values seen before come from it
	for i, in := range inputs {
		var got, want logEvent
		gok, wok := parseEvent(in, &got, &intern), oldParseEvent(in, &want)
		if !json.Valid(in) {
			continue
		}
		valid++
		if gok != wok {
			t.Fatalf("input %d %q: ok got %v, want %v", i, in, gok, wok)
		}
		if gok && !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d %q:\ngot  %+v\nwant %+v", i, in, got, want)
		}
	}
	if valid < base*5 {
		t.Fatalf("got %d valid inputs, want at least %d", valid, base*5)
	}
}

// FuzzParseEventSameAsBefore is TestParseEventSameAsBefore's comparison
// on fuzzed input.
func FuzzParseEventSameAsBefore(f *testing.F) {
	for _, r := range oktaEvents(f, "acme") {
		f.Add(r.Data)
	}
	var intern interner
	f.Fuzz(func(t *testing.T, in []byte) {
		var got, want logEvent
		gok, wok := parseEvent(in, &got, &intern), oldParseEvent(in, &want)
		if !json.Valid(in) {
			return
		}
		if gok != wok {
			t.Fatalf("ok: got %v, want %v", gok, wok)
		}
		if gok && !reflect.DeepEqual(got, want) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}

// The reader before the one-pass walk, for the comparison above.

// members calls fn with each member of the JSON object obj: its name as
// written (with quotes) and its value. It reports false when obj is not an
// object.
func oldMembers(obj []byte, fn func(key, val []byte)) bool {
	i := jsonlex.SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i++
	for {
		i = jsonlex.SkipSpace(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			return i < len(obj)
		}
		if obj[i] == ',' {
			i++
			continue
		}
		if obj[i] != '"' {
			return false
		}
		ke, ok := jsonlex.SkipString(obj, i)
		if !ok {
			return false
		}
		key := obj[i:ke]
		i = jsonlex.SkipSpace(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		vs := jsonlex.SkipSpace(obj, i+1)
		ve, ok := jsonlex.SkipValue(obj, vs)
		if !ok {
			return false
		}
		fn(key, obj[vs:ve])
		i = ve
	}
}

// elements calls fn with each element of the JSON array arr.
func oldElements(arr []byte, fn func(val []byte)) {
	i := jsonlex.SkipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	i++
	for {
		i = jsonlex.SkipSpace(arr, i)
		if i >= len(arr) || arr[i] == ']' {
			return
		}
		if arr[i] == ',' {
			i++
			continue
		}
		ve, ok := jsonlex.SkipValue(arr, i)
		if !ok {
			return
		}
		fn(arr[i:ve])
		i = ve
	}
}

// is reports whether the quoted key names name.
func oldIs(key []byte, name string) bool {
	if len(key) == len(name)+2 && string(key[1:len(key)-1]) == name {
		return true
	}
	if bytes.IndexByte(key, '\\') < 0 {
		return false
	}
	return oldStr(key) == name
}

// str is a JSON string value decoded, "" for anything else (null, a
// number, an object).
func oldStr(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return string(in)
	}
	out, _, bad := jsonlex.AppendUnescaped(nil, v, 1)
	if bad >= 0 {
		return ""
	}
	return string(out)
}

// scalar is a JSON string decoded or a number as written, "" otherwise.
func oldScalar(v []byte) string {
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return string(v)
	}
	return oldStr(v)
}

// parseEvent reads the members a profile needs from an event's JSON; false
// when it is not a JSON object.
func oldParseEvent(data []byte, e *logEvent) bool {
	return oldMembers(data, func(k, v []byte) {
		switch {
		case oldIs(k, "uuid"):
			e.UUID = oldStr(v)
		case oldIs(k, "eventType"):
			e.EventType = oldStr(v)
		case oldIs(k, "displayMessage"):
			e.DisplayMessage = oldStr(v)
		case oldIs(k, "actor"):
			oldMembers(v, func(k, v []byte) {
				switch {
				case oldIs(k, "id"):
					e.Actor.ID = oldStr(v)
				case oldIs(k, "type"):
					e.Actor.Type = oldStr(v)
				case oldIs(k, "alternateId"):
					e.Actor.AlternateID = oldStr(v)
				case oldIs(k, "displayName"):
					e.Actor.DisplayName = oldStr(v)
				}
			})
		case oldIs(k, "client"):
			oldMembers(v, func(k, v []byte) {
				switch {
				case oldIs(k, "ipAddress"):
					e.Client.IPAddress = oldStr(v)
				case oldIs(k, "userAgent"):
					oldMembers(v, func(k, v []byte) {
						switch {
						case oldIs(k, "rawUserAgent"):
							e.Client.UserAgent.Raw = oldStr(v)
						case oldIs(k, "os"):
							e.Client.UserAgent.OS = oldStr(v)
						case oldIs(k, "browser"):
							e.Client.UserAgent.Browser = oldStr(v)
						}
					})
				case oldIs(k, "geographicalContext"):
					oldMembers(v, func(k, v []byte) {
						if oldIs(k, "country") {
							e.Client.Geo.Country = oldStr(v)
						}
					})
				}
			})
		case oldIs(k, "device"):
			var d deviceInfo
			if oldMembers(v, func(k, v []byte) {
				switch {
				case oldIs(k, "id"):
					d.ID = oldStr(v)
				case oldIs(k, "name"):
					d.Name = oldStr(v)
				case oldIs(k, "os_platform"):
					d.OSPlatform = oldStr(v)
				}
			}) {
				e.Device = &d
			}
		case oldIs(k, "authenticationContext"):
			oldMembers(v, func(k, v []byte) {
				switch {
				case oldIs(k, "credentialType"):
					e.AuthContext.CredentialType = oldStr(v)
				case oldIs(k, "externalSessionId"):
					e.AuthContext.ExternalSessionID = oldStr(v)
				}
			})
		case oldIs(k, "securityContext"):
			oldMembers(v, func(k, v []byte) {
				switch {
				case oldIs(k, "asNumber"):
					e.Security.ASNumber = oldScalar(v)
				case oldIs(k, "asOrg"):
					e.Security.ASOrg = oldStr(v)
				}
			})
		case oldIs(k, "outcome"):
			oldMembers(v, func(k, v []byte) {
				switch {
				case oldIs(k, "result"):
					e.Outcome.Result = oldStr(v)
				case oldIs(k, "reason"):
					e.Outcome.Reason = oldStr(v)
				}
			})
		case oldIs(k, "target"):
			e.Target = e.Target[:0]
			oldElements(v, func(v []byte) {
				var t target
				if !oldMembers(v, func(k, v []byte) {
					switch {
					case oldIs(k, "id"):
						t.ID = oldStr(v)
					case oldIs(k, "type"):
						t.Type = oldStr(v)
					case oldIs(k, "alternateId"):
						t.AlternateID = oldStr(v)
					case oldIs(k, "displayName"):
						t.DisplayName = oldStr(v)
					case oldIs(k, "detailEntry"):
						oldMembers(v, func(k, v []byte) {
							if oldIs(k, "methodTypeUsed") {
								t.MethodTypeUsed = oldScalar(v)
							}
						})
					}
				}) {
					return
				}
				e.Target = append(e.Target, t)
			})
		case oldIs(k, "transaction"):
			oldMembers(v, func(k, v []byte) {
				if oldIs(k, "id") {
					e.Transaction.ID = oldStr(v)
				}
			})
		case oldIs(k, "debugContext"):
			oldMembers(v, func(k, v []byte) {
				if !oldIs(k, "debugData") {
					return
				}
				oldMembers(v, func(k, v []byte) {
					switch {
					case oldIs(k, "factor"):
						e.Debug.Factor = oldScalar(v)
					case oldIs(k, "detectionId"):
						e.Debug.DetectionID = oldScalar(v)
					case oldIs(k, "level"):
						e.Debug.Level = oldScalar(v)
					case oldIs(k, "groupBy"):
						e.Debug.GroupBy = oldScalar(v)
					case oldIs(k, "status"):
						e.Debug.Status = oldScalar(v)
					case oldIs(k, "note"):
						e.Debug.Note = oldScalar(v)
					}
				})
			})
		}
	})
}
