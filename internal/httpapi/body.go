package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	// compress/gzip's format and API, inflating faster (BenchmarkIngestRead
	// ndjson-gzip: about 0.4 µs less CPU per 1.4 KB event); archive and
	// client use it too.
	"github.com/klauspost/compress/gzip"
)

// Limits bound what the push-ingest endpoints accept.
type Limits struct {
	// MaxBody is the largest request body, after decompression.
	MaxBody int64
	// MaxEvent is the largest single event.
	MaxEvent int
	// MaxEvents is the most events in one ingest request.
	MaxEvents int
}

// DefaultLimits are chosen so that one request stays well within memory
// and a single event fits every destination (CloudWatch Logs allows 1 MB).
var DefaultLimits = Limits{MaxBody: 10 << 20, MaxEvent: 256 << 10, MaxEvents: 10000}

// TooManyEvents is the 413 of a request with more than max events.
func TooManyEvents(max int) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "Too many events in one request").
		WithCauses(fmt.Sprintf("at most %d events per request", max))
}

// MaxControlBody bounds bodies of control-plane requests (DecodeBody).
const MaxControlBody = 1 << 20

// ReadControlBody reads a control-plane request body of any media type
// (a rule file, a JSON document), answering Okta errors: 413 for a body
// larger than MaxControlBody, 400 for one that cannot be read.
func ReadControlBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxControlBody+1))
	if err != nil {
		return nil, Malformed(err.Error())
	}
	if len(body) > MaxControlBody {
		return nil, Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "Request body too large").
			WithCauses(fmt.Sprintf("at most %d bytes", MaxControlBody))
	}
	return body, nil
}

// DecodeBody reads a JSON request body of at most MaxControlBody bytes
// into v, strictly (unknown members are errors) when strict is set,
// answering Okta errors: 415 for another media type, 413 for a body too
// large, 400 for one that does not decode.
func DecodeBody(r *http.Request, v any, strict bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupported, "Unsupported media type %q", ct).
			WithCauses("send application/json")
	}
	body, err := ReadControlBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return Malformed(err.Error())
	}
	return nil
}

// Push is what a push-ingest endpoint (POST /api/v1/events, the
// EventBridge receiver) accepts.
type Push struct {
	// MaxBody is the largest body, after decompression.
	MaxBody int64
	// Types are the media types accepted; the first is the one a request
	// without Content-Type is read as, when Untyped is set.
	Types []string
	// Untyped accepts a request that sends no Content-Type.
	Untyped bool
	// Hint is the cause of the 415 for another media type: what to send.
	Hint string
}

// ReadPush checks a push request's media type and reads its body, gzip
// or not, up to p.MaxBody bytes after decompression. It returns the media
// type (without parameters) and the body, or the Okta error to answer:
// 415 for a media type or content encoding not accepted, 413 for a body
// too large (before reading it when Content-Length says so), 400 for a
// broken gzip stream or a body that cannot be read.
func ReadPush(r *http.Request, p Push) (mediaType string, body []byte, err error) {
	return (*Buffers)(nil).ReadPush(r, p)
}

// Buffers keeps the buffers of push-request bodies and the gzip readers
// for reuse across requests, so that a busy endpoint reads each body
// without allocating it anew. The zero value is ready to use; it is safe
// for concurrent use. A nil *Buffers reuses nothing.
type Buffers struct {
	bodies sync.Pool // *[]byte, cap at most MaxPooledBody
	gzips  sync.Pool // *gzip.Reader
}

// MaxPooledBody is the largest body buffer Buffers keeps: larger ones are
// left to the garbage collector, so rare huge requests do not stay in
// memory.
const MaxPooledBody = 4 << 20

// ReadPush is the function ReadPush, reading into a buffer of bufs: hand
// the body back with Release once nothing refers into it any more.
func (bufs *Buffers) ReadPush(r *http.Request, p Push) (mediaType string, body []byte, err error) {
	ct := r.Header.Get("Content-Type")
	mt, _, perr := mime.ParseMediaType(ct)
	switch {
	case ct == "" && p.Untyped && len(p.Types) > 0:
		mt = p.Types[0]
	case perr != nil || !slices.Contains(p.Types, mt):
		return "", nil, Errorf(http.StatusUnsupportedMediaType, CodeUnsupported, "Unsupported media type %q", ct).
			WithCauses(p.Hint)
	}
	body, err = bufs.readBody(r, p.MaxBody)
	if err != nil {
		return "", nil, err
	}
	return mt, body, nil
}

