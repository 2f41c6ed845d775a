package wire

import (
	"encoding/json"
	"time"
)

// OktaTime is the format of the times in Okta's API objects: UTC with
// milliseconds.
const OktaTime = "2006-01-02T15:04:05.000Z07:00"

// Time is a time written in Okta's format (OktaTime, in UTC), the zero
// time included. It reads any RFC 3339 time, and "" or null as the zero
// time.
type Time struct{ time.Time }

// MarshalJSON writes t in UTC with milliseconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(OktaTime) + `"`), nil
}

// UnmarshalJSON reads an RFC 3339 time; "" and null leave t zero.
func (t *Time) UnmarshalJSON(b []byte) error {
	tv, err := parseTime(b)
	if err != nil {
		return err
	}
	t.Time = tv
	return nil
}

// parseTime reads the JSON value b as an RFC 3339 time, taking "" and
// null as the zero time.
func parseTime(b []byte) (time.Time, error) {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return time.Time{}, err
	}
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, *s)
}

// decodeTimes decodes the JSON object b into v, the method-less form of a
// type, and its members named in times into those times, taking an RFC
// 3339 string and "" or null (unset) alike.
func decodeTimes(b []byte, v any, times map[string]*time.Time) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	parsed := make(map[*time.Time]time.Time, len(times))
	for name, t := range times {
		raw, ok := members[name]
		if !ok {
			continue
		}
		delete(members, name)
		tv, err := parseTime(raw)
		if err != nil {
			return err
		}
		parsed[t] = tv
	}
	rest, err := json.Marshal(members)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(rest, v); err != nil {
		return err
	}
	for t, tv := range parsed {
		*t = tv
	}
	return nil
}
