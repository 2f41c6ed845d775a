package integrity

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
)

// Endpoint limits.
const (
	// DefaultBatchLimit and MaxBatchLimit bound the messages of one
	// GET /api/v1/integrity/batches answer.
	DefaultBatchLimit = 500
	MaxBatchLimit     = 5000
	// maxBatchPageBytes bounds the stored bytes of one batches answer
	// (base64 adds a third): a page ends early past it.
	maxBatchPageBytes = 8 << 20
	// DefaultDigestLimit and MaxDigestLimit bound one digests answer.
	DefaultDigestLimit = 100
	MaxDigestLimit     = 1000
)

// API serves the integrity endpoints. Every one needs logs.read (the
// trail is the System Log's); an org-scoped token sees only its org, an
// all-orgs token names one with ?org=.
type API struct {
	Journal *journal.Journal
	Keys    *Keyring
}

// Routes are the endpoints:
//
//	GET /api/v1/integrity/keys     the public keys (a keys file)
//	GET /api/v1/integrity/digests  the org's signed digests, oldest first
//	GET /api/v1/integrity/proof    ?uuid= an event's inclusion proof
//	GET /api/v1/integrity/batches  the org's journal messages as stored,
//	                               in position order (for verify journal)
func (a *API) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Pattern: "GET /api/v1/integrity/keys", Scope: auth.ScopeReadLogs, Handle: a.keys},
		{Pattern: "GET /api/v1/integrity/digests", Scope: auth.ScopeReadLogs, Handle: a.digests},
		{Pattern: "GET /api/v1/integrity/proof", Scope: auth.ScopeReadLogs, Handle: a.proof},
		{Pattern: "GET /api/v1/integrity/batches", Scope: auth.ScopeReadLogs, Handle: a.batches},
	}
}

func (a *API) keys(w http.ResponseWriter, _ *http.Request, _ auth.Token) error {
	httpapi.WriteJSON(w, http.StatusOK, a.Keys.PublicKeys())
	return nil
}

// orgOfRequest is the org a request is about: the token's, or for an
// all-orgs token the one ?org= names.
func orgOfRequest(r *http.Request, tok auth.Token) (string, error) {
	q := r.URL.Query().Get("org")
	if tok.Org != auth.AllOrgs {
		if q != "" && q != tok.Org {
			return "", httpapi.Forbidden("the token is scoped to another org")
		}
		return tok.Org, nil
	}
	if q == "" || !event.ValidOrg(q) {
		return "", httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: org").
			WithCauses("org: an all-orgs token names the org (1 to 64 letters, digits, '-' or '_')")
	}
	return q, nil
}

// page is a listing request: the org, where the page starts (the
// parameter start, 0 when not given) and how many items it holds at most
// (limit, def when not given, from 1 to maxV).
type page struct {
	org          string
	start, limit uint64
}

func pageOfRequest(r *http.Request, tok auth.Token, start string, def, maxV uint64) (page, error) {
	var p page
	var err error
	if p.org, err = orgOfRequest(r, tok); err != nil {
		return p, err
	}
	if p.start, err = uintParam(r, start, 0, 0); err != nil {
		return p, err
	}
	p.limit, err = uintParam(r, "limit", def, maxV)
	return p, err
}

func uintParam(r *http.Request, name string, def, maxV uint64) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || maxV > 0 && (n == 0 || n > maxV) {
		return 0, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: %s", name).
			WithCauses(fmt.Sprintf("%s: %q is not a number from 1 to %d", name, s, maxV))
	}
	return n, nil
}

// DigestEntry is one digest as the API lists it: the signed envelope as a
// string (its exact bytes), where the event carrying it is, and its kind.
type DigestEntry struct {
	Position uint64 `json:"position"`
	UUID     string `json:"uuid"`
	Kind     string `json:"kind"`
	Envelope string `json:"envelope"`
}

