package event_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/event"
)

// samples are the real Okta LogEvents of the test data and events that
// take every other way through Parse: defaults filled in, white space,
// escapes, refusals.
func samples(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson"))
	if err != nil {
		t.Fatalf("test data: %v", err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	for _, s := range []string{
		`{"eventType":"x"}`,
		`{"uuid":"u1","eventType":"user.session.start"}`,
		`{"eventType":"x","published":"2025-12-31T23:59:59.5+01:00"}`,
		"  { \"z\" : 1,\n \"eventType\" : \"app.thing\",\t\"a\": {\"b\": [1, 2, {\"c\": null}]},\n \"msg\": \"a \\u00e9 \\\"q\\\" \\\\ <b>\" }\n",
		` { "eventType" : "x" , "uuid" : "u" } `,
		`{"\u0065ventType":"x.y","uu\u0069d":"u-esc"}`,
		`{"eventType":"caf\u00e9","uuid":"\u0075-2"}`,
		`{"eventType":"é.type"}`,
		`{"eventType":"` + strings.Repeat("e", event.MaxEventTypeLen) + `"}`,
		`{"eventType":"` + strings.Repeat("e", event.MaxEventTypeLen+1) + `"}`,
		`{"eventType":"a\u0007b"}`,
		`{"eventType":"x","uuid":"` + strings.Repeat("u", event.MaxUUIDLen) + `"}`,
		`{"eventType":"x","uuid":"` + strings.Repeat("u", event.MaxUUIDLen+1) + `"}`,
		`{"eventType":"x","uuid":""}`, `{"eventType":"x","uuid":null}`, `{"eventType":"x","published":""}`,
		`{"eventType":"x","uuid":"a b"}`, `{"eventType":"x","published":"yesterday"}`,
		`{"eventType":"x","published":"2026-01-01T00:00:00\u005a"}`,
		`{"eventType":""}`, `{"eventType":7}`, `{"uuid":"u"}`, `[]`, ``, `{"eventType":"x"`, `{"eventType":"a","eventType":"b"}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// TestParserMatchesParse checks that a Parser used for many events gives
// what Parse gives for each: the same record or the same error.
func TestParserMatchesParse(t *testing.T) {
	var p event.Parser
	for round := range 2 { // the second round meets the event types again
		for _, raw := range samples(t) {
			want, wantErr := event.Parse(raw, "acme", now)
			got, err := p.Parse(raw, "acme", now)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("round %d, %q: got error %v, want %v", round, raw, err, wantErr)
			}
			if err != nil {
				continue
			}
			if want.UUID != got.UUID {
				// Both generated: each must be a v4 uuid, in Data in
				// the same place.
				for _, id := range []string{want.UUID, got.UUID} {
					if u, err := uuid.Parse(id); err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
						t.Fatalf("%q: got uuids %q and %q, want equal ones or two generated v4 uuids", raw, want.UUID, got.UUID)
					}
				}
				want.Data = bytes.Replace(want.Data, []byte(want.UUID), []byte(got.UUID), 1)
				want.UUID = got.UUID
			}
			if got.UUID != want.UUID || got.EventType != want.EventType || got.Org != want.Org ||
				!got.Published.Equal(want.Published) || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("%q: got %+v (%s), want %+v (%s)", raw, got, got.Data, want, want.Data)
			}
		}
	}
}

// TestParserKeepsWhatItReturned checks that records a Parser returned stay
// as they were while it goes on parsing (it cuts them from shared blocks).
func TestParserKeepsWhatItReturned(t *testing.T) {
	var p event.Parser
	type kept struct {
		rec                event.Record
		uuid, evType, data string
	}
	var all []kept
	for i := range 5000 {
		raw := []byte(`{"eventType":"type.` + strings.Repeat("t", i%200) + `","n":` + strings.Repeat("1", 1+i%50) + `}`)
		if i%3 == 0 {
			raw = []byte(`{"uuid":"id-` + strconv.Itoa(i) + strings.Repeat("u", i%100) + `","eventType":"x", "n" : 1}`)
		}
		r, err := p.Parse(raw, "acme", now)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		all = append(all, kept{r, strings.Clone(r.UUID), strings.Clone(r.EventType), string(r.Data)})
	}
	ids := map[string]bool{}
	for i, k := range all {
		if k.rec.UUID != k.uuid || k.rec.EventType != k.evType || string(k.rec.Data) != k.data {
			t.Fatalf("event %d: got %q %q %s, want %q %q %s", i, k.rec.UUID, k.rec.EventType, k.rec.Data, k.uuid, k.evType, k.data)
		}
		if ids[k.uuid] {
			t.Fatalf("event %d: got uuid %q twice, want distinct ones", i, k.uuid)
		}
		ids[k.uuid] = true
	}
}

// TestParserAllocs checks that parsing a common event with a Parser costs
// no allocation (amortised over the blocks it cuts from).
func TestParserAllocs(t *testing.T) {
	evs := [][]byte{
		[]byte(`{"uuid":"00000000-0000-4000-8000-000000000001","published":"2026-01-01T00:00:00.123Z","eventType":"user.session.start","actor":{"id":"a"}}`),
		[]byte(`{"eventType":"user.session.end","actor":{"id":"a"}}`),
		[]byte(`{"eventType" : "user.session.end", "actor": {"id": "a"}}`),
	}
	for _, raw := range evs {
		var p event.Parser
		if got := testing.AllocsPerRun(2000, func() {
			if _, err := p.Parse(raw, "acme", time.Now()); err != nil {
				t.Fatal(err)
			}
		}); got != 0 {
			t.Errorf("%s: got %v allocations per event, want 0", raw, got)
		}
	}
}

// TestParseObject checks that ParseObject reads the object at the start
// of its input as Parse reads it alone, whatever follows, and says how
// long it is.
func TestParseObject(t *testing.T) {
	var p event.Parser
	for _, raw := range samples(t) {
		raw = bytes.TrimSpace(raw)
		want, wantErr := p.Parse(raw, "acme", now)
		for _, after := range []string{"", ",", " , {\"eventType\":\"next\"}]", "]x"} {
			got, n, err := p.ParseObject(append(bytes.Clone(raw), after...), "acme", now)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("%q + %q: got error %v, want %v", raw, after, err, wantErr)
			}
			if err != nil {
				continue
			}
			if n != len(raw) {
				t.Fatalf("%q + %q: got length %d, want %d", raw, after, n, len(raw))
			}
			if want.UUID != got.UUID && bytes.Contains(raw, []byte(`"uuid"`)) || got.EventType != want.EventType ||
				!got.Published.Equal(want.Published) && bytes.Contains(raw, []byte(`"published"`)) ||
				len(got.Data) != len(want.Data) {
				t.Fatalf("%q + %q: got %+v (%s), want %+v (%s)", raw, after, got, got.Data, want, want.Data)
			}
		}
	}
	if _, _, err := p.ParseObject([]byte(`[{"eventType":"x"}]`), "acme", now); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("an array: got %v, want not a JSON object", err)
	}
}
