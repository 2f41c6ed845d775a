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
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

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
	// Spans says where in Data the actor and target members are, as
	// the ingest parser found them; the journal carries them, so that
	// readers need not walk the JSON for them. Whoever changes Data must
	// reset Spans (the zero value: not known).
	Spans Spans
}

// Spans are the bounds in an event's Data of the values of the top-level
// members that readers look up in every event: "actor" and "target" (the
// query index's people). Parse fills them as its one scan meets the
// members, so they cost no extra pass; the journal stores them in its
// record batches (journal.Decode fills them again).
//
// The zero Spans is "not known" (a record built by other means, an event
// read from a journal written before the spans): readers then walk the
// JSON. When Known, a zero Span means the member is absent. Member names
// are compared after unescaping, as every reader compares them, and Parse
// refuses duplicate members, so a span is the one member a walk finds.
type Spans struct {
	Actor, Target Span
	// Known is true when Actor and Target were recorded for this Data.
	Known bool
}

// Span is one value in an event's Data: Data[Start:End]. The zero Span
// is no value (a value never starts at 0, where the object opens).
type Span struct{ Start, End uint32 }

// Of returns the actor and target values in data (nil for an absent
// member), or ok false when the spans are not known or do not fit data:
// the caller then finds the members by walking data.
func (s *Spans) Of(data []byte) (actor, target []byte, ok bool) {
	if !s.Known {
		return nil, nil, false
	}
	actor, ok = s.Actor.of(data)
	if !ok {
		return nil, nil, false
	}
	target, ok = s.Target.of(data)
	if !ok {
		return nil, nil, false
	}
	return actor, target, true
}

// of is Of for one span: nil for the zero span, ok false when it does
// not fit data.
func (s Span) of(data []byte) ([]byte, bool) {
	switch {
	case s == Span{}:
		return nil, true
	case s.Start == 0 || s.Start >= s.End || uint64(s.End) > uint64(len(data)):
		return nil, false
	}
	return data[s.Start:s.End:s.End], true
}

// Fits reports whether the spans fit an event of n bytes, as Of checks
// them (not known spans fit any event).
func (s *Spans) Fits(n int) bool {
	if !s.Known {
		return true
	}
	return s.Actor.fits(n) && s.Target.fits(n)
}

