package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
)

// The journal's wire format lives in this file and nowhere else: other
// packages read events through Decode and name subjects through Subject and
// OrgSubjects.
//
// Version 2 (written since issue 12): one JetStream message holds a record
// batch, up to MaxBatchEvents events of one org from one append, on the
// subject audit.<org>, without headers:
//
//	"AR" batch version(=2) flags(1 byte)
//	org (uvarint length + bytes)
//	prev head (32 bytes, only with flag chained)
//	count (uvarint)
//	count × index entry: uuid, eventType, source, account (uvarint length
//	  + bytes each), published (varint Unix ns), data length (uvarint)
//	count × spans, in index order: 0 (not known) or the length of what
//	  follows (1 byte: 8 or 16), then actor start, actor length, target
//	  start, target length (little-endian, 16 or 32 bits each; start and
//	  length 0: absent)
//	the events' JSON, back to back in index order
//
// The index comes first, so readers route and filter without touching the
// JSON. The spans are event.Record.Spans, the bounds of the event's
// top-level actor and target values in its JSON, so that readers that
// look for them (the query index) need not walk the JSON either; they
// follow the index entries so that the copy Decode makes of the index's
// strings does not hold them. Batch version 1 (written from issue 12
// until the spans) has no spans; Decode reads it with the spans not
// known.
//
// Flag chained (0x01, written since issue 16) adds the org's hash chain
// head before the batch's first event (chain.go); batches without it
// (flags 0) are read as before and are outside the chain.
//
// Flag compressed (0x02, written since issue 12's fourth round unless
// journal.compression is none) says the events' JSON is one S2 block
// (github.com/klauspost/compress/s2, block format) instead of the events
// back to back; everything before it is as above, so readers route and
// filter without decompressing, and the chain is over the events' JSON,
// whichever way it is stored. The data lengths in the index add up to
// the block's decoded length. A writer sets it only when the block is
// smaller than the JSON.
//
// Version 1 (written before): one message per event on
// audit.<org>.<eventType tokens> with the Audit-* headers below and the
// message id <org>/<uuid>. Decode reads both, so a data directory written
// by an older release keeps working; version 1 messages leave with
// retention.
const (
	// MaxBatchEvents is the most events one record batch holds.
	MaxBatchEvents = 100
	// maxBatchBytes bounds a record batch's JSON; one larger event makes a
	// batch of its own.
	maxBatchBytes = 256 << 10
	// indexBits is how many low bits of a position hold the index in the
	// message (see Position).
	indexBits = 8
	// batchMagic and batchVersion open a version 2 message; batch
	// version 1 is still read (index entries without spans).
	batchMagic0, batchMagic1, batchVersion = 'A', 'R', 2
	batchVersionNoSpans                    = 1
	// flagChained marks a batch that carries its org's chain head.
	flagChained = 0x01
	// flagCompressed marks a batch whose events' JSON is an S2 block.
	flagCompressed = 0x02
	// maxPayload is the largest journal message, the embedded server's
	// max_payload; it also bounds a batch's JSON, stored or decoded.
	maxPayload = 8 << 20
	// minCompress is the least JSON a batch compresses: below it the
	// block would save less than its framing.
	minCompress = 64
)

// Compression is how the journal stores its record batches' JSON.
type Compression string

// The journal's compressions (Options.Compression).
const (
	// CompressS2 stores each batch's JSON as one S2 block (the default).
	CompressS2 Compression = "s2"
	// CompressNone stores the JSON as it is, readable by releases before
	// compression.
	CompressNone Compression = "none"
)

// Version 1 header names, read by Decode for messages written by older
// releases.
const (
	headerOrg       = "Audit-Org"
	headerType      = "Audit-Type"
	headerPublished = "Audit-Published"
	headerSource    = "Audit-Source"
	headerAccount   = "Audit-Account"
	headerUUID      = "Audit-UUID"
)

// AllSubjects is the subject filter of every org's events (of an
// unpartitioned journal; PartitionRoot).
const AllSubjects = "audit.>"

// Subject is the subject an org's record batches are written to (in an
// unpartitioned journal; PartitionSubject).
func Subject(org string) string { return "audit." + org }

