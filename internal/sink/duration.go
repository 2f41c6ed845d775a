package sink

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that destination configs read and write as a
// Go duration string ("10s", "5m", "1h30m"), as the house config style asks.
// A bare JSON number is refused: its unit would be a guess.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration string such as "10s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a value such as \"10s\" or \"5m\"", b)
	}
	*d = Duration(v)
	return nil
}
