package activity

import (
	"bytes"

	"github.com/auditstream/auditstream/internal/jsonlex"
)

// The fold reads the members it needs straight from the event's JSON
// (stored events were validated at ingest), without reflection and
// allocating only the strings it keeps: encoding/json cost about 14 µs
// an event, most of the fold (BENCHMARKS.md).
//
// It walks the event once: a member the fold descends into (actor,
// client, target, ...) is read where it lies instead of being skipped
// first and scanned again, and member names are compared as written
// (decoded only when they hold an escape), so each byte of the event is
// scanned about once.

// Results of object and array besides the offset past the value.
const (
	// notThere: the value is not an object (or array); the caller skips
	// it with jsonlex.SkipValue, which fails on malformed JSON.
	notThere = -1
	// malformed: the value is not valid JSON.
	malformed = -2
)

// object walks the JSON object at b[i:] (after spaces), calling fn with
// each member's name (unquoted, escapes decoded) and the offset of its
// value. fn returns the offset just past the value it read, or notThere
// or malformed to have it skipped. object returns the offset past the
// object, notThere when the value at i is not an object, or malformed.
func object(b []byte, i int, fn func(name []byte, vs int) int) int {
	i = jsonlex.SkipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return notThere
	}
	i++
	for {
		i = jsonlex.SkipSpace(b, i)
		if i >= len(b) {
			return malformed
		}
		switch b[i] {
		case '}':
			return i + 1
		case ',':
			i++
			continue
		case '"':
		default:
			return malformed
		}
		ke, ok := jsonlex.SkipString(b, i)
		if !ok {
			return malformed
		}
		name := b[i+1 : ke-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			dec, _, bad := jsonlex.AppendUnescaped(nil, b, i+1)
			if bad >= 0 {
				dec = nil // names nothing the fold reads
			}
			name = dec
		}
		i = jsonlex.SkipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return malformed
		}
		vs := jsonlex.SkipSpace(b, i+1)
		// A value fn could not read (notThere, malformed) is skipped: a
		// malformed member fails the object only if skipping it fails,
		// as when every member was skipped before being read.
		ve := fn(name, vs)
		if ve < 0 {
			if ve, ok = jsonlex.SkipValue(b, vs); !ok {
				return malformed
			}
		}
		i = ve
	}
}

// array walks the JSON array at b[i:] as object walks an object: fn gets
// each element's offset and returns the offset past it, notThere or
// malformed.
func array(b []byte, i int, fn func(es int) int) int {
	i = jsonlex.SkipSpace(b, i)
	if i >= len(b) || b[i] != '[' {
		return notThere
	}
	i++
	for {
		i = jsonlex.SkipSpace(b, i)
		if i >= len(b) {
			return malformed
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i++
			continue
		}
		ve := fn(i)
		if ve < 0 {
			var ok bool
			if ve, ok = jsonlex.SkipValue(b, i); !ok {
				return malformed
			}
		}
		i = ve
	}
}

// setStr sets *dst to the value at b[vs] as str reads it and returns the
// offset past the value.
func setStr(dst *string, b []byte, vs int) int {
	ve, ok := jsonlex.SkipValue(b, vs)
	if !ok {
		return malformed
	}
	*dst = str(b[vs:ve])
	return ve
}

// setScalar sets *dst to the value at b[vs] as scalar reads it.
func setScalar(dst *string, b []byte, vs int) int {
	ve, ok := jsonlex.SkipValue(b, vs)
	if !ok {
		return malformed
	}
	*dst = scalar(b[vs:ve])
	return ve
}

// interner hands out one string per distinct value for the members that
// repeat from event to event (event types, actors, addresses, agents,
// outcomes), so reading them allocates nothing once seen; unique ones
// (uuids, transaction ids) are not interned. It holds at most maxInterned
// values and starts over when full. The zero value is ready; a nil
// interner allocates every string. Not safe for concurrent use.
type interner struct{ m map[string]string }

// maxInterned bounds an interner: about 0.5 MB of short strings.
const maxInterned = 8192

// setStr is setStr with the value interned when it is a plain string.
func (in *interner) setStr(dst *string, b []byte, vs int) int {
	ve, ok := jsonlex.SkipValue(b, vs)
	if !ok {
		return malformed
	}
	*dst = in.str(b[vs:ve])
	return ve
}

// setEntity reads the member named k (its value at b[vs]) of an actor or
// a target into en, as setStr does, or returns notThere for a member en
// does not hold.
func (in *interner) setEntity(en *entity, k, b []byte, vs int) int {
	switch string(k) {
	case "id":
		return in.setStr(&en.ID, b, vs)
	case "type":
		return in.setStr(&en.Type, b, vs)
	case "alternateId":
		return in.setStr(&en.AlternateID, b, vs)
	case "displayName":
		return in.setStr(&en.DisplayName, b, vs)
	}
	return notThere
}