// OrgSubjects is the subject filter of an org's events in both formats
// (audit.<org> for record batches, audit.<org>.> for version 1 messages);
// org "" means every org. It is for an unpartitioned journal
// (PartitionSubjects).
func OrgSubjects(org string) []string { return PartitionSubjects(0, 1, org) }

// PartitionRoot is the first subject token of partition part's events
// in a journal of n partitions: "audit" when n is 1 (the subjects of
// every release before partitions), "audit_p<part>" otherwise, so that
// each partition's stream has subjects of its own.
func PartitionRoot(part, n int) string {
	if n <= 1 {
		return "audit"
	}
	return "audit_p" + strconv.Itoa(part)
}

// PartitionSubject is the subject an org's record batches are written to
// in partition part of n.
func PartitionSubject(part, n int, org string) string { return PartitionRoot(part, n) + "." + org }

// PartitionSubjects is OrgSubjects in partition part of n.
func PartitionSubjects(part, n int, org string) []string {
	root := PartitionRoot(part, n)
	if org == "" {
		return []string{root + ".>"}
	}
	return []string{root + "." + org, root + "." + org + ".>"}
}

// OrgOfSubject returns the org a journal subject belongs to ("" if it is
// not one).
func OrgOfSubject(subject string) string {
	root, rest, ok := strings.Cut(subject, ".")
	if !ok || (root != "audit" && partitionOfRoot(root) < 0) {
		return ""
	}
	org, _, _ := strings.Cut(rest, ".")
	return org
}

// PartitionOfSubject is the partition a journal subject belongs to (0 for
// an unpartitioned journal's subjects).
func PartitionOfSubject(subject string) int {
	root, _, _ := strings.Cut(subject, ".")
	return max(partitionOfRoot(root), 0)
}

// partitionOfRoot parses "audit_p<n>" (-1 if root is not one).
func partitionOfRoot(root string) int {
	d, ok := strings.CutPrefix(root, "audit_p")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(d)
	if err != nil || n < 0 || n >= MaxPartitions {
		return -1
	}
	return n
}

// Position is an event's position (event.Record.Seq): the message's
// sequence shifted left by 8 bits plus the event's index in the message.
// It increases in journal order, also from a version 1 message (index 0)
// to the record batches after it. msgSeq may carry a partition in its top
// bits (PartitionSeq): the journal's partition is then the position's top
// 8 bits, so that partition 0 has exactly the positions of an unpartitioned
// journal and one org's positions (one partition) still increase.
func Position(msgSeq uint64, index int) uint64 { return msgSeq<<indexBits | uint64(index) }

// partitionBits is how many top bits of a position hold the journal
// partition; the message sequence has the bits in between (48: 2.8e14
// messages per partition).
const (
	partitionBits = 8
	seqBits       = 64 - indexBits - partitionBits
	// MaxPartitions is the most partitions a journal may have.
	MaxPartitions = 1 << partitionBits
)

// PartitionSeq is the message sequence msgSeq of partition part as
// Position takes it (msgSeq itself for partition 0).
func PartitionSeq(part int, msgSeq uint64) uint64 { return uint64(part)<<seqBits | msgSeq }

// SplitPosition is the inverse of Position: the message's sequence in its
// partition (see PartitionOf) and the event's index in the message.
func SplitPosition(pos uint64) (msgSeq uint64, index int) {
	return MsgSeqOf(pos), int(pos & (1<<indexBits - 1))
}

// MsgSeqOf is the sequence, in its partition's stream, of the message
// that holds the event at pos.
func MsgSeqOf(pos uint64) uint64 { return pos >> indexBits & (1<<seqBits - 1) }

// MsgOf identifies the message that holds the event at pos across
// partitions: PartitionSeq of its partition and sequence (MsgSeqOf for
// partition 0).
func MsgOf(pos uint64) uint64 { return pos >> indexBits }

// PartitionOf is the journal partition of the event at pos (0 in an
// unpartitioned journal).
func PartitionOf(pos uint64) int { return int(pos >> (indexBits + seqBits)) }

