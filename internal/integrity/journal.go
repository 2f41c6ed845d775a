package integrity

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/auditstream/auditstream/internal/journal"
)

// VerifyJournal verifies the trails in a journal: org's, or every org's
// when org is "" (one report per org, by name). expect are signed digests
// obtained outside the journal (see Verifier.Expect).
func VerifyJournal(ctx context.Context, j *journal.Journal, org string, lookup func(string) (ed25519.PublicKey, bool), expect [][]byte) ([]Report, error) {
	vs := map[string]*Verifier{}
	get := func(o string) (*Verifier, error) {
		v, ok := vs[o]
		if !ok {
			v = NewVerifier(o, lookup)
			for _, e := range expect {
				if sd, err := ParseEnvelope(e); err == nil && orgOf(sd.Payload) == o {
					if err := v.Expect(e); err != nil {
						return nil, err
					}
				}
			}
			vs[o] = v
		}
		return v, nil
	}
	if org != "" {
		if _, err := get(org); err != nil {
			return nil, err
		}
	}
	var verr error
	err := j.ScanMessages(ctx, org, journal.ScanFrom{}, func(m journal.Message, _ time.Time) bool {
		o := journal.OrgOfSubject(m.Subject)
		if o == "" {
			return true
		}
		v, err := get(o)
		if err != nil {
			verr = err
			return false
		}
		v.Add(m)
		return true
	})
	if err == nil {
		err = verr
	}
	if err != nil {
		return nil, err
	}
	orgs := make([]string, 0, len(vs))
	for o := range vs {
		orgs = append(orgs, o)
	}
	slices.Sort(orgs)
	out := make([]Report, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, vs[o].Finish())
	}
	return out, nil
}

// orgOf is the org a digest payload names ("" if unreadable).
func orgOf(payload []byte) string {
	var d struct {
		Org string `json:"org"`
	}
	_ = json.Unmarshal(payload, &d)
	return d.Org
}

// Getter makes a GET call to the API (path with its query) and decodes
// the answer into out; client.Client.GetJSON is one.
type Getter func(ctx context.Context, path string, out any) error

// VerifyAPI verifies org's trail through the API, as a tenant can: it
// reads the org's journal messages as stored, in position order, from
// GET /api/v1/integrity/batches, and checks them like VerifyJournal.
func VerifyAPI(ctx context.Context, get Getter, org string, lookup func(string) (ed25519.PublicKey, bool), expect [][]byte) (Report, error) {
	v := NewVerifier(org, lookup)
	for _, e := range expect {
		if err := v.Expect(e); err != nil {
			return Report{}, err
		}
	}
	from := uint64(1)
	for {
		var page struct {
			Org     string       `json:"org"`
			Batches []BatchEntry `json:"batches"`
			NextSeq uint64       `json:"nextSeq"`
		}
		path := fmt.Sprintf("/api/v1/integrity/batches?fromSeq=%d&limit=%d", from, MaxBatchLimit)
		if org != "" {
			path += "&org=" + url.QueryEscape(org)
		}
		if err := get(ctx, path, &page); err != nil {
			return Report{}, err
		}
		if org == "" {
			org = page.Org
			v.org, v.rep.Org = org, org
		}
		for _, b := range page.Batches {
			m, err := b.Message()
			if err != nil {
				return Report{}, err
			}
			if journal.OrgOfSubject(m.Subject) != org {
				return Report{}, fmt.Errorf("the server answered a message of another org (%s)", m.Subject)
			}
			v.Add(m)
		}
		if page.NextSeq == 0 {
			break
		}
		from = page.NextSeq
	}
	return v.Finish(), nil
}

// FetchKeys reads GET /api/v1/integrity/keys. Verifying with keys read
// from the server trusts the server: an auditor keeps the keys file.
func FetchKeys(ctx context.Context, get Getter) ([]PublicKey, error) {
	var keys []PublicKey
	if err := get(ctx, "/api/v1/integrity/keys", &keys); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, err := k.Decode(); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
