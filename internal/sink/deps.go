package sink

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Deps are what every destination gets from its surroundings: the same
// things for all of them. Every field is optional.
type Deps struct {
	// HTTPClient sends the destination's requests (AWS SDK clients
	// included): the client of the stream owner's trust, whose dialer
	// applies the egress policy. A sink works on a copy that never follows
	// redirects (HTTPClient); nil means a client of the sink's own, whose
	// idle connections Close releases.
	HTTPClient *http.Client
	// Logger receives the sink's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock (Retry-After dates, signatures, file and object
	// names); nil means time.Now.
	Now func() time.Time
	// Egress says where the stream's owner may send events and write
	// files; nil allows everything.
	Egress Egress
	// Stream is the id of the stream the sink writes for; it names the
	// stream's digests. Empty outside a stream (a connection test, Lambda).
	Stream string
	// Signer signs the digests of exported objects (package exportdigest)
	// for destinations that keep objects (S3, files); nil writes none.
	Signer Signer
}

// Signer signs the digests of exported objects: Sign returns the id of
// the key it used and the Ed25519 signature of msg (integrity.Keyring is
// one; exportdigest.Signer is the same interface).
type Signer interface {
	Sign(msg []byte) (keyID string, sig []byte)
}

// DigestReporter is implemented by destinations that write signed digests
// of what they export (S3, files) from a goroutine of their own, outside
// Write: ReportDigests hands them the function each digest attempt's
// outcome goes to (the error, or nil once a digest was written). The stream
// runner calls it before the first Write and shows failures in the
// stream's status, a metric and the System Log.
type DigestReporter interface {
	ReportDigests(report func(err error))
}

// DigestFencer is implemented by destinations that write signed digests
// (S3, files): FenceDigests hands them the function that reports that the
// stream's lease ran out, so that another node may own the stream now.
// While it says so the destination writes no digest, from its timer or at
// Close: an owner paused or cut off past its lease that wakes up must not
// fork the chain its successor goes on with (the successor's recovery
// lists the objects it left in no digest). The stream runner calls it
// before the first Write.
type DigestFencer interface {
	FenceDigests(fenced func() bool)
}

// Egress is the policy a destination checks its targets with, as its
// stream's owner may use them. Names are judged again, on every address
// they resolve to, by the dialer of Deps.HTTPClient.
type Egress interface {
	// CheckURL refuses a URL the destination must not send to (this
	// service's own API, a loopback or metadata address for a tenant).
	CheckURL(u *url.URL) error
	// PlaceDir maps the directory a file destination names to where it
	// writes: base, when not "", is the directory rel is relative to and
	// may not leave (a tenant's directory under fileRoots).
	PlaceDir(dir string) (base, rel string, err error)
	// CheckDir refuses a directory (a full path) the destination must not
	// write in.
	CheckDir(dir string) error
	// AmbientCredentials refuses a destination that would sign its
	// requests with the server's own cloud credentials (the environment,
	// shared config or an instance role) instead of credentials of its
	// own: those are the operator's, not a tenant's.
	AmbientCredentials() error
}

// WithDefaults returns d with a discarding Logger and time.Now for the
// fields not set.
func (d Deps) WithDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}

// CheckURL asks Egress whether u may be sent to; the error wraps
// ErrForbiddenTarget, and shown is u as it may print (without secrets).
func (d Deps) CheckURL(u *url.URL, shown string) error {
	if d.Egress == nil {
		return nil
	}
	if err := d.Egress.CheckURL(u); err != nil {
		return fmt.Errorf("%s: %w: %w", shown, ErrForbiddenTarget, err)
	}
	return nil
}

// PlaceDir asks Egress where a file destination naming dir writes; without
// Egress dir is used as it is.
func (d Deps) PlaceDir(dir string) (base, rel string, err error) {
	if d.Egress == nil {
		return "", dir, nil
	}
	return d.Egress.PlaceDir(dir)
}

// CheckDir asks Egress whether dir may be written.
func (d Deps) CheckDir(dir string) error {
	if d.Egress == nil {
		return nil
	}
	return d.Egress.CheckDir(dir)
}

// CheckAmbientCredentials asks Egress whether the destination may use the
// server's own cloud credentials; without Egress it may.
func (d Deps) CheckAmbientCredentials() error {
	if d.Egress == nil {
		return nil
	}
	return d.Egress.AmbientCredentials()
}

// EgressFuncs is an Egress made of functions, for tests and tools; a nil
// function allows everything (and places a directory as it is).
type EgressFuncs struct {
	URL   func(*url.URL) error
	Place func(dir string) (base, rel string, err error)
	Dir   func(dir string) error
	// Ambient answers AmbientCredentials.
	Ambient func() error
}

// CheckURL implements Egress.
func (f EgressFuncs) CheckURL(u *url.URL) error {
	if f.URL == nil {
		return nil
	}
	return f.URL(u)
}

// PlaceDir implements Egress.
func (f EgressFuncs) PlaceDir(dir string) (string, string, error) {
	if f.Place == nil {
		return "", dir, nil
	}
	return f.Place(dir)
}

// CheckDir implements Egress.
func (f EgressFuncs) CheckDir(dir string) error {
	if f.Dir == nil {
		return nil
	}
	return f.Dir(dir)
}

// AmbientCredentials implements Egress.
func (f EgressFuncs) AmbientCredentials() error {
	if f.Ambient == nil {
		return nil
	}
	return f.Ambient()
}
