package integrity

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// Problem kinds a verification reports.
const (
	// ProblemBrokenLink: a batch stores a head other than the chain's.
	ProblemBrokenLink = "broken-link"
	// ProblemModified: a digest's range holds its events, but their
	// Merkle root or head is not the signed one.
	ProblemModified = "modified"
	// ProblemMissing: events a digest counts, or events before the first
	// remaining one that no truncation digest records, are gone.
	ProblemMissing = "missing"
	// ProblemSignature: a digest does not verify (forged or altered), or
	// names an unknown key.
	ProblemSignature = "bad-signature"
	// ProblemDigestChain: a digest does not name the previous one.
	ProblemDigestChain = "digest-chain"
	// ProblemRolledBack: the journal ends before a digest the verifier was
	// given (an exported one, one kept by the auditor).
	ProblemRolledBack = "rolled-back"
	// ProblemUnreadable: a message does not decode.
	ProblemUnreadable = "unreadable"
)

// Problem is one finding of a verification.
type Problem struct {
	Kind     string `json:"kind"`
	Position uint64 `json:"position,omitempty"`
	UUID     string `json:"uuid,omitempty"`
	Detail   string `json:"detail"`
}

func (p Problem) String() string {
	s := p.Kind
	if p.Position != 0 {
		s += fmt.Sprintf(" at position %d", p.Position)
	}
	if p.UUID != "" {
		s += " (uuid " + p.UUID + ")"
	}
	return s + ": " + p.Detail
}

// Truncation is a recorded removal a verification accepted.
type Truncation struct {
	Reason        string `json:"reason"`
	RemovedBefore uint64 `json:"removedBefore"`
	Time          string `json:"time"`
}

// Report is the result of verifying one org's trail.
type Report struct {
	Org string `json:"org"`
	// Events is how many chained events were checked, from First to
	// Last (published times) at positions FirstPosition to LastPosition.
	Events        int       `json:"events"`
	First         time.Time `json:"first"`
	Last          time.Time `json:"last"`
	FirstPosition uint64    `json:"firstPosition"`
	LastPosition  uint64    `json:"lastPosition"`
	// Digests is how many signed digests verified; Undigested the events
	// after the last one (not signed yet).
	Digests    int `json:"digests"`
	Undigested int `json:"undigested"`
	// Unchained counts events written before the chain existed.
	Unchained   int          `json:"unchained"`
	Truncations []Truncation `json:"truncations,omitempty"`
	Problems    []Problem    `json:"problems,omitempty"`
}

// OK reports a trail without problems.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// String is the report's summary: "verified N events from T1 to T2", or
// the problems, the first broken link first.
func (r Report) String() string {
	var b strings.Builder
	for _, t := range r.Truncations {
		why := map[string]string{ReasonRetention: "retention (journal.maxBytes)", ReasonMaxAge: "retention (journal.maxAge)",
			ReasonPurge: "an operator's purge", ReasonLost: "a loss the journal found at start (corrupt or truncated files)"}[t.Reason]
		if why == "" {
			why = t.Reason
		}
		fmt.Fprintf(&b, "org %s: events before position %d were removed by %s: a recorded removal, signed by a truncation digest of %s\n", r.Org, t.RemovedBefore, why, t.Time)
	}
	if r.OK() {
		fmt.Fprintf(&b, "org %s: verified %d events from %s to %s (%d signed digests", r.Org, r.Events,
			r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339), r.Digests)
		if r.Undigested > 0 {
			fmt.Fprintf(&b, ", %d newest events not digested yet", r.Undigested)
		}
		b.WriteString(")\n")
		return b.String()
	}
	fmt.Fprintf(&b, "org %s: FAILED: %d problems in %d events\n", r.Org, len(r.Problems), r.Events)
	for _, p := range r.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

type pendingLeaf struct {
	pos  uint64
	uuid string
	leaf journal.Head
	head journal.Head
}

// Verifier checks one org's trail: its messages in journal order (Add),
// then Finish. It recomputes the chain, checks every digest's signature,
// count, Merkle root and head against the events it covers, the digests'
// own chain, and that lost starts are recorded by a truncation digest.
type Verifier struct {
	org     string
	lookup  func(string) (ed25519.PublicKey, bool)
	chain   Chain
	rep     Report
	pending []pendingLeaf
	last    *SignedDigest
	truncs  []SignedDigest
	expect  []SignedDigest
	heads   map[uint64]journal.Head // positions of expected digests → head seen
	recs    []event.Record
	breaks  []Break
	short   []shortRange
	// recorded are the breaks digests list, reported unless a
	// truncation digest explains them.
	recorded []recordedBreak
}

// shortRange is a digest whose range holds fewer events than it counts.
type shortRange struct {
	sd   SignedDigest
	have int
}

type recordedBreak struct {
	Break
	time string
}

// NewVerifier verifies org's trail with the keys lookup returns.
func NewVerifier(org string, lookup func(string) (ed25519.PublicKey, bool)) *Verifier {
	return &Verifier{org: org, lookup: lookup, rep: Report{Org: org}, heads: map[uint64]journal.Head{}}
}