// Release hands back a body ReadPush returned, for another request to
// read into: the caller must not use it, nor anything pointing into it,
// afterwards. Releasing nil does nothing.
func (bufs *Buffers) Release(body []byte) {
	if bufs == nil || cap(body) == 0 || cap(body) > MaxPooledBody {
		return
	}
	body = body[:0]
	bufs.bodies.Put(&body)
}

// buffer returns an empty buffer with room for at least n bytes.
func (bufs *Buffers) buffer(n int) []byte {
	if bufs != nil {
		if b, ok := bufs.bodies.Get().(*[]byte); ok {
			return slices.Grow((*b)[:0], n)
		}
	}
	return make([]byte, 0, n)
}

// gunzip returns a gzip reader of src.
func (bufs *Buffers) gunzip(src io.Reader) (*gzip.Reader, error) {
	var zr *gzip.Reader
	if bufs != nil {
		zr, _ = bufs.gzips.Get().(*gzip.Reader)
	}
	if zr == nil {
		zr = new(gzip.Reader)
	}
	if err := zr.Reset(src); err != nil {
		bufs.putGzip(zr)
		return nil, err
	}
	return zr, nil
}

func (bufs *Buffers) putGzip(zr *gzip.Reader) {
	if bufs != nil {
		bufs.gzips.Put(zr)
	}
}

// readBody reads r's body, decompressing gzip, up to limit bytes.
func (bufs *Buffers) readBody(r *http.Request, limit int64) ([]byte, error) {
	tooLarge := func() error {
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge,
			"Request body too large").WithCauses(fmt.Sprintf("the body is larger than %d bytes", limit))
	}
	if r.ContentLength > limit && r.Header.Get("Content-Encoding") == "" {
		return nil, tooLarge()
	}
	var src io.Reader = http.MaxBytesReader(nil, r.Body, limit+1)
	size := 512 // a guess, when the request does not say
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if r.ContentLength > 0 && r.ContentLength <= limit {
			size = int(r.ContentLength) + 1 // room to see the end
		}
	case "gzip", "x-gzip":
		zr, err := bufs.gunzip(src)
		if err != nil {
			return nil, Malformed("gzip: " + err.Error())
		}
		defer bufs.putGzip(zr)
		src = zr
		if r.ContentLength > 0 {
			size = int(min(4*r.ContentLength, limit+1)) // audit JSON inflates 4 to 20 times
		}
	default:
		return nil, Errorf(http.StatusUnsupportedMediaType, CodeUnsupported, "Unsupported content encoding %q", enc).
			WithCauses("send gzip or no Content-Encoding")
	}
	buf := bufs.buffer(size)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				bufs.Release(buf)
				return nil, tooLarge()
			}
			buf = slices.Grow(buf, min(cap(buf), int(limit+1)-len(buf)))
		}
		// Read at most one byte past the limit.
		room := buf[len(buf):min(cap(buf), int(limit+1))]
		n, err := src.Read(room)
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			bufs.Release(buf)
			return nil, tooLarge()
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			bufs.Release(buf)
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge()
			}
			return nil, Malformed("read body: " + err.Error())
		}
	}
}

// ParseEqFilter reads the one-condition filter of Okta list endpoints:
// `field eq "value"`.
func ParseEqFilter(f string) (field, value string, ok bool) {
	parts := strings.SplitN(strings.TrimSpace(f), " ", 3)
	if len(parts) != 3 || parts[1] != "eq" {
		return "", "", false
	}
	v, err := strconv.Unquote(strings.TrimSpace(parts[2]))
	if err != nil {
		return "", "", false
	}
	return parts[0], v, true
}

// CompactJSON removes insignificant whitespace from raw (returned as it is
// when it is not valid JSON).
func CompactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// PushResult is the 202 answer of a push-ingest endpoint: how many events
// the journal stored, and how many it already had (same uuid).
type PushResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// Gate bounds the requests an endpoint serves at once; past it the answer
// is 429 with Retry-After, so producers back off instead of piling
// requests onto the journal.
type Gate chan struct{}

// NewGate returns a gate for n requests at once.
func NewGate(n int) Gate { return make(Gate, n) }

// Enter takes a place, or returns the 429 when none is free. The caller
// calls release once the request is done.
func (g Gate) Enter() (release func(), err error) {
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	default:
		return nil, &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimit,
			Summary: "API call exceeded rate limit due to too many requests.", RetryAfter: time.Second}
	}
}

// StatusOf is the HTTP status err is answered with: an *Error's, else 500.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