// ErrCorrupt is returned by Decode for a message that is neither format.
var ErrCorrupt = errors.New("journal: unreadable message")

// ErrNewer is returned by Decode for a record batch of a version, or with
// flags, that this release does not know: a newer release wrote it (on a
// cluster being upgraded, another node). It is not damage: a reader that
// must not lose events (a log stream's runner) waits for this node's
// upgrade rather than skip the message.
var ErrNewer = errors.New("journal: message written by a newer release")

// Message is what Decode needs of a journal message.
type Message struct {
	Subject string
	Header  nats.Header
	Data    []byte
	// Seq is the message's stream sequence.
	Seq uint64
}

// MessageOf adapts a consumer's message (its metadata gives the sequence).
func MessageOf(m jetstream.Msg) (Message, error) {
	md, err := m.Metadata()
	if err != nil {
		return Message{}, err
	}
	return Message{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Seq: md.Sequence.Stream}, nil
}

// RawMessage adapts a message read by sequence.
func RawMessage(m *jetstream.RawStreamMsg) Message {
	return Message{Subject: m.Subject, Header: m.Header, Data: m.Data, Seq: m.Sequence}
}

// Decode appends the events of a journal message to out, in order, with
// their positions. The records' Data point into m.Data (no copy), or, for
// a compressed batch, into a buffer of their own.
func Decode(m Message, out []event.Record) ([]event.Record, error) {
	return decode(m, out, nil)
}

// Decode is the package's Decode for readers that read the same messages
// as others at about the same time (the log streams' runners): the JSON
// of a compressed batch comes from the journal's cache of the batches
// decoded last when another reader decoded it (DefaultInflateCacheBytes).
// The records' Data are then shared: readers must not modify them (no
// reader of Decode's records does).
func (j *Journal) Decode(m Message, out []event.Record) ([]event.Record, error) {
	return decode(m, out, j.inflated)
}

func decode(m Message, out []event.Record, cache *inflateCache) ([]event.Record, error) {
	seq := PartitionSeq(PartitionOfSubject(m.Subject), m.Seq)
	if isBatch(m.Data) {
		return decodeBatch(m.Data, seq, out, cache)
	}
	h := m.Header
	if h.Get(headerOrg) == "" {
		return out, fmt.Errorf("%w: message %d has neither a record batch nor event headers", ErrCorrupt, m.Seq)
	}
	rec := headerRecord(h, m.Data)
	rec.Seq = Position(seq, 0)
	if rec.UUID == "" { // the oldest releases kept it in the message id only
		id := h.Get(jetstream.MsgIDHeader)
		if i := strings.IndexByte(id, '/'); i >= 0 {
			id = id[i+1:]
		}
		rec.UUID = id
	}
	return append(out, rec), nil
}

// headerRecord reads a record from the version 1 headers of a message
// (a version 1 event, a dead letter) and its body data; Seq is left to
// the caller.
func headerRecord(h nats.Header, data []byte) event.Record {
	rec := event.Record{
		UUID:      h.Get(headerUUID),
		Org:       h.Get(headerOrg),
		EventType: h.Get(headerType),
		Source:    h.Get(headerSource),
		Account:   h.Get(headerAccount),
		Data:      data,
	}
	if ns, err := strconv.ParseInt(h.Get(headerPublished), 10, 64); err == nil {
		rec.Published = time.Unix(0, ns).UTC()
	}
	return rec
}

// setRecordHeaders writes rec's members but its data and sequence into h
// as version 1 headers, which headerRecord reads back.
func setRecordHeaders(h nats.Header, rec *event.Record) {
	h.Set(headerUUID, rec.UUID)
	h.Set(headerOrg, rec.Org)
	h.Set(headerType, rec.EventType)
	h.Set(headerPublished, strconv.FormatInt(rec.Published.UnixNano(), 10))
	if rec.Source != "" {
		h.Set(headerSource, rec.Source)
	}
	if rec.Account != "" {
		h.Set(headerAccount, rec.Account)
	}
}