func (a *API) digests(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	pg, err := pageOfRequest(r, tok, "after", DefaultDigestLimit, MaxDigestLimit)
	if err != nil {
		return err
	}
	org, after, limit := pg.org, pg.start, pg.limit
	out := []DigestEntry{}
	var recs []event.Record
	err = a.Journal.ScanMessages(r.Context(), org, journal.ScanFrom{FromSeq: journal.MsgSeqOf(after)}, func(m journal.Message, _ time.Time) bool {
		recs, _ = journal.Decode(m, recs[:0])
		for i := range recs {
			if recs[i].Seq <= after || !IsDigestType(recs[i].EventType) {
				continue
			}
			sd, err := ParseDigestEvent(recs[i].Data)
			if err != nil {
				continue
			}
			out = append(out, DigestEntry{Position: recs[i].Seq, UUID: recs[i].UUID, Kind: sd.Kind, Envelope: string(sd.Envelope)})
		}
		return uint64(len(out)) < limit
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"org": org, "digests": out})
	return nil
}

// Proof is what proves one event is in the signed trail: its stored JSON
// (whose leaf is SHA-256(0x00 || event)), its index in the covering
// digest's range, the RFC 6962 audit path to the digest's Merkle root,
// and the digest.
type Proof struct {
	UUID      string      `json:"uuid"`
	Position  uint64      `json:"position"`
	Event     string      `json:"event"`
	Leaf      string      `json:"leaf"`
	LeafIndex int         `json:"leafIndex"`
	TreeSize  int         `json:"treeSize"`
	AuditPath []string    `json:"auditPath"`
	Digest    DigestEntry `json:"digest"`
}

func (a *API) proof(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	org, err := orgOfRequest(r, tok)
	if err != nil {
		return err
	}
	uuid := r.URL.Query().Get("uuid")
	if uuid == "" || len(uuid) > 256 {
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: uuid").WithCauses("uuid: required")
	}
	var (
		hs      journal.Hasher
		pending []pendingLeaf
		found   *Proof
		done    bool
		recs    []event.Record
	)
	err = a.Journal.ScanMessages(r.Context(), org, journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		recs, _ = journal.Decode(m, recs[:0])
		if _, chained := journal.ChainedBatch(m.Data); !chained {
			return true
		}
		for i := range recs {
			rec := &recs[i]
			leaf := hs.Leaf(rec.Data)
			pending = append(pending, pendingLeaf{pos: rec.Seq, uuid: rec.UUID, leaf: leaf})
			if found == nil && rec.UUID == uuid {
				found = &Proof{UUID: uuid, Position: rec.Seq, Event: string(rec.Data), Leaf: leaf.String()}
			}
			if !IsDigestType(rec.EventType) {
				continue
			}
			sd, err := ParseDigestEvent(rec.Data)
			if err != nil || sd.Kind != KindDigest {
				continue
			}
			if found != nil && sd.FirstPosition <= found.Position && found.Position <= sd.LastPosition {
				var leaves []journal.Head
				idx := -1
				for _, p := range pending {
					if p.pos >= sd.FirstPosition && p.pos <= sd.LastPosition {
						if p.pos == found.Position {
							idx = len(leaves)
						}
						leaves = append(leaves, p.leaf)
					}
				}
				if idx >= 0 && len(leaves) == sd.Count {
					found.LeafIndex, found.TreeSize = idx, len(leaves)
					for _, h := range AuditPath(idx, leaves) {
						found.AuditPath = append(found.AuditPath, h.String())
					}
					found.Digest = DigestEntry{Position: rec.Seq, UUID: rec.UUID, Kind: sd.Kind, Envelope: string(sd.Envelope)}
					done = true
					return false
				}
			}
			// Leaves up to the digest's range are not needed again.
			keep := pending[:0]
			for _, p := range pending {
				if p.pos > sd.LastPosition {
					keep = append(keep, p)
				}
			}
			pending = keep
		}
		return true
	})
	if err != nil {
		return err
	}
	switch {
	case found == nil:
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "Not found: Resource not found: %s (LogEvent)", uuid)
	case !done:
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "Not found: no signed digest covers event %s yet (digests are made every integrity.digestInterval)", uuid)
	}
	httpapi.WriteJSON(w, http.StatusOK, found)
	return nil
}