// Expect adds a signed digest obtained outside the journal (exported, or
// kept by the auditor): the journal must still hold its range with its
// head, or it was rolled back. Call before Add.
func (v *Verifier) Expect(env []byte) error {
	var d Digest
	if err := VerifyJSON(env, v.lookup, &d); err != nil {
		return err
	}
	if d.Org != v.org {
		return fmt.Errorf("digest of org %q, verifying %q", d.Org, v.org)
	}
	v.expect = append(v.expect, SignedDigest{Digest: d, Envelope: env})
	if d.Kind == KindDigest {
		v.heads[d.LastPosition] = journal.Head{}
	}
	return nil
}

func (v *Verifier) problem(kind string, pos uint64, uuid, format string, a ...any) {
	v.rep.Problems = append(v.rep.Problems, Problem{Kind: kind, Position: pos, UUID: uuid, Detail: fmt.Sprintf(format, a...)})
}

// Add checks the org's next message.
func (v *Verifier) Add(m journal.Message) {
	var err error
	v.recs, err = journal.Decode(m, v.recs[:0])
	if err != nil {
		// The position names the message's partition (m.Seq is a
		// sequence of its stream).
		pos := journal.Position(journal.PartitionSeq(journal.PartitionOfSubject(m.Subject), m.Seq), 0)
		v.problem(ProblemUnreadable, pos, "", "message %d does not decode: %v", m.Seq, err)
		return
	}
	if len(v.recs) > 0 && v.recs[0].Org != v.org {
		return
	}
	chained, brk := v.chain.Add(m, v.recs, func(rec *event.Record, leaf, head journal.Head) {
		if v.rep.Events == 0 {
			v.rep.First, v.rep.FirstPosition = rec.Published, rec.Seq
		}
		v.rep.Events++
		v.rep.Last, v.rep.LastPosition = rec.Published, rec.Seq
		v.pending = append(v.pending, pendingLeaf{pos: rec.Seq, uuid: rec.UUID, leaf: leaf, head: head})
		if _, ok := v.heads[rec.Seq]; ok {
			v.heads[rec.Seq] = head
		}
	})
	if brk != nil {
		// A truncation digest may record the gap (events lost at start):
		// resolved in Finish.
		v.breaks = append(v.breaks, *brk)
	}
	if !chained {
		v.rep.Unchained += len(v.recs)
		return
	}
	for i := range v.recs {
		if IsDigestType(v.recs[i].EventType) {
			v.digest(&v.recs[i])
		}
	}
}

// digest checks one digest event against the leaves since the last one.
func (v *Verifier) digest(rec *event.Record) {
	sd, err := ParseDigestEvent(rec.Data)
	if err != nil {
		v.problem(ProblemSignature, rec.Seq, rec.UUID, "a %s event without a readable digest: %v", rec.EventType, err)
		return
	}
	sd.Position, sd.UUID = rec.Seq, rec.UUID
	if err := sd.Verify(v.lookup); err != nil {
		v.problem(ProblemSignature, rec.Seq, rec.UUID, "digest does not verify (%v): forged or altered", err)
		return
	}
	if sd.Org != v.org {
		v.problem(ProblemSignature, rec.Seq, rec.UUID, "digest signed for org %q found in org %q", sd.Org, v.org)
		return
	}
	if sd.Kind == KindTruncation {
		v.truncs = append(v.truncs, sd)
		return
	}
	v.rep.Digests++
	if v.last != nil && sd.PrevDigest != v.last.Hash() {
		v.problem(ProblemDigestChain, rec.Seq, rec.UUID, "digest does not name the previous digest (position %d): a digest was removed or replaced", v.last.Position)
	}
	// The leaves the digest covers.
	start := 0
	for start < len(v.pending) && v.pending[start].pos < sd.FirstPosition {
		start++
	}
	end := start
	for end < len(v.pending) && v.pending[end].pos <= sd.LastPosition {
		end++
	}
	got := v.pending[start:end]
	truncatedStart := v.chain.FirstPosition > sd.FirstPosition
	switch {
	case truncatedStart:
		// Part of the range is gone by a recorded truncation (checked in
		// Finish): the head at its end still ties it to the chain.
		if len(got) > 0 && got[len(got)-1].pos == sd.LastPosition && got[len(got)-1].head.String() != sd.Head {
			v.problem(ProblemModified, sd.LastPosition, got[len(got)-1].uuid, "chain head at the end of a digest's range is not the signed one")
		}
	case len(got) < sd.Count:
		// Unless a truncation digest (a loss found at start) records a
		// cut in the range: decided in Finish.
		v.short = append(v.short, shortRange{sd: sd, have: len(got)})
	case len(got) > sd.Count:
		v.problem(ProblemModified, got[0].pos, got[0].uuid, "a digest signed at %s counts %d events in positions %d to %d, the journal holds %d: events were added",
			sd.Time, sd.Count, sd.FirstPosition, sd.LastPosition, len(got))
	default:
		leaves := make([]journal.Head, len(got))
		for i := range got {
			leaves[i] = got[i].leaf
		}
		if MerkleRoot(leaves).String() != sd.MerkleRoot {
			v.problem(ProblemModified, got[0].pos, got[0].uuid, "the %d events in positions %d to %d are not the ones a digest signed at %s covers: one was modified",
				sd.Count, sd.FirstPosition, sd.LastPosition, sd.Time)
		} else if len(got) > 0 && got[len(got)-1].head.String() != sd.Head {
			v.problem(ProblemModified, sd.LastPosition, got[len(got)-1].uuid, "chain head at the end of a digest's range is not the signed one")
		}
	}
	for _, b := range sd.Breaks {
		v.recorded = append(v.recorded, recordedBreak{b, sd.Time})
	}
	v.pending = append(v.pending[:0], v.pending[end:]...)
	v.last = &sd
}

