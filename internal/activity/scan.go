package activity

import (
	"bytes"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// The fold reads the members it needs straight from the event's JSON
// (stored events were validated at ingest), without reflection and
// allocating only the strings it keeps: encoding/json cost about 14 µs
// an event, most of the fold (BENCHMARKS.md).

// members calls fn with each member of the JSON object obj: its name as
// written (with quotes) and its value. It reports false when obj is not an
// object.
func members(obj []byte, fn func(key, val []byte)) bool {
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
func elements(arr []byte, fn func(val []byte)) {
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
func is(key []byte, name string) bool {
	if len(key) == len(name)+2 && string(key[1:len(key)-1]) == name {
		return true
	}
	if bytes.IndexByte(key, '\\') < 0 {
		return false
	}
	return str(key) == name
}

// str is a JSON string value decoded, "" for anything else (null, a
// number, an object).
func str(v []byte) string {
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
func scalar(v []byte) string {
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return string(v)
	}
	return str(v)
}

// parseEvent reads the members a profile needs from an event's JSON; false
// when it is not a JSON object.
func parseEvent(data []byte, e *logEvent) bool {
	return members(data, func(k, v []byte) {
		switch {
		case is(k, "uuid"):
			e.UUID = str(v)
		case is(k, "eventType"):
			e.EventType = str(v)
		case is(k, "displayMessage"):
			e.DisplayMessage = str(v)
		case is(k, "actor"):
			members(v, func(k, v []byte) {
				switch {
				case is(k, "id"):
					e.Actor.ID = str(v)
				case is(k, "type"):
					e.Actor.Type = str(v)
				case is(k, "alternateId"):
					e.Actor.AlternateID = str(v)
				case is(k, "displayName"):
					e.Actor.DisplayName = str(v)
				}
			})
		case is(k, "client"):
			members(v, func(k, v []byte) {
				switch {
				case is(k, "ipAddress"):
					e.Client.IPAddress = str(v)
				case is(k, "userAgent"):
					members(v, func(k, v []byte) {
						switch {
						case is(k, "rawUserAgent"):
							e.Client.UserAgent.Raw = str(v)
						case is(k, "os"):
							e.Client.UserAgent.OS = str(v)
						case is(k, "browser"):
							e.Client.UserAgent.Browser = str(v)
						}
					})
				case is(k, "geographicalContext"):
					members(v, func(k, v []byte) {
						if is(k, "country") {
							e.Client.Geo.Country = str(v)
						}
					})
				}
			})
		case is(k, "device"):
			var d deviceInfo
			if members(v, func(k, v []byte) {
				switch {
				case is(k, "id"):
					d.ID = str(v)
				case is(k, "name"):
					d.Name = str(v)
				case is(k, "os_platform"):
					d.OSPlatform = str(v)
				}
			}) {
				e.Device = &d
			}
		case is(k, "authenticationContext"):
			members(v, func(k, v []byte) {
				switch {
				case is(k, "credentialType"):
					e.AuthContext.CredentialType = str(v)
				case is(k, "externalSessionId"):
					e.AuthContext.ExternalSessionID = str(v)
				}
			})
		case is(k, "securityContext"):
			members(v, func(k, v []byte) {
				switch {
				case is(k, "asNumber"):
					e.Security.ASNumber = scalar(v)
				case is(k, "asOrg"):
					e.Security.ASOrg = str(v)
				}
			})
		case is(k, "outcome"):
			members(v, func(k, v []byte) {
				switch {
				case is(k, "result"):
					e.Outcome.Result = str(v)
				case is(k, "reason"):
					e.Outcome.Reason = str(v)
				}
			})
		case is(k, "target"):
			e.Target = e.Target[:0]
			elements(v, func(v []byte) {
				var t target
				if !members(v, func(k, v []byte) {
					switch {
					case is(k, "id"):
						t.ID = str(v)
					case is(k, "type"):
						t.Type = str(v)
					case is(k, "alternateId"):
						t.AlternateID = str(v)
					case is(k, "displayName"):
						t.DisplayName = str(v)
					case is(k, "detailEntry"):
						members(v, func(k, v []byte) {
							if is(k, "methodTypeUsed") {
								t.MethodTypeUsed = scalar(v)
							}
						})
					}
				}) {
					return
				}
				e.Target = append(e.Target, t)
			})
		case is(k, "transaction"):
			members(v, func(k, v []byte) {
				if is(k, "id") {
					e.Transaction.ID = str(v)
				}
			})
		case is(k, "debugContext"):
			members(v, func(k, v []byte) {
				if !is(k, "debugData") {
					return
				}
				members(v, func(k, v []byte) {
					switch {
					case is(k, "factor"):
						e.Debug.Factor = scalar(v)
					case is(k, "detectionId"):
						e.Debug.DetectionID = scalar(v)
					case is(k, "level"):
						e.Debug.Level = scalar(v)
					case is(k, "groupBy"):
						e.Debug.GroupBy = scalar(v)
					case is(k, "status"):
						e.Debug.Status = scalar(v)
					case is(k, "note"):
						e.Debug.Note = scalar(v)
					}
				})
			})
		}
	})
}
