package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/auditstream/auditstream/internal/jsonmap"
)

// Fields says which settings of a type are write-only secrets and which
// say where those secrets are sent. Each settings type declares its own,
// next to the code that reads them.
type Fields struct {
	// Secrets are the write-only settings, as dotted paths
	// ("auth.password").
	Secrets []string
	// Destination are the settings (dotted paths) that address the place
	// the secrets are presented to: a URL or list of URLs ("url", "urls",
	// "auth.tokenUrl"), or a value that picks the host, such as an AWS
	// region or a Datadog site. URLs compare by scheme, host and port;
	// other values as they are (strings ignoring case).
	Destination []string
}

// ErrResend is wrapped by Carry's errors for secrets that an update must
// send again because the destination changed.
var ErrResend = errors.New("must be sent again")

// Strip removes the settings at dotted paths (the write-only secrets)
// from a JSON object, for showing it.
func Strip(raw json.RawMessage, paths []string) (json.RawMessage, error) {
	if len(paths) == 0 || len(raw) == 0 {
		return raw, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for _, p := range paths {
		jsonmap.Delete(m, strings.Split(p, "."))
	}
	return json.Marshal(m)
}

// Carry copies each of f.Secrets from old into raw where raw lacks it or
// holds the Redacted mark: secrets are write-only, so an update that leaves
// them out (or sends back "********") keeps them.
//
// It does so only while the destination stays where it was. When a
// setting of f.Destination changes its scheme, host or port (or, for a
// value that is not a URL, its value), a stored secret the update does not
// send again is not carried to the new place: Carry returns an error
// wrapping ErrResend for each, joined, such as "settings.auth.password
// must be sent again because settings.url changed host". A path change on
// the same host keeps the secrets. Sending "" for a secret clears it.
func Carry(raw, old json.RawMessage, f Fields) (json.RawMessage, error) {
	if len(f.Secrets) == 0 || len(old) == 0 {
		return raw, nil
	}
	var m, o map[string]any
	if len(raw) == 0 {
		m = map[string]any{}
	} else if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, err
	}
	moved := changes(o, m, f.Destination)
	var errs []error
	for _, p := range f.Secrets {
		parts := strings.Split(p, ".")
		v, ok := jsonmap.Get(o, parts)
		if !ok {
			continue
		}
		if nv, has := jsonmap.Get(m, parts); has && nv != Redacted {
			continue
		}
		if len(moved) > 0 {
			errs = append(errs, fmt.Errorf("settings.%s %w because %s", p, ErrResend, strings.Join(moved, " and ")))
			continue
		}
		jsonmap.Set(m, parts, v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return json.Marshal(m)
}

// DestinationChanges compares the destination settings (dotted paths) of
// two settings objects and describes each that now points elsewhere, such
// as "settings.url changed host".
func DestinationChanges(old, updated json.RawMessage, paths []string) ([]string, error) {
	var o, n map[string]any
	if len(old) > 0 {
		if err := json.Unmarshal(old, &o); err != nil {
			return nil, err
		}
	}
	if len(updated) > 0 {
		if err := json.Unmarshal(updated, &n); err != nil {
			return nil, err
		}
	}
	return changes(o, n, paths), nil
}

func changes(o, n map[string]any, paths []string) []string {
	var out []string
	for _, p := range paths {
		parts := strings.Split(p, ".")
		ov, _ := jsonmap.Get(o, parts)
		nv, _ := jsonmap.Get(n, parts)
		if what, changed := compare(ov, nv); changed {
			out = append(out, strings.TrimSpace("settings."+p+" changed "+what))
		}
	}
	return out
}

// compare reports whether a and b address different places and, for
// URLs, what differs ("scheme", "host", "port").
func compare(a, b any) (string, bool) {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		ua, uaok := origin(as)
		ub, ubok := origin(bs)
		if uaok && ubok {
			var diff []string
			if ua.scheme != ub.scheme {
				diff = append(diff, "scheme")
			}
			if ua.host != ub.host {
				diff = append(diff, "host")
			}
			if ua.port != ub.port {
				diff = append(diff, "port")
			}
			return strings.Join(diff, " and "), len(diff) > 0
		}
		return "", !strings.EqualFold(strings.TrimSpace(as), strings.TrimSpace(bs))
	}
	if aa, ok := a.([]any); ok {
		if ba, ok := b.([]any); ok {
			return "hosts", !slices.Equal(normalised(aa), normalised(ba))
		}
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return "", !bytes.Equal(ja, jb)
}

// normalised maps a list of URLs (or values) to sorted, distinct origins.
func normalised(vs []any) []string {
	var out []string
	for _, v := range vs {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			out = append(out, string(b))
			continue
		}
		if o, ok := origin(s); ok {
			out = append(out, o.scheme+"://"+o.host+":"+o.port)
		} else {
			out = append(out, strings.ToLower(strings.TrimSpace(s)))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type originParts struct{ scheme, host, port string }

// origin reads an absolute URL's scheme, host (lower case, without a
// trailing dot) and port (the scheme's default when none is written).
func origin(s string) (originParts, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return originParts{}, false
	}
	o := originParts{scheme: strings.ToLower(u.Scheme), host: strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), port: u.Port()}
	if o.port == "" {
		switch o.scheme {
		case "http":
			o.port = "80"
		case "https":
			o.port = "443"
		}
	}
	return o, true
}
