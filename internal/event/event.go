// Package event defines the audit event record that flows through
// auditstream and the rules that turn a producer's JSON into one.
//
// An event is a JSON object shaped like an Okta LogEvent where it can be.
// Only three members are interpreted: eventType (required), uuid (generated
// when absent) and published (the time of receipt when absent). Every other
// member is kept exactly as sent, in the order sent; the stored bytes are
// the producer's JSON with insignificant whitespace removed and, where they
// were missing, uuid and published added at the front.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Record is one audit event, the one type that carries it from ingest
// through the journal to the query engine and the sinks.
type Record struct {
	// UUID identifies the event everywhere (journal de-duplication, sink
	// idempotency keys, query results); stable across retries and replays.
	UUID string
	// Seq is the event's position in the journal, set when read back (0
	// before it is stored): it increases in journal order and is unique
	// within the journal, so it names the range a batch covers. The
	// journal derives it from the message sequence and the event's index
	// in the message (journal.Position).
	Seq uint64
	// Org is the organisation the event belongs to.
	Org string
	// EventType is the dotted event type, e.g. user.session.start.
	EventType string
	// Published is when the event happened.
	Published time.Time
	// Source says where the event came from (the EventBridge envelope's
	// source); empty means the org's default.
	Source string
	// Account is the EventBridge envelope's account the event arrived
	// with; empty means the configured default.
	Account string
	// Data is the event's compact JSON. Records read from the journal
	// point into the journal message: readers must not modify it, and
	// copy it to keep it past the batch they were handed.
	Data []byte
}

// Limits bound what Parse accepts.
const (
	// MaxUUIDLen bounds uuid length; real uuids are 36 bytes.
	MaxUUIDLen = 128
	// MaxEventTypeLen bounds eventType length.
	MaxEventTypeLen = 256
	// MaxDepth bounds JSON nesting of an event.
	MaxDepth = 64
)

// ErrInvalid is wrapped by every validation error of Parse.
var ErrInvalid = errors.New("invalid event")

var orgRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidOrg reports whether name can be an org name: 1 to 64 letters,
// digits, '-' or '_' (it becomes a NATS subject token).
func ValidOrg(name string) bool { return orgRE.MatchString(name) }

// Parse validates one JSON event and returns it normalised: compact, with
// uuid and published filled in. now is the time of receipt.
func Parse(raw []byte, org string, now time.Time) (Record, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Record{}, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	f, err := scan(raw)
	if err != nil {
		return Record{}, err
	}
	ev := Record{Org: org}
	if ev.EventType, err = rawString(f.eventType, "eventType"); err != nil {
		return Record{}, err
	}
	if ev.EventType == "" {
		return Record{}, fmt.Errorf("%w: eventType is required", ErrInvalid)
	}
	if len(ev.EventType) > MaxEventTypeLen {
		return Record{}, fmt.Errorf("%w: eventType longer than %d bytes", ErrInvalid, MaxEventTypeLen)
	}
	if i := strings.IndexFunc(ev.EventType, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(ev.EventType[i:])
		return Record{}, fmt.Errorf("%w: eventType has a control character %q at byte %d", ErrInvalid, r, i)
	}
	if ev.UUID, err = rawString(f.uuid, "uuid"); err != nil {
		return Record{}, err
	}
	if f.uuid != nil && ev.UUID == "" {
		return Record{}, fmt.Errorf("%w: uuid must be a non-empty string (leave it out to have one generated)", ErrInvalid)
	}
	if len(ev.UUID) > MaxUUIDLen {
		return Record{}, fmt.Errorf("%w: uuid longer than %d bytes", ErrInvalid, MaxUUIDLen)
	}
	if err := checkUUID(ev.UUID); err != nil {
		return Record{}, err
	}
	pub, err := rawString(f.published, "published")
	if err != nil {
		return Record{}, err
	}
	if f.published != nil && pub == "" {
		return Record{}, fmt.Errorf("%w: published must be an RFC 3339 time (leave it out to use the time of receipt)", ErrInvalid)
	}
	if pub != "" {
		ev.Published, err = time.Parse(time.RFC3339Nano, pub)
		if err != nil {
			return Record{}, fmt.Errorf("%w: published %q is not an RFC 3339 time", ErrInvalid, pub)
		}
	}
	data := raw
	if f.loose {
		var buf bytes.Buffer
		buf.Grow(len(raw))
		if err := json.Compact(&buf, raw); err != nil {
			return Record{}, fmt.Errorf("%w: malformed JSON: %v", ErrInvalid, jsonErr(err))
		}
		data = buf.Bytes()
	}
	var add []byte
	if ev.UUID == "" {
		ev.UUID = uuid.NewString()
		add = fmt.Appendf(add, `"uuid":%q,`, ev.UUID)
	}
	if pub == "" {
		ev.Published = now.UTC()
		add = fmt.Appendf(add, `"published":%q,`, ev.Published.Format(TimeFormat))
	}
	if len(add) > 0 {
		out := make([]byte, 0, len(data)+len(add))
		out = append(out, '{')
		out = append(out, add...)
		out = append(out, data[1:]...)
		data = out
	}
	ev.Data = data
	return ev, nil
}

// CheckObject reports whether raw is one JSON object that Parse's rules of
// form accept: I-JSON (RFC 7493: unique member names, UTF-8, no unpaired
// surrogates), nested at most MaxDepth levels. It is for JSON that wraps
// events (an EventBridge envelope), so that every reader agrees on it too.
func CheckObject(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	_, err := scan(raw)
	return err
}

// WithUUID returns raw (a JSON object) with "uuid": id added at the front
// when it has no uuid member, so that an event that arrives again under
// the same outside id (an EventBridge event id) gets the same uuid. raw is
// returned as it is when id is empty or raw is not an object.
func WithUUID(raw []byte, id string) []byte {
	d := bytes.TrimSpace(raw)
	if id == "" || len(d) == 0 || d[0] != '{' {
		return raw
	}
	if f, err := scan(d); err != nil || f.uuid != nil {
		return raw
	}
	idJSON, _ := json.Marshal(id)
	rest := bytes.TrimSpace(d[1:])
	out := append([]byte(`{"uuid":`), idJSON...)
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// checkUUID refuses uuids that cannot travel as a message id and header
// unchanged: the journal de-duplicates on "<org>/<uuid>" and carries the
// uuid in a NATS header, where control characters (a CR LF becomes two
// spaces), spaces and the subject wildcards '*' and '>' have meanings of
// their own. A uuid is printable ASCII other than those.
func checkUUID(id string) error {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '*' || c == '>' {
			return fmt.Errorf("%w: uuid has %q at byte %d: use printable ASCII without spaces, '*' or '>'", ErrInvalid, c, i)
		}
	}
	return nil
}

// TimeFormat is how auditstream writes times into events: Okta's
// millisecond RFC 3339 form.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	return err.Error()
}

// Subject returns the journal subject for an event: audit.<org>.<eventType>
// with each dot-separated part of eventType turned into a valid subject
// token (characters other than letters, digits, '-' and '_' become '_').
func Subject(org, eventType string) string {
	var b strings.Builder
	b.Grow(7 + len(org) + len(eventType))
	b.WriteString("audit.")
	b.WriteString(org)
	for _, part := range strings.Split(eventType, ".") {
		b.WriteByte('.')
		if part == "" {
			b.WriteByte('_')
			continue
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
				b.WriteByte(c)
			} else {
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}