// truncationAt returns the truncation digest whose head at the cut is
// head (hex).
func (v *Verifier) truncationAt(head string) (SignedDigest, bool) {
	for _, t := range v.truncs {
		if t.HeadAtCut == head {
			return t, true
		}
	}
	return SignedDigest{}, false
}

// Finish completes the verification and returns the report.
func (v *Verifier) Finish() Report {
	// A chain that starts after its beginning needs a truncation digest
	// whose head at the cut is the head the first batch stores.
	if v.chain.Started && !v.chain.FirstPrev.IsZero() {
		found := false
		for _, t := range v.truncs {
			if h, ok := hexHead(t.HeadAtCut); ok && h == v.chain.FirstPrev {
				v.rep.Truncations = append(v.rep.Truncations, Truncation{Reason: t.Reason, RemovedBefore: t.RemovedBefore, Time: t.Time})
				found = true
				break
			}
		}
		if !found {
			v.problem(ProblemMissing, v.chain.FirstPosition, "", "events before position %d are gone and no signed truncation digest records their removal", v.chain.FirstPosition)
		}
	}
	for _, b := range v.breaks {
		if t, ok := v.truncationAt(b.Stored); ok {
			v.rep.Truncations = append(v.rep.Truncations, Truncation{Reason: t.Reason, RemovedBefore: b.Position, Time: t.Time})
			continue
		}
		detail := fmt.Sprintf("the batch stores chain head %.16s…, the events before it give %.16s…: an event before it was modified, or events between were removed", b.Stored, b.Want)
		if b.After != 0 {
			detail = fmt.Sprintf("the batch stores chain head %.16s…, the events up to position %d give %.16s…: events after position %d and before %d were removed, or an event up to %d was modified",
				b.Stored, b.After, b.Want, b.After, b.Position, b.After)
		}
		if b.Follows != 0 {
			detail = fmt.Sprintf("the batch claims to follow position %d, not the events before it: batches were removed, moved or re-inserted", b.Follows)
		}
		v.problem(ProblemBrokenLink, b.Position, b.UUID, "%s", detail)
	}
	for _, s := range v.short {
		sd := s.sd
		explained := false
		for _, t := range v.truncs {
			if t.Reason == ReasonLost && t.RemovedAfter < sd.LastPosition && t.RemovedBefore > sd.FirstPosition {
				explained = true
				break
			}
		}
		if !explained {
			v.problem(ProblemMissing, sd.FirstPosition, "", "a digest signed at %s counts %d events in positions %d to %d, the journal holds %d: %d are missing",
				sd.Time, sd.Count, sd.FirstPosition, sd.LastPosition, s.have, sd.Count-s.have)
		}
	}
	seen := map[uint64]bool{}
	for _, b := range v.breaks {
		seen[b.Position] = true
	}
	for _, b := range v.recorded {
		if _, ok := v.truncationAt(b.Stored); !ok && !seen[b.Position] {
			v.problem(ProblemBrokenLink, b.Position, b.UUID, "recorded by the digester when it signed the digest of %s", b.time)
		}
	}
	for _, d := range v.expect {
		if d.Kind != KindDigest {
			continue
		}
		h := v.heads[d.LastPosition]
		switch {
		case h.IsZero() && v.rep.LastPosition < d.LastPosition:
			v.problem(ProblemRolledBack, d.LastPosition, "", "a digest signed at %s covers events up to position %d, the journal ends at %d: it was rolled back or cut",
				d.Time, d.LastPosition, v.rep.LastPosition)
		case h.IsZero():
			v.problem(ProblemMissing, d.LastPosition, "", "the event at position %d, the last of a digest signed at %s, is gone", d.LastPosition, d.Time)
		case h.String() != d.Head:
			v.problem(ProblemModified, d.LastPosition, "", "the chain head at position %d is not the one a digest signed at %s holds", d.LastPosition, d.Time)
		}
	}
	v.rep.Undigested = len(v.pending)
	sortProblems(v.rep.Problems)
	return v.rep
}

func sortProblems(ps []Problem) {
	for i := 1; i < len(ps); i++ {
		for k := i; k > 0 && ps[k].Position < ps[k-1].Position; k-- {
			ps[k], ps[k-1] = ps[k-1], ps[k]
		}
	}
}

// ErrProblems is returned when a verification found problems.
var ErrProblems = errors.New("the trail does not verify")