// eventsInMsgID is how many events the message with this id holds: a
// record batch's id ends with its count, a version 1 message holds one.
func eventsInMsgID(id string) int {
	if strings.IndexByte(id, '/') >= 0 {
		return 1
	}
	if i := strings.LastIndexByte(id, '.'); i >= 0 {
		if n, err := strconv.Atoi(id[i+1:]); err == nil && n > 0 {
			return n
		}
	}
	return 1
}

// batchMsgID is the message id of a writer's n-th record batch of count
// events.
func batchMsgID(nonce string, n uint64, count int) string {
	return nonce + "." + strconv.FormatUint(n, 10) + "." + strconv.Itoa(count)
}

// LegacyMessage is ev as a version 1 message, as releases before record
// batches wrote it (with its message id <org>/<uuid>). Tests use
// it to check that data directories of those releases keep working.
func LegacyMessage(ev event.Record) *nats.Msg {
	m := nats.NewMsg(event.Subject(ev.Org, ev.EventType))
	m.Data = ev.Data
	setRecordHeaders(m.Header, &ev)
	m.Header.Set(jetstream.MsgIDHeader, ev.Org+"/"+ev.UUID)
	return m
}

// IsRecordBatch reports whether a message's data is a record batch
// (version 2); a version 1 message carries its event in headers and data.
func IsRecordBatch(data []byte) bool { return isBatch(data) }

func isBatch(b []byte) bool {
	return len(b) >= 4 && b[0] == batchMagic0 && b[1] == batchMagic1
}

// batchEncoder encodes record batches into a reused buffer.
type batchEncoder struct {
	buf []byte
	// spans collects the batch's spans while the index is written.
	spans []byte
	// dataStart is where the last batch's JSON starts in buf.
	dataStart int
}

