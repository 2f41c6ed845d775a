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

// field is one member of a JSON object that parseEvent keeps: its name and
// what to do with its value. The rows below are the event's members the
// fold reads, one line each, instead of a switch per nested object.
type field struct {
	name string
	set  func(v []byte)
}

// text keeps the member name, a JSON string, in dst.
func text(name string, dst *string) field {
	return field{name, func(v []byte) { *dst = str(v) }}
}

// number keeps the member name, a JSON string or a number as written, in
// dst.
func number(name string, dst *string) field {
	return field{name, func(v []byte) { *dst = scalar(v) }}
}

// object reads the member name, a JSON object, with the rows fs.
func object(name string, fs ...field) field {
	return field{name, func(v []byte) { assign(v, fs...) }}
}

// assign hands each member of obj to the first row of fs that names it;
// members no row names are passed over. It reports false when obj is not
// an object.
func assign(obj []byte, fs ...field) bool {
	return members(obj, func(k, v []byte) {
		for _, f := range fs {
			if is(k, f.name) {
				f.set(v)
				return
			}
		}
	})
}

// parseEvent reads the members a profile needs from an event's JSON; false
// when it is not a JSON object.
func parseEvent(data []byte, e *logEvent) bool {
	return assign(data,
		text("uuid", &e.UUID),
		text("eventType", &e.EventType),
		text("displayMessage", &e.DisplayMessage),
		object("actor",
			text("id", &e.Actor.ID),
			text("type", &e.Actor.Type),
			text("alternateId", &e.Actor.AlternateID),
			text("displayName", &e.Actor.DisplayName)),
		object("client",
			text("ipAddress", &e.Client.IPAddress),
			object("userAgent",
				text("rawUserAgent", &e.Client.UserAgent.Raw),
				text("os", &e.Client.UserAgent.OS),
				text("browser", &e.Client.UserAgent.Browser)),
			object("geographicalContext", text("country", &e.Client.Geo.Country))),
		field{"device", func(v []byte) {
			var d deviceInfo
			if assign(v,
				text("id", &d.ID),
				text("name", &d.Name),
				text("os_platform", &d.OSPlatform)) {
				e.Device = &d
			}
		}},
		object("authenticationContext",
			text("credentialType", &e.AuthContext.CredentialType),
			text("externalSessionId", &e.AuthContext.ExternalSessionID)),
		object("securityContext",
			number("asNumber", &e.Security.ASNumber),
			text("asOrg", &e.Security.ASOrg)),
		object("outcome",
			text("result", &e.Outcome.Result),
			text("reason", &e.Outcome.Reason)),
		field{"target", func(v []byte) {
			e.Target = e.Target[:0]
			elements(v, func(v []byte) {
				var t target
				if assign(v,
					text("id", &t.ID),
					text("type", &t.Type),
					text("alternateId", &t.AlternateID),
					text("displayName", &t.DisplayName),
					object("detailEntry", number("methodTypeUsed", &t.MethodTypeUsed))) {
					e.Target = append(e.Target, t)
				}
			})
		}},
		object("transaction", text("id", &e.Transaction.ID)),
		object("debugContext", object("debugData",
			number("factor", &e.Debug.Factor),
			number("detectionId", &e.Debug.DetectionID),
			number("level", &e.Debug.Level),
			number("groupBy", &e.Debug.GroupBy),
			number("status", &e.Debug.Status),
			number("note", &e.Debug.Note))),
	)
}