// fits is Fits for one span.
func (s Span) fits(n int) bool {
	return s == Span{} || s.Start > 0 && s.Start < s.End && uint64(s.End) <= uint64(n)
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
// uuid and published filled in. now is the time of receipt. Data may point
// into raw (when raw is compact and complete already); the strings do not.
func Parse(raw []byte, org string, now time.Time) (Record, error) {
	return (*Parser)(nil).Parse(raw, org, now)
}

// Parse is the function Parse for a caller that parses many events (an
// ingest request): the same rules, errors and results, but the strings of
// the records (uuid, eventType) and the rewritten JSON of events that need
// it are cut from blocks the parser allocates now and then, and the event
// types it has seen are shared, so that the common event costs no
// allocation. A nil *Parser allocates each result on its own.
func (p *Parser) Parse(raw []byte, org string, now time.Time) (Record, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return Record{}, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	f, err := scan(raw)
	if err != nil {
		return Record{}, err
	}
	return p.record(raw, f, org, now)
}

// ParseObject parses the JSON object at the start of raw as Parse does
// and returns it and its length in raw; what follows it is not looked at.
// It is for events inside other JSON (the elements of an array), which
// are then parsed in the one pass. Errors name byte offsets in raw.
func (p *Parser) ParseObject(raw []byte, org string, now time.Time) (Record, int, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return Record{}, 0, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	s := scanner{raw: raw}
	end, err := s.object(0, 1)
	if err != nil {
		return Record{}, 0, err
	}
	ev, err := p.record(raw[:end], s.f, org, now)
	return ev, end, err
}

// record checks the members Parse interprets, of raw (one object that
// scan accepted, whose members f holds), and builds the record.
func (p *Parser) record(raw []byte, f fields, org string, now time.Time) (Record, error) {
	ev := Record{Org: org}
	et, err := rawString(f.eventType, "eventType")
	if err != nil {
		return Record{}, err
	}
	if ev.EventType, err = p.eventType(et); err != nil {
		return Record{}, err
	}
	id, err := optionalString(f.uuid, "uuid", "a non-empty string (leave it out to have one generated)")
	if err != nil {
		return Record{}, err
	}
	if len(id) > MaxUUIDLen {
		return Record{}, fmt.Errorf("%w: uuid longer than %d bytes", ErrInvalid, MaxUUIDLen)
	}
	if err := checkUUID(id); err != nil {
		return Record{}, err
	}
	pub, err := optionalString(f.published, "published", "an RFC 3339 time (leave it out to use the time of receipt)")
	if err != nil {
		return Record{}, err
	}
	if len(pub) > 0 {
		// The text is only read: time.Parse keeps it in nothing it
		// returns but its error, which is dropped.
		ev.Published, err = time.Parse(time.RFC3339Nano, unsafe.String(&pub[0], len(pub)))
		if err != nil {
			return Record{}, fmt.Errorf("%w: published %q is not an RFC 3339 time", ErrInvalid, string(pub))
		}
	}
	// The stored form: members added at the front, then raw compacted.
	var add [len(`"uuid":"","published":"",`) + uuidLen + len(TimeFormat) + 8]byte
	head := add[:0]
	if len(id) == 0 {
		head = append(head, `"uuid":"`...)
		if p == nil {
			head = append(head, uuid.NewString()...)
		} else {
			head = p.appendUUID(head)
		}
		ev.UUID = p.str(head[len(`"uuid":"`):])
		head = append(head, `",`...)
	} else {
		ev.UUID = p.str(id)
	}
	if len(pub) == 0 {
		ev.Published = now.UTC()
		head = append(head, `"published":"`...)
		head = ev.Published.AppendFormat(head, TimeFormat)
		head = append(head, `",`...)
	}
	ev.Data = raw
	ev.Spans = Spans{Actor: span(f.actor, 0), Target: span(f.target, 0), Known: true}
	if f.loose || len(head) > 0 {
		out := p.grab(len(raw) + len(head))
		out = append(out, '{')
		out = append(out, head...)
		if f.loose {
			out, ev.Spans = appendCompactSpans(out, raw, &f)
		} else {
			out = append(out, raw[1:]...)
			ev.Spans.Actor, ev.Spans.Target = span(f.actor, len(head)), span(f.target, len(head))
		}
		ev.Data = out
	}
	if uint64(len(ev.Data)) > math.MaxUint32 {
		ev.Spans = Spans{}
	}
	return ev, nil
}

// span is the Span of the bounds b, shifted by shift bytes (the members
// added at the front); {0, 0} stays the zero Span.
func span(b [2]int, shift int) Span {
	if b[1] == 0 {
		return Span{}
	}
	return Span{uint32(b[0] + shift), uint32(b[1] + shift)}
}

// appendCompactSpans is appendCompact of raw[1:] (one object that scan
// accepted, whose members f holds) that also returns the Spans of f's
// members in the result out. The members' bounds are token boundaries,
// outside every string, so compacting piece by piece between them gives
// the bytes of compacting in one go.
func appendCompactSpans(out, raw []byte, f *fields) ([]byte, Spans) {
	sp := Spans{Known: true}
	first, second := &f.actor, &f.target
	a, t := &sp.Actor, &sp.Target
	if first[1] == 0 || second[1] != 0 && second[0] < first[0] {
		first, second, a, t = second, first, t, a
	}
	from := 1
	dsts := [2]*Span{a, t}
	for k, b := range [2]*[2]int{first, second} {
		if b[1] == 0 {
			continue
		}
		dst := dsts[k]
		out = appendCompact(out, raw[from:b[0]])
		dst.Start = uint32(len(out))
		out = appendCompact(out, raw[b[0]:b[1]])
		dst.End = uint32(len(out))
		from = b[1]
	}
	return appendCompact(out, raw[from:]), sp
}

// Parser is reusable state for parsing many events (see Parser.Parse).
// The zero value is ready to use. A Parser is not safe for concurrent use;
// it may be reused after what it returned is dropped or not: it never
// writes again to memory it handed out.
type Parser struct {
	// strs is the block strings are cut from: past len it is free.
	strs []byte
	// data is the block rewritten events are cut from: past len it is
	// free.
	data []byte
	// types are the event types seen (at most maxTypes), which passed
	// the checks.
	types map[string]string
	// rnd holds random bytes for generated uuids; the last rndLeft are
	// unused.
	rnd     [16 * 32]byte
	rndLeft int
}

// Sizes of a Parser's blocks, and how many event types it remembers.
const (
	strBlock  = 4 << 10
	dataBlock = 64 << 10
	maxTypes  = 1024
	uuidLen   = 36
)

// str returns b as a string that does not share memory with b.
func (p *Parser) str(b []byte) string {
	if p == nil || len(b) == 0 || len(b) > strBlock/16 {
		return string(b)
	}
	if len(b) > cap(p.strs)-len(p.strs) {
		p.strs = make([]byte, 0, strBlock)
	}
	n := len(p.strs)
	p.strs = append(p.strs, b...)
	// Bytes the block handed out are never written again.
	return unsafe.String(&p.strs[n], len(b))
}

// grab returns an empty slice with room for n bytes, which belong to the
// caller alone.
func (p *Parser) grab(n int) []byte {
	if p == nil || n > dataBlock/4 {
		return make([]byte, 0, n)
	}
	if n > cap(p.data)-len(p.data) {
		p.data = make([]byte, 0, dataBlock)
	}
	l := len(p.data)
	p.data = p.data[:l+n]
	return p.data[l : l : l+n]
}

// eventType checks the decoded eventType t and returns it as a string,
// the one it returned before for the same type when it can.
func (p *Parser) eventType(t []byte) (string, error) {
	if p != nil {
		if s, ok := p.types[string(t)]; ok {
			return s, nil
		}
	}
	if len(t) == 0 {
		return "", fmt.Errorf("%w: eventType is required", ErrInvalid)
	}
	if len(t) > MaxEventTypeLen {
		return "", fmt.Errorf("%w: eventType longer than %d bytes", ErrInvalid, MaxEventTypeLen)
	}
	if i := bytes.IndexFunc(t, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRune(t[i:])
		return "", fmt.Errorf("%w: eventType has a control character %q at byte %d", ErrInvalid, r, i)
	}
	s := string(t)
	if p != nil && len(p.types) < maxTypes {
		if p.types == nil {
			p.types = make(map[string]string)
		}
		p.types[s] = s
	}
	return s, nil
}

// appendUUID appends a random (version 4) UUID in its 36-character form.
func (p *Parser) appendUUID(dst []byte) []byte {
	if p.rndLeft < 16 {
		_, _ = rand.Read(p.rnd[:]) // never fails (crypto/rand)
		p.rndLeft = len(p.rnd)
	}
	var u [16]byte
	copy(u[:], p.rnd[len(p.rnd)-p.rndLeft:])
	p.rndLeft -= 16
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant RFC 4122
	const hexDigits = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}

// appendCompact appends src, JSON that scan accepted, without the white
// space outside strings.
func appendCompact(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case ' ', '\t', '\n', '\r':
		case '"':
			j := i + 1
			for src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			dst = append(dst, src[i:j+1]...)
			i = j
		default:
			dst = append(dst, c)
		}
	}
	return dst
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
func checkUUID(id []byte) error {
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
