package main

import (
	"bytes"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/jsonlex"
	"github.com/auditstream/auditstream/internal/ndjson"
)

// publishedFormat is Okta's published format: RFC 3339, ms, UTC.
const publishedFormat = "2006-01-02T15:04:05.000Z"

// generator makes the run's events from templates.
//
// Every event gets a fresh uuid that also encodes its index in the run:
// bytes 0-9 are random per run (with the version 4 and variant bits set,
// so it is a well-formed random uuid), bytes 10-15 hold the index. The
// receiver recovers the index from the uuid, so per-event bookkeeping is
// two slices indexed by it instead of maps keyed by strings, and events of
// other runs or producers are told apart by the prefix.
type generator struct {
	// members of each template without uuid and published, as
	// `"k":v,"k2":v2` (no braces), in the template's order.
	members [][]byte
	// types holds each template's eventType ("" when it has none).
	types  []string
	prefix [10]byte
	// noise is how many pseudo-random characters each event carries in
	// a member benchNoise (--noise): the templates repeat, so without it
	// a batch of events compresses far better than real audit events
	// do, whose ids, addresses and session data differ event by event.
	noise int
}

func newGenerator(templates [][]byte) (*generator, error) {
	g := &generator{}
	if _, err := crand.Read(g.prefix[:]); err != nil {
		return nil, err
	}
	g.prefix[6] = g.prefix[6]&0x0f | 0x40 // version 4
	g.prefix[8] = g.prefix[8]&0x3f | 0x80 // RFC 4122 variant
	for i, t := range templates {
		m, err := stripMembers(t, "uuid", "published")
		if err != nil {
			return nil, fmt.Errorf("template %d: %w", i+1, err)
		}
		var head struct {
			EventType string `json:"eventType"`
		}
		_ = json.Unmarshal(t, &head) // stripMembers read it already
		g.members = append(g.members, m)
		g.types = append(g.types, head.EventType)
	}
	if len(g.members) == 0 {
		return nil, errors.New("no templates")
	}
	return g, nil
}

// stripMembers returns the members of the JSON object obj except those
// named drop, in order, as `"k":v,...` without the braces.
func stripMembers(obj []byte, drop ...string) ([]byte, error) {
	members, ok := jsonlex.Members(obj)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	var out []byte
	for _, m := range members {
		if slices.Contains(drop, m.Key) {
			continue
		}
		if len(out) > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(m.Key)
		out = append(out, k...)
		out = append(out, ':')
		var compact bytes.Buffer
		if err := json.Compact(&compact, m.Value); err != nil {
			return nil, err
		}
		out = append(out, compact.Bytes()...)
	}
	return out, nil
}

// uuid returns the uuid of event idx.
func (g *generator) uuid(idx uint64) uuid.UUID {
	var u uuid.UUID
	copy(u[:10], g.prefix[:])
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], idx)
	copy(u[10:], b[2:])
	return u
}

// index returns the index encoded in s, and false when s is not a uuid of
// this run.
func (g *generator) index(s string) (uint64, bool) {
	u, err := uuid.Parse(s)
	if err != nil || [10]byte(u[:10]) != g.prefix {
		return 0, false
	}
	var b [8]byte
	copy(b[2:], u[10:])
	return binary.BigEndian.Uint64(b[:]), true
}

// template returns the index of event idx's template.
func (g *generator) template(idx uint64) int {
	return int(idx % uint64(len(g.members)))
}

// appendEvent appends event idx as one NDJSON line.
func (g *generator) appendEvent(dst []byte, idx uint64, published string) []byte {
	dst = append(dst, `{"uuid":"`...)
	dst = append(dst, g.uuid(idx).String()...)
	dst = append(dst, `","published":"`...)
	dst = append(dst, published...)
	dst = append(dst, '"')
	if m := g.members[g.template(idx)]; len(m) > 0 {
		dst = append(dst, ',')
		dst = append(dst, m...)
	}
	if g.noise > 0 {
		dst = append(dst, `,"benchNoise":"`...)
		dst = appendNoise(dst, idx, [10]byte(g.prefix), g.noise)
		dst = append(dst, '"')
	}
	return append(dst, "}\n"...)
}

// noiseAlphabet is base64url's: nothing in it needs escaping in JSON,
// and its four-character runs repeat too rarely for a compressor to find.
const noiseAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// appendNoise appends n pseudo-random characters, the same for the same
// event index and run prefix.
func appendNoise(dst []byte, idx uint64, prefix [10]byte, n int) []byte {
	r := rand.NewPCG(idx, binary.BigEndian.Uint64(prefix[:8]))
	for n > 0 {
		x := r.Uint64()
		for k := 0; k < 10 && n > 0; k++ {
			dst = append(dst, noiseAlphabet[x&63])
			x >>= 6
			n--
		}
	}
	return dst
}

// loadTemplates reads the NDJSON template file.
func loadTemplates(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := ndjson.NewScanner(f, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	return out, nil
}

// defaultTestdata finds testdata/okta/logevents.ndjson in the root of the
// auditstream module containing dir.
func defaultTestdata(dir string) (string, error) {
	const rel = "testdata/okta/logevents.ndjson"
	for d := dir; ; d = filepath.Dir(d) {
		if isModuleRoot(filepath.Join(d, "go.mod")) {
			p := filepath.Join(d, filepath.FromSlash(rel))
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("test data not found at %s; use --testdata", p)
			}
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no auditstream module above %s to find %s from; use --testdata", dir, rel)
		}
	}
}

func isModuleRoot(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	head, _ := io.ReadAll(io.LimitReader(f, 4096))
	for line := range strings.Lines(string(head)) {
		if strings.TrimSpace(line) == "module github.com/auditstream/auditstream" {
			return true
		}
	}
	return false
}
