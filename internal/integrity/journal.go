package integrity

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
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
