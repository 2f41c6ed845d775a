// Package secret provides a string type for credentials that redacts itself
// wherever a value is printed, logged or marshalled, so that a config struct
// holding passwords, API keys or signing secrets can be logged or returned by
// the API as it is.
//
// Reading is the other way round: JSON, YAML and text decoding accept the
// plain value. Code that needs the credential calls Reveal, which makes every
// use easy to find. Code that persists a config and must keep the secret (a
// KV store, say) cannot marshal it as it is: it has to store Reveal's value
// explicitly.
//
// The package also holds the rest of the handling of write-only settings:
// Fields, Strip and Carry keep secrets out of API answers and decide when
// an update may keep a stored secret (only while its destination stays on
// the same scheme, host and port), and Keyring encrypts records at rest
// with keys the operator provides.
package secret

import "log/slog"

// Redacted is what a non-empty String shows instead of its value.
const Redacted = "********"

// String is a credential. Its zero value is "not set". It shows as Redacted
// when set and as "" when not, so a reader can still tell whether a secret
// is configured without seeing it.
type String string

// Reveal returns the credential itself.
func (s String) Reveal() string { return string(s) }

// IsZero reports whether the secret is unset (used by YAML omitempty).
func (s String) IsZero() bool { return s == "" }

// String returns Redacted, or "" when the secret is unset. It is what fmt's
// %v, %s and %q print.
func (s String) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString redacts %#v the same way.
func (s String) GoString() string { return `secret.String("` + s.String() + `")` }

// LogValue redacts the secret in log/slog output.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in JSON, YAML and any other encoder that
// uses encoding.TextMarshaler.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts the plain credential.
func (s *String) UnmarshalText(b []byte) error {
	*s = String(b)
	return nil
}