// encode returns the record batch of evs, all of one org, chained after
// prev when it is not nil. The result is valid until the next call.
func (e *batchEncoder) encode(org string, evs []event.Record, prev *Head) []byte {
	flags := byte(0)
	if prev != nil {
		flags = flagChained
	}
	b := append(e.buf[:0], batchMagic0, batchMagic1, batchVersion, flags)
	b = appendStr(b, org)
	if prev != nil {
		b = append(b, prev[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(evs)))
	sp := e.spans[:0]
	for i := range evs {
		ev := &evs[i]
		b = appendStr(b, ev.UUID)
		b = appendStr(b, ev.EventType)
		b = appendStr(b, ev.Source)
		b = appendStr(b, ev.Account)
		b = binary.AppendVarint(b, ev.Published.UnixNano())
		b = binary.AppendUvarint(b, uint64(len(ev.Data)))
		sp = appendSpans(sp, &ev.Spans, len(ev.Data))
	}
	b = append(b, sp...)
	e.spans = sp
	e.dataStart = len(b)
	for i := range evs {
		b = append(b, evs[i].Data...)
	}
	e.buf = b
	return b
}

// compress returns the last batch encode returned with its JSON as one
// S2 block (flag compressed), in dst's storage when it has room, or nil
// when the block would not be smaller than the JSON, or the JSON is more
// than a message holds (Decode refuses a block that decodes to more; the
// batch uncompressed is refused by the server, and the append fails, as
// before compression).
func (e *batchEncoder) compress(dst []byte) []byte {
	head, data := e.buf[:e.dataStart], e.buf[e.dataStart:]
	bound := s2.MaxEncodedLen(len(data))
	if len(data) < minCompress || len(data) > maxPayload || bound < 0 {
		return nil
	}
	need := len(head) + bound
	if cap(dst) < need {
		dst = make([]byte, 0, need)
	}
	dst = append(dst[:0], head...)
	dst[3] |= flagCompressed
	room := dst[len(head):need]
	z := s2.Encode(room, data)
	if len(z) >= len(data) {
		return nil
	}
	if unsafe.SliceData(z) != unsafe.SliceData(room) {
		copy(room, z) // s2 encoded elsewhere (it does not with room)
	}
	return dst[:len(head)+len(z)]
}

// appendSpans appends an event's spans: a byte 0 when they are not
// known, else the length of what follows (8 or 16) and the actor's start
// and length and the target's start and length, little-endian, 16 bits
// each when they all fit, else 32 (fixed widths: one append to write,
// four loads to read, and the length byte lets scanIndex skip them).
// Spans that do not fit the event (a caller changed Data) are written as
// not known, so a batch never holds spans Decode refuses.
func appendSpans(b []byte, sp *event.Spans, n int) []byte {
	if !sp.Known || !sp.Fits(n) {
		return append(b, 0)
	}
	a0, a1 := sp.Actor.Start, sp.Actor.End-sp.Actor.Start
	t0, t1 := sp.Target.Start, sp.Target.End-sp.Target.Start
	if sp.Actor.End <= math.MaxUint16 && sp.Target.End <= math.MaxUint16 {
		return binary.LittleEndian.AppendUint64(append(b, 8), uint64(a0)|uint64(a1)<<16|uint64(t0)<<32|uint64(t1)<<48)
	}
	b = append(b, 16)
	b = binary.LittleEndian.AppendUint32(b, a0)
	b = binary.LittleEndian.AppendUint32(b, a1)
	b = binary.LittleEndian.AppendUint32(b, t0)
	return binary.LittleEndian.AppendUint32(b, t1)
}

// skipSpans returns the index just past an event's spans at p, or false
// when their length byte is not one appendSpans writes or does not fit
// the message.
func skipSpans(b []byte, p int) (int, bool) {
	if p >= len(b) {
		return p, false
	}
	l := int(b[p])
	if l != 0 && l != 8 && l != 16 || len(b)-p-1 < l {
		return p, false
	}
	return p + 1 + l, true
}

// readSpans reads an event's spans at p (which skipSpans passed), for an
// event of n bytes, and returns the index just past them.
func readSpans(b []byte, p, n int) (event.Spans, int, bool) {
	var v [4]uint32
	switch b[p] {
	case 0:
		return event.Spans{}, p + 1, true
	case 8:
		x := binary.LittleEndian.Uint64(b[p+1 : p+9])
		v = [4]uint32{uint32(x & 0xffff), uint32(x >> 16 & 0xffff), uint32(x >> 32 & 0xffff), uint32(x >> 48)}
	default: // 16
		e := b[p+1 : p+17]
		for i := range v {
			v[i] = binary.LittleEndian.Uint32(e[4*i:])
		}
	}
	end := p + 1 + int(b[p])
	sp := event.Spans{
		Actor:  event.Span{Start: v[0], End: v[0] + v[1]},
		Target: event.Span{Start: v[2], End: v[2] + v[3]},
		Known:  true,
	}
	// A start without a length (or a length without a start), or a sum
	// that wraps, is no span the encoder writes.
	if (v[0] == 0) != (v[1] == 0) || (v[2] == 0) != (v[3] == 0) || sp.Actor.End < v[0] || sp.Target.End < v[2] || !sp.Fits(n) {
		return event.Spans{}, end, false
	}
	return sp, end, true
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeBatch appends the records of a version 2 message to out. The
// strings of one batch share one allocation; Data points into b, or into
// what cache gives for a compressed batch.
func decodeBatch(b []byte, seq uint64, out []event.Record, cache *inflateCache) ([]event.Record, error) {
	bad := func(what string) ([]event.Record, error) {
		return out, fmt.Errorf("%w: message %d: record batch: %s", ErrCorrupt, seq, what)
	}
	newer := func(what string) ([]event.Record, error) {
		return out, fmt.Errorf("%w: message %d: record batch %s", ErrNewer, seq, what)
	}
	if b[2] != batchVersion && b[2] != batchVersionNoSpans {
		return newer(fmt.Sprintf("version %d is newer than this release reads", b[2]))
	}
	spans := b[2] != batchVersionNoSpans
	if b[3]&^(flagChained|flagCompressed) != 0 {
		return newer(fmt.Sprintf("flags %#x are unknown to this release", b[3]))
	}
	p := 4
	org, p, ok := readStr(b, p)
	if !ok {
		return bad("org")
	}
	orgEnd := p
	if b[3]&flagChained != 0 {
		if len(b) < p+len(Head{}) {
			return bad("chain head")
		}
		p += len(Head{})
	}
	count, n := binary.Uvarint(b[p:])
	if n <= 0 || count == 0 || count > 1<<indexBits || count > uint64(len(b)) {
		return bad("count")
	}
	p += n
	// One string holds the org and every entry's strings: the index is
	// small next to the JSON, and this keeps decoding at one allocation.
	indexEnd, dataStart, total, err := scanIndex(b, p, int(count), spans)
	if err != nil {
		return bad(err.Error())
	}
	data := b[dataStart:]
	if b[3]&flagCompressed != 0 {
		// The records' Data point into a buffer of their own: the
		// message's bytes hold the block.
		n, err := s2.DecodedLen(data)
		if err != nil || uint64(n) != total {
			return bad(fmt.Sprintf("compressed JSON decodes to %d bytes (%v), the data lengths add up to %d", n, err, total))
		}
		if data, err = cache.inflate(seq, data, n); err != nil {
			return bad(fmt.Sprintf("compressed JSON: %v", err))
		}
	} else if total != uint64(len(data)) {
		return bad(fmt.Sprintf("data lengths add up to %d bytes, the message has %d", total, len(data)))
	}
	strs := string(b[:indexEnd])
	at := func(s []byte, off int) string { // s points into b[:indexEnd]
		return strs[off-len(s) : off]
	}
	orgStr := at(org, orgEnd)
	start := len(out)
	sp, q := indexEnd, 0
	for i := range int(count) {
		var r event.Record
		var u, t, s, a []byte
		u, p, _ = readStr(b, p)
		r.UUID = at(u, p)
		t, p, _ = readStr(b, p)
		r.EventType = at(t, p)
		s, p, _ = readStr(b, p)
		r.Source = at(s, p)
		a, p, _ = readStr(b, p)
		r.Account = at(a, p)
		ns, k := binary.Varint(b[p:])
		p += k
		l, k := binary.Uvarint(b[p:])
		p += k
		if spans {
			if r.Spans, sp, ok = readSpans(b, sp, int(l)); !ok {
				return out[:start], fmt.Errorf("%w: message %d: record batch: actor and target spans of event %d", ErrCorrupt, seq, i)
			}
		}
		r.Published = time.Unix(0, ns).UTC()
		r.Org = orgStr
		r.Seq = Position(seq, i)
		r.Data = data[q : q+int(l) : q+int(l)]
		q += int(l)
		out = append(out, r)
	}
	return out, nil
}

// scanIndex checks count index entries from p, and their spans after
// them when the batch has spans; it returns where the entries end, where
// the data starts and what the entries' data lengths add up to (which
// the caller checks against the data).
func scanIndex(b []byte, p, count int, spans bool) (indexEnd, dataStart int, total uint64, err error) {
	for range count {
		for f := 0; f < 4; f++ {
			var ok bool
			if _, p, ok = readStr(b, p); !ok {
				return 0, 0, 0, errors.New("index entry")
			}
		}
		_, n := binary.Varint(b[p:])
		if n <= 0 {
			return 0, 0, 0, errors.New("published")
		}
		p += n
		l, n := binary.Uvarint(b[p:])
		if n <= 0 || l > maxPayload {
			return 0, 0, 0, errors.New("data length")
		}
		p += n
		total += l
	}
	indexEnd = p
	for i := 0; spans && i < count; i++ {
		var ok bool
		if p, ok = skipSpans(b, p); !ok {
			return 0, 0, 0, errors.New("actor and target spans")
		}
	}
	if total > maxPayload {
		return 0, 0, 0, fmt.Errorf("data lengths add up to %d bytes, more than a batch holds", total)
	}
	return indexEnd, p, total, nil
}

// readStr reads a uvarint-length-prefixed string at p.
func readStr(b []byte, p int) ([]byte, int, bool) {
	if p >= len(b) {
		return nil, p, false
	}
	l, n := binary.Uvarint(b[p:])
	if n <= 0 || uint64(len(b)-p-n) < l {
		return nil, p, false
	}
	p += n
	return b[p : p+int(l) : p+int(l)], p + int(l), true
}
