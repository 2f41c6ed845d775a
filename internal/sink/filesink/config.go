package filesink

import (
	"cmp"
	"path/filepath"
	"regexp"
	"time"

	"github.com/auditstream/auditstream/internal/exportdigest"
	"github.com/auditstream/auditstream/internal/sink"
)

// Defaults for the settings a stream leaves out.
const (
	// DefaultPrefix starts every file name.
	DefaultPrefix = "events"
	// DefaultMaxBytes is the size at which a file is finished: large
	// enough for few files, small enough to ship or open comfortably.
	DefaultMaxBytes = 100 << 20
	// DefaultMaxAge is the age at which a file is finished, so consumers
	// see events at least hourly on a busy stream.
	DefaultMaxAge = time.Hour

	// minMaxBytes and minMaxAge stop a typo from making a file per event.
	minMaxBytes = 1 << 10
	minMaxAge   = time.Second
)

// Config is the settings of a stream of type "file".
type Config struct {
	// Dir is the directory the files go to, created when missing: an
	// absolute path, or, when the sink is given a base directory
	// (sink.Deps.Egress: a tenant's directory under fileRoots), a path relative
	// to it that does not leave it.
	Dir string `json:"dir"`
	// Prefix starts every file name (default "events"): letters, digits,
	// '.', '_' and '-', at most 64.
	Prefix string `json:"prefix,omitempty"`
	// MaxBytes is the size at which a file is finished (default 100 MiB).
	// An event larger than that gets a file of its own.
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// MaxAge is the age at which a file is finished, e.g. "1h" (default).
	MaxAge sink.Duration `json:"maxAge,omitempty"`
	// Fsync makes every write wait until the events are on disk (default
	// true). Off, a machine crash can lose acknowledged events.
	Fsync *bool `json:"fsync,omitempty"`
	// Digests lists every finished file, with its SHA-256, in signed
	// digests under <dir>/_digest/ every interval (default "1h") while
	// files are finished; "off": true turns them off. See
	// docs/integrity-exports.md.
	Digests exportdigest.Settings `json:"digests,omitzero"`
}

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// withDefaults returns c with every unset setting at its default.
func (c Config) withDefaults() Config {
	c.Prefix = cmp.Or(c.Prefix, DefaultPrefix)
	c.MaxBytes = cmp.Or(c.MaxBytes, DefaultMaxBytes)
	c.MaxAge = cmp.Or(c.MaxAge, sink.Duration(DefaultMaxAge))
	c.Fsync = cmp.Or(c.Fsync, new(true))
	return c
}

// Validate reports every problem with c at once. Unset settings are valid:
// they take their defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs sink.Problems
	switch {
	case c.Dir == "":
		errs.Addf("dir: required")
	case !filepath.IsAbs(c.Dir):
		errs.Addf("dir %q: want an absolute path", c.Dir)
	}
	if !prefixPattern.MatchString(c.Prefix) {
		errs.Addf("prefix %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Prefix)
	}
	if c.MaxBytes < minMaxBytes {
		errs.Addf("maxBytes %d: want at least %d", c.MaxBytes, minMaxBytes)
	}
	if c.MaxAge.D() < minMaxAge {
		errs.Addf("maxAge %v: want at least %v", c.MaxAge, minMaxAge)
	}
	errs.Add(c.Digests.Validate())
	return errs.Err()
}
