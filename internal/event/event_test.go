package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/event"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC)

const nowText = "2026-03-04T05:06:07.891Z"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string // substring of the error
	}{
		{"empty", ``, "not a JSON object"},
		{"blank", "  \n\t", "not a JSON object"},
		{"array", `[{"eventType":"x"}]`, "not a JSON object"},
		{"string", `"x"`, "not a JSON object"},
		{"number", `42`, "not a JSON object"},
		{"missing eventType", `{"uuid":"u1"}`, "eventType is required"},
		{"empty eventType", `{"eventType":""}`, "eventType is required"},
		{"null eventType", `{"eventType":null}`, "eventType is required"},
		{"eventType number", `{"eventType":1}`, "eventType must be a string"},
		{"eventType object", `{"eventType":{"a":"b"}}`, "eventType must be a string"},
		{"eventType too long", `{"eventType":"` + strings.Repeat("a", event.MaxEventTypeLen+1) + `"}`, "eventType longer than 256 bytes"},
		{"uuid number", `{"eventType":"x","uuid":7}`, "uuid must be a string"},
		{"uuid array", `{"eventType":"x","uuid":["a"]}`, "uuid must be a string"},
		{"uuid too long", `{"eventType":"x","uuid":"` + strings.Repeat("u", event.MaxUUIDLen+1) + `"}`, "uuid longer than 128 bytes"},
		{"published number", `{"eventType":"x","published":1700000000}`, "published must be a string"},
		{"published bool", `{"eventType":"x","published":true}`, "published must be a string"},
		{"published not a time", `{"eventType":"x","published":"yesterday"}`, `published "yesterday" is not an RFC 3339 time`},
		{"published date only", `{"eventType":"x","published":"2026-01-01"}`, "is not an RFC 3339 time"},
		{"malformed", `{"eventType":"x"`, "malformed JSON"},
		{"trailing garbage", `{"eventType":"x"} {}`, "malformed JSON"},
		{"too deep", `{"eventType":"x","a":` + strings.Repeat("[", event.MaxDepth) + strings.Repeat("]", event.MaxDepth) + `}`, "nested deeper than 64 levels"},
		// I-JSON (RFC 7493): unique names, UTF-8, no lone surrogates.
		{"duplicate eventType", `{"eventType":"a","eventType":"b"}`, `duplicate member "eventType" at byte 17`},
		{"duplicate uuid", `{"eventType":"x","uuid":"dupu-1","uuid":"dupu-2"}`, `duplicate member "uuid"`},
		{"duplicate by escape", `{"eventType":"x","\u0065ventType":"y"}`, `duplicate member "eventType"`},
		{"duplicate nested", `{"eventType":"x","actor":{"id":"1","id":"2"}}`, `duplicate member "id"`},
		{"duplicate in array element", `{"eventType":"x","t":[{"a":1},{"a":1,"a":2}]}`, `duplicate member "a"`},
		{"duplicate among many", `{"eventType":"x",` + manyMembers(40) + `,"m7":0}`, `duplicate member "m7"`},
		{"duplicate unknown member", `{"eventType":"x","k":1,"k":2}`, `duplicate member "k"`},
		{"invalid UTF-8 in value", "{\"eventType\":\"x\",\"x\":\"\xff\xfe\xc3\"}", "invalid UTF-8 at byte 22"},
		{"invalid UTF-8 in eventType", "{\"eventType\":\"x\xc3\"}", "invalid UTF-8"},
		{"invalid UTF-8 in a name", "{\"eventType\":\"x\",\"\xc0\xaf\":1}", "invalid UTF-8"},
		{"UTF-8 encoded surrogate", "{\"eventType\":\"x\",\"x\":\"\xed\xa0\x80\"}", "invalid UTF-8"},
		{"truncated UTF-8", "{\"eventType\":\"x\",\"x\":\"\xe2\x82\"}", "invalid UTF-8"},
		{"lone high surrogate", `{"eventType":"x","x":"\ud800"}`, `unpaired surrogate \ud800`},
		{"high surrogate then text", `{"eventType":"x","x":"\ud800abcdef"}`, `unpaired surrogate \ud800`},
		{"high surrogate twice", `{"eventType":"x","x":"\ud800\ud800"}`, `unpaired surrogate \ud800`},
		{"lone low surrogate", `{"eventType":"x","x":"\udc00"}`, `unpaired surrogate \udc00`},
		{"lone surrogate in eventType", `{"eventType":"\ud800"}`, `unpaired surrogate`},
		{"lone surrogate in a name", `{"eventType":"x","\uDBFF":1}`, `unpaired surrogate \udbff`},
		{"control character in string", "{\"eventType\":\"x\",\"x\":\"a\tb\"}", "malformed JSON"},
		{"bad escape", `{"eventType":"x","x":"\q"}`, "malformed JSON"},
		{"bad hex escape", `{"eventType":"x","x":"\u12g4"}`, "malformed JSON"},
		{"NUL in eventType", `{"eventType":"a\u0000b"}`, "eventType has a control character"},
		{"CR LF in eventType", `{"eventType":"a\r\nAudit-Org: orgb"}`, "eventType has a control character"},
		// uuids travel as "<org>/<uuid>" message ids and NATS headers.
		{"uuid with a space", `{"eventType":"x","uuid":"a b"}`, "uuid has ' ' at byte 1"},
		{"uuid with CR LF", `{"eventType":"x","uuid":"inj-2\r\nAudit-Org: orgb"}`, `uuid has '\r' at byte 5`},
		{"uuid with NUL", `{"eventType":"x","uuid":"a\u0000"}`, "uuid has"},
		{"uuid with tab", `{"eventType":"x","uuid":"a\tb"}`, "uuid has"},
		{"uuid with DEL", `{"eventType":"x","uuid":"a\u007f"}`, "uuid has"},
		{"uuid with star", `{"eventType":"x","uuid":"a*"}`, "uuid has '*'"},
		{"uuid with gt", `{"eventType":"x","uuid":"a.>"}`, "uuid has '>'"},
		{"uuid not ASCII", `{"eventType":"x","uuid":"é"}`, "uuid has"},
		// syntax the old validator caught, in the new scanner's words
		{"trailing comma", `{"eventType":"x",}`, "malformed JSON"},
		{"missing colon", `{"eventType" "x"}`, "malformed JSON"},
		{"bad literal", `{"eventType":"x","b":tru}`, "malformed JSON"},
		{"leading zero", `{"eventType":"x","n":01}`, "malformed JSON"},
		{"bare minus", `{"eventType":"x","n":-}`, "malformed JSON"},
		{"no fraction digits", `{"eventType":"x","n":1.}`, "malformed JSON"},
		{"no exponent digits", `{"eventType":"x","n":1e+}`, "malformed JSON"},
		{"unclosed string", `{"eventType":"x`, "malformed JSON"},
		{"unclosed array", `{"eventType":"x","a":[1,2`, "malformed JSON"},
		{"single quotes", `{'eventType':'x'}`, "malformed JSON"},
		{"too deep objects", `{"eventType":"x","a":` + strings.Repeat(`{"a":`, event.MaxDepth) + "1" + strings.Repeat("}", event.MaxDepth) + `}`, "nested deeper than 64 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := event.Parse([]byte(tt.raw), "acme", now)
			if err == nil {
				t.Fatalf("got event %s, want error containing %q", ev.Data, tt.want)
			}
			if !errors.Is(err, event.ErrInvalid) {
				t.Errorf("got error %v, want it to wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// manyMembers returns n members "m0":0,… (enough to take the scanner past
// its linear duplicate check).
func manyMembers(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"m%d":0`, i)
	}
	return b.String()
}

func TestParseDepthLimit(t *testing.T) {
	nest := func(n int) string { // n levels including the event object itself
		return `{"eventType":"x","a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`
	}
	tests := []struct {
		name    string
		raw     string
		wantErr bool
	}{
		{"at the limit", nest(event.MaxDepth), false},
		{"one past", nest(event.MaxDepth + 1), true},
		{"brackets inside strings do not count", `{"eventType":"x","s":"` + strings.Repeat("[{", 200) + `"}`, false},
		{"escaped quote does not end the string", `{"eventType":"x","s":"\"` + strings.Repeat("[", 200) + `"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := event.Parse([]byte(tt.raw), "acme", now)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("got error %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestParseMinimalEvent(t *testing.T) {
	ev, err := event.Parse([]byte(`{"eventType":"x"}`), "acme", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(ev.UUID); err != nil {
		t.Errorf("got uuid %q, want a generated UUID: %v", ev.UUID, err)
	}
	want := `{"uuid":"` + ev.UUID + `","published":"` + nowText + `","eventType":"x"}`
	if string(ev.Data) != want {
		t.Errorf("got data %s, want %s", ev.Data, want)
	}
	if ev.EventType != "x" || ev.Org != "acme" {
		t.Errorf("got eventType %q org %q, want x acme", ev.EventType, ev.Org)
	}
	if !ev.Published.Equal(now) || ev.Published.Location() != time.UTC {
		t.Errorf("got published %v, want %v in UTC", ev.Published, now)
	}
	if !json.Valid(ev.Data) {
		t.Errorf("got invalid JSON %s", ev.Data)
	}
}

func TestParseGeneratesDistinctUUIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		ev, err := event.Parse([]byte(`{"eventType":"x"}`), "acme", now)
		if err != nil {
			t.Fatal(err)
		}
		if seen[ev.UUID] {
			t.Fatalf("got uuid %s twice, want fresh uuids", ev.UUID)
		}
		seen[ev.UUID] = true
	}
}

func TestParseNormalises(t *testing.T) {
	local := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name      string
		raw       string
		now       time.Time
		wantData  string // "%UUID%" stands for the generated uuid
		wantUUID  string // "" means generated
		wantPub   time.Time
		wantEvTyp string
	}{
		{
			name:      "published defaulted, uuid kept",
			raw:       `{"uuid":"u1","eventType":"user.session.start"}`,
			now:       now,
			wantData:  `{"published":"` + nowText + `","uuid":"u1","eventType":"user.session.start"}`,
			wantUUID:  "u1",
			wantPub:   now,
			wantEvTyp: "user.session.start",
		},
		{
			name:      "uuid generated, published kept",
			raw:       `{"eventType":"x","published":"2025-12-31T23:59:59.5+01:00"}`,
			now:       now,
			wantData:  `{"uuid":"%UUID%","eventType":"x","published":"2025-12-31T23:59:59.5+01:00"}`,
			wantPub:   time.Date(2025, 12, 31, 22, 59, 59, 500_000_000, time.UTC),
			wantEvTyp: "x",
		},
		{
			name:      "now in another zone is written in UTC with milliseconds",
			raw:       `{"uuid":"u2","eventType":"x"}`,
			now:       time.Date(2026, 3, 4, 7, 6, 7, 0, local),
			wantData:  `{"published":"2026-03-04T05:06:07.000Z","uuid":"u2","eventType":"x"}`,
			wantUUID:  "u2",
			wantPub:   time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
			wantEvTyp: "x",
		},
		{
			name: "compact keeps member order, unknown fields and escapes",
			raw: "  { \"z\" : 1,\n \"eventType\" : \"app.thing\",\t\"a\": {\"b\": [1, 2, {\"c\": null}]},\n" +
				" \"uuid\": \"u3\", \"published\": \"2026-01-01T00:00:00Z\", \"msg\": \"a \\u00e9 \\\"q\\\" <b>\" }\n",
			now:       now,
			wantData:  `{"z":1,"eventType":"app.thing","a":{"b":[1,2,{"c":null}]},"uuid":"u3","published":"2026-01-01T00:00:00Z","msg":"a \u00e9 \"q\" <b>"}`,
			wantUUID:  "u3",
			wantPub:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			wantEvTyp: "app.thing",
		},
		{
			name:      "same name in different objects, valid surrogate pair, UTF-8 text",
			raw:       `{"eventType":"x","uuid":"u4","published":"2026-01-01T00:00:00Z","k":{"k":[{"k":1},{"k":2}]},"s":"\ud83d\ude00 é 😀"}`,
			now:       now,
			wantData:  `{"eventType":"x","uuid":"u4","published":"2026-01-01T00:00:00Z","k":{"k":[{"k":1},{"k":2}]},"s":"\ud83d\ude00 é 😀"}`,
			wantUUID:  "u4",
			wantPub:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			wantEvTyp: "x",
		},
		{
			name:      "uuid with punctuation a message id allows",
			raw:       `{"eventType":"x","uuid":"src/2026:01.a_b-c~!#","published":"2026-01-01T00:00:00Z"}`,
			now:       now,
			wantData:  `{"eventType":"x","uuid":"src/2026:01.a_b-c~!#","published":"2026-01-01T00:00:00Z"}`,
			wantUUID:  "src/2026:01.a_b-c~!#",
			wantPub:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			wantEvTyp: "x",
		},
		{
			name:      "eventType at the length limit",
			raw:       `{"uuid":"u5","published":"2026-01-01T00:00:00Z","eventType":"` + strings.Repeat("e", event.MaxEventTypeLen) + `"}`,
			now:       now,
			wantData:  `{"uuid":"u5","published":"2026-01-01T00:00:00Z","eventType":"` + strings.Repeat("e", event.MaxEventTypeLen) + `"}`,
			wantUUID:  "u5",
			wantPub:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			wantEvTyp: strings.Repeat("e", event.MaxEventTypeLen),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := event.Parse([]byte(tt.raw), "acme", tt.now)
			if err != nil {
				t.Fatal(err)
			}
			wantUUID := tt.wantUUID
			if wantUUID == "" {
				if _, err := uuid.Parse(ev.UUID); err != nil {
					t.Fatalf("got uuid %q, want a generated UUID", ev.UUID)
				}
				wantUUID = ev.UUID
			}
			if ev.UUID != wantUUID {
				t.Errorf("got uuid %q, want %q", ev.UUID, wantUUID)
			}
			wantData := strings.ReplaceAll(tt.wantData, "%UUID%", ev.UUID)
			if string(ev.Data) != wantData {
				t.Errorf("got data\n%s\nwant\n%s", ev.Data, wantData)
			}
			if !ev.Published.Equal(tt.wantPub) {
				t.Errorf("got published %v, want %v", ev.Published, tt.wantPub)
			}
			if ev.EventType != tt.wantEvTyp {
				t.Errorf("got eventType %q, want %q", ev.EventType, tt.wantEvTyp)
			}
		})
	}
}

// TestParseEmptyUUIDAndPublished checks that an explicit empty or null uuid
// or published is refused: keeping it beside a generated one would store
// two members of the same name, and readers would take the empty one.
func TestParseEmptyUUIDAndPublished(t *testing.T) {
	for _, raw := range []string{
		`{"uuid":"","eventType":"x"}`,
		`{"uuid":null,"published":null,"eventType":"x"}`,
		`{"eventType":"x","published":""}`,
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := event.Parse([]byte(raw), "acme", now)
			if !errors.Is(err, event.ErrInvalid) {
				t.Fatalf("got err %v, want ErrInvalid", err)
			}
		})
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		org, eventType, want string
	}{
		{"acme", "user.session.start", "audit.acme.user.session.start"},
		{"acme", "x", "audit.acme.x"},
		{"a-b_C9", "App-Event_1.v2", "audit.a-b_C9.App-Event_1.v2"},
		{"acme", "a b.c*d.e>f", "audit.acme.a_b.c_d.e_f"},
		{"acme", "*.>", "audit.acme._._"},
		{"acme", "tab\there", "audit.acme.tab_here"},
		{"acme", "é", "audit.acme.__"}, // each byte of a non-ASCII letter
		{"acme", "a..b", "audit.acme.a._.b"},
		{"acme", ".lead.trail.", "audit.acme._.lead.trail._"},
		{"acme", "", "audit.acme._"},
		{"acme", ".", "audit.acme._._"},
	}
	for _, tt := range tests {
		t.Run(tt.eventType, func(t *testing.T) {
			if got := event.Subject(tt.org, tt.eventType); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidOrg(t *testing.T) {
	tests := []struct {
		org  string
		want bool
	}{
		{"acme", true},
		{"a", true},
		{"A-b_9", true},
		{strings.Repeat("o", 64), true},
		{strings.Repeat("o", 65), false},
		{"", false},
		{"*", false},
		{"a.b", false},
		{"a b", false},
		{"a>", false},
		{"acme\n", false},
		{"é", false},
	}
	for _, tt := range tests {
		t.Run(tt.org, func(t *testing.T) {
			if got := event.ValidOrg(tt.org); got != tt.want {
				t.Errorf("ValidOrg(%q): got %v, want %v", tt.org, got, tt.want)
			}
		})
	}
}

func TestWithUUID(t *testing.T) {
	tests := []struct{ raw, id, want string }{
		{`{"eventType":"x"}`, "e-1", `{"uuid":"e-1","eventType":"x"}`},
		{` {} `, "e-1", `{"uuid":"e-1"}`},
		{`{"uuid":"u","eventType":"x"}`, "e-1", `{"uuid":"u","eventType":"x"}`},
		{`{"eventType":"x"}`, "", `{"eventType":"x"}`},
		{`[1]`, "e-1", `[1]`},
	}
	for _, tt := range tests {
		if got := string(event.WithUUID([]byte(tt.raw), tt.id)); got != tt.want {
			t.Errorf("WithUUID(%s, %q): got %s, want %s", tt.raw, tt.id, got, tt.want)
		}
	}
}

// TestParseReadsEscapedNames checks that a member name written with escapes
// is the member it names, as it is to every JSON parser downstream.
func TestParseReadsEscapedNames(t *testing.T) {
	ev, err := event.Parse([]byte(`{"\u0065ventType":"x.y","uu\u0069d":"u-esc"}`), "acme", now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.EventType != "x.y" || ev.UUID != "u-esc" {
		t.Errorf("got eventType %q uuid %q, want x.y u-esc", ev.EventType, ev.UUID)
	}
}

func TestCheckObject(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" for valid
	}{
		{`{"source":"a","detail":{"eventType":"x"}}`, ""},
		{` {} `, ""},
		{`{"source":"a","source":"b"}`, `duplicate member "source"`},
		{`{"detail":{"x":"\udfff"}}`, "unpaired surrogate"},
		{"{\"a\":\"\xff\"}", "invalid UTF-8"},
		{`[{}]`, "not a JSON object"},
		{`{"a":1}{}`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			err := event.CheckObject([]byte(tt.raw))
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