// CheckProof verifies a proof with the keys lookup returns: the event's
// leaf, the digest's signature and org, and the audit path from the leaf
// to the digest's Merkle root. It returns the digest.
func CheckProof(p Proof, org string, lookup func(string) (ed25519.PublicKey, bool)) (Digest, error) {
	var hs journal.Hasher
	leaf := hs.Leaf([]byte(p.Event))
	if leaf.String() != p.Leaf {
		return Digest{}, errors.New("proof: the leaf is not the event's")
	}
	var d Digest
	if err := VerifyJSON([]byte(p.Digest.Envelope), lookup, &d); err != nil {
		return Digest{}, fmt.Errorf("proof: digest: %w", err)
	}
	if d.Org != org || d.Kind != KindDigest {
		return Digest{}, fmt.Errorf("proof: a %s of org %q, want a digest of %q", d.Kind, d.Org, org)
	}
	root, ok := hexHead(d.MerkleRoot)
	if !ok || p.TreeSize != d.Count || p.Position < d.FirstPosition || p.Position > d.LastPosition {
		return Digest{}, errors.New("proof: the digest does not cover the event")
	}
	path := make([]journal.Head, len(p.AuditPath))
	for i, s := range p.AuditPath {
		if path[i], ok = hexHead(s); !ok {
			return Digest{}, errors.New("proof: audit path: not hex SHA-256")
		}
	}
	if !VerifyPath(p.LeafIndex, p.TreeSize, leaf, path, root) {
		return Digest{}, errors.New("proof: the audit path does not lead to the digest's Merkle root")
	}
	return d, nil
}

// BatchEntry is one journal message of an org as stored: a record batch,
// or a version 1 message with its headers.
type BatchEntry struct {
	Seq     uint64      `json:"seq"`
	Subject string      `json:"subject"`
	Header  nats.Header `json:"header,omitempty"`
	// Data is the message's bytes, base64.
	Data string `json:"data"`
}

func (a *API) batches(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	pg, err := pageOfRequest(r, tok, "fromSeq", DefaultBatchLimit, MaxBatchLimit)
	if err != nil {
		return err
	}
	org, from, limit := pg.org, pg.start, pg.limit
	out := []BatchEntry{}
	next := uint64(0)
	size := 0
	err = a.Journal.ScanMessages(r.Context(), org, journal.ScanFrom{FromSeq: max(from, 1)}, func(m journal.Message, _ time.Time) bool {
		if uint64(len(out)) == limit || size > maxBatchPageBytes {
			next = m.Seq
			return false
		}
		size += len(m.Data)
		e := BatchEntry{Seq: m.Seq, Subject: m.Subject, Data: base64.StdEncoding.EncodeToString(m.Data)}
		if !journal.IsRecordBatch(m.Data) {
			e.Header = m.Header
		}
		out = append(out, e)
		return true
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"org": org, "batches": out, "nextSeq": next})
	return nil
}

// Message is the journal message of an entry.
func (e BatchEntry) Message() (journal.Message, error) {
	b, err := base64.StdEncoding.DecodeString(e.Data)
	if err != nil {
		return journal.Message{}, fmt.Errorf("batch %d: %w", e.Seq, err)
	}
	return journal.Message{Subject: e.Subject, Header: e.Header, Data: b, Seq: e.Seq}, nil
}

// EnvelopeOf returns the signed envelope in b: b itself, or the envelope
// of a DigestEntry (one digest as GET /api/v1/integrity/digests lists it),
// so a digest saved either way can be handed to Verifier.Expect.
func EnvelopeOf(b []byte) []byte {
	var e DigestEntry
	if err := json.Unmarshal(b, &e); err == nil && e.Envelope != "" {
		return []byte(e.Envelope)
	}
	return b
}