// str is str(v), interned when v is a string without escapes.
func (in *interner) str(v []byte) string {
	if in == nil || len(v) < 2 || v[0] != '"' {
		return str(v)
	}
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		return str(v)
	}
	if s, ok := in.m[string(raw)]; ok { // no allocation
		return s
	}
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = make(map[string]string, 256)
	}
	s := string(raw)
	in.m[s] = s
	return s
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
// when it is not a JSON object or not valid JSON. in (may be nil) interns
// the members that repeat.
func parseEvent(b []byte, e *logEvent, in *interner) bool {
	return object(b, 0, func(k []byte, vs int) int {
		switch string(k) {
		case "uuid":
			return setStr(&e.UUID, b, vs)
		case "eventType":
			return in.setStr(&e.EventType, b, vs)
		case "displayMessage":
			return in.setStr(&e.DisplayMessage, b, vs)
		case "actor":
			return object(b, vs, func(k []byte, vs int) int {
				return in.setEntity(&e.Actor, k, b, vs)
			})
		case "client":
			return object(b, vs, func(k []byte, vs int) int {
				switch string(k) {
				case "ipAddress":
					return in.setStr(&e.Client.IPAddress, b, vs)
				case "userAgent":
					return object(b, vs, func(k []byte, vs int) int {
						switch string(k) {
						case "rawUserAgent":
							return in.setStr(&e.Client.UserAgent.Raw, b, vs)
						case "os":
							return in.setStr(&e.Client.UserAgent.OS, b, vs)
						case "browser":
							return in.setStr(&e.Client.UserAgent.Browser, b, vs)
						}
						return notThere
					})
				case "geographicalContext":
					return object(b, vs, func(k []byte, vs int) int {
						if string(k) == "country" {
							return in.setStr(&e.Client.Geo.Country, b, vs)
						}
						return notThere
					})
				}
				return notThere
			})
		case "device":
			var d deviceInfo
			end := object(b, vs, func(k []byte, vs int) int {
				switch string(k) {
				case "id":
					return in.setStr(&d.ID, b, vs)
				case "name":
					return in.setStr(&d.Name, b, vs)
				case "os_platform":
					return in.setStr(&d.OSPlatform, b, vs)
				}
				return notThere
			})
			if end >= 0 {
				e.Device = &d
			}
			return end
		case "authenticationContext":
			return object(b, vs, func(k []byte, vs int) int {
				switch string(k) {
				case "credentialType":
					return in.setStr(&e.AuthContext.CredentialType, b, vs)
				case "externalSessionId":
					return setStr(&e.AuthContext.ExternalSessionID, b, vs)
				}
				return notThere
			})
		case "securityContext":
			return object(b, vs, func(k []byte, vs int) int {
				switch string(k) {
				case "asNumber":
					return setScalar(&e.Security.ASNumber, b, vs)
				case "asOrg":
					return in.setStr(&e.Security.ASOrg, b, vs)
				}
				return notThere
			})
		case "outcome":
			return object(b, vs, func(k []byte, vs int) int {
				switch string(k) {
				case "result":
					return in.setStr(&e.Outcome.Result, b, vs)
				case "reason":
					return in.setStr(&e.Outcome.Reason, b, vs)
				}
				return notThere
			})
		case "target":
			e.Target = e.Target[:0]
			return array(b, vs, func(es int) int {
				var t target
				end := object(b, es, func(k []byte, vs int) int {
					if string(k) == "detailEntry" {
						return object(b, vs, func(k []byte, vs int) int {
							if string(k) == "methodTypeUsed" {
								return setScalar(&t.MethodTypeUsed, b, vs)
							}
							return notThere
						})
					}
					return in.setEntity(&t.entity, k, b, vs)
				})
				if end >= 0 {
					e.Target = append(e.Target, t)
				}
				return end
			})
		case "transaction":
			return object(b, vs, func(k []byte, vs int) int {
				if string(k) == "id" {
					return setStr(&e.Transaction.ID, b, vs)
				}
				return notThere
			})
		case "debugContext":
			return object(b, vs, func(k []byte, vs int) int {
				if string(k) != "debugData" {
					return notThere
				}
				return object(b, vs, func(k []byte, vs int) int {
					switch string(k) {
					case "factor":
						return setScalar(&e.Debug.Factor, b, vs)
					case "detectionId":
						return setScalar(&e.Debug.DetectionID, b, vs)
					case "level":
						return setScalar(&e.Debug.Level, b, vs)
					case "groupBy":
						return setScalar(&e.Debug.GroupBy, b, vs)
					case "status":
						return setScalar(&e.Debug.Status, b, vs)
					case "note":
						return setScalar(&e.Debug.Note, b, vs)
					}
					return notThere
				})
			})
		}
		return notThere
	}) >= 0
}
