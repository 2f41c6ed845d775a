package oktatest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/auditstream/auditstream/internal/jsonlex"
	"github.com/auditstream/auditstream/internal/ndjson"
)

// LoadEvents reads LogEvents from an NDJSON file (such as
// testdata/okta/logevents.ndjson at the module root) and makes them servable: each gets
// a unique uuid derived from its line and original uuid (the file repeats
// uuids and has some without one), and a line without a valid published
// time gets one (a minute apart from 2024-01-01). Every other member is
// kept as it is, in its order.
func LoadEvents(path string) ([]json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []json.RawMessage
	sc := ndjson.NewScanner(f, 16<<20)
	for sc.Scan() {
		line := sc.Line()
		ev, err := Unique(sc.Bytes(), fmt.Sprintf("line%d", line), time.Date(2024, 1, 1, 0, line, 0, 0, time.UTC))
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}

// Unique returns raw with a uuid derived from salt and raw's own uuid, and
// with published set to fallback when raw has no valid one.
func Unique(raw []byte, salt string, fallback time.Time) (json.RawMessage, error) {
	members, err := members(raw)
	if err != nil {
		return nil, err
	}
	var orig, pub string
	for _, m := range members {
		switch m.Key {
		case "uuid":
			_ = json.Unmarshal(m.Value, &orig)
		case "published":
			_ = json.Unmarshal(m.Value, &pub)
		}
	}
	sum := sha256.Sum256([]byte(salt + "\x00" + orig))
	h := hex.EncodeToString(sum[:16])
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	set := map[string]string{"uuid": id}
	if _, err := time.Parse(time.RFC3339Nano, pub); err != nil {
		set["published"] = fallback.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return withMembers(members, set), nil
}

// WithPublished returns raw with published set to t (Okta's millisecond
// form), keeping member order.
func WithPublished(raw json.RawMessage, t time.Time) json.RawMessage {
	ms, err := members(raw)
	if err != nil {
		return raw
	}
	return withMembers(ms, map[string]string{"published": t.UTC().Format("2006-01-02T15:04:05.000Z")})
}

func members(raw []byte) ([]jsonlex.Member, error) {
	ms, ok := jsonlex.Members(raw)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	return ms, nil
}

// withMembers re-encodes members, replacing the values of set's keys and
// appending those missing, in set's order of uuid then published.
func withMembers(ms []jsonlex.Member, set map[string]string) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	done := map[string]bool{}
	write := func(k string, v []byte) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	for _, m := range ms {
		if v, ok := set[m.Key]; ok {
			vb, _ := json.Marshal(v)
			write(m.Key, vb)
			done[m.Key] = true
			continue
		}
		write(m.Key, m.Value)
	}
	for _, k := range []string{"uuid", "published"} {
		if v, ok := set[k]; ok && !done[k] {
			vb, _ := json.Marshal(v)
			write(k, vb)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}
