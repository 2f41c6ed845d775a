package api_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/httpapi"
)

// small limits make the size checks cheap to reach.
var small = httpapi.Limits{MaxBody: 4096, MaxEvent: 256, MaxEvents: 5}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func ev(uuid string) string {
	return fmt.Sprintf(`{"uuid":%q,"eventType":"user.session.start"}`, uuid)
}

func TestIngestAccepts(t *testing.T) {
	t.Parallel()
	s := newServer(t, small)
	ndjson := ev("n1") + "\n\n" + ev("n2") + "\r\n  \n" + ev("n3") // blank lines and CRLF are fine
	tests := []struct {
		name string
		body any
		hdr  []string
		want string
	}{
		{"object", ev("o1"), nil, `{"accepted":1,"duplicates":0}`},
		{"object again is a duplicate", ev("o1"), nil, `{"accepted":0,"duplicates":1}`},
		{"array", "[" + ev("a1") + "," + ev("a2") + "," + ev("o1") + "]", nil, `{"accepted":2,"duplicates":1}`},
		{"json with charset", ev("c1"), []string{"Content-Type", "application/json; charset=utf-8"}, `{"accepted":1,"duplicates":0}`},
		{"ndjson", ndjson, []string{"Content-Type", "application/x-ndjson"}, `{"accepted":3,"duplicates":0}`},
		{"jsonl", ev("l1"), []string{"Content-Type", "application/jsonl"}, `{"accepted":1,"duplicates":0}`},
		{"gzip json", gz(t, "["+ev("g1")+","+ev("g2")+"]"), []string{"Content-Encoding", "gzip"}, `{"accepted":2,"duplicates":0}`},
		{"gzip ndjson", gz(t, ev("g3")+"\n"+ev("g4")+"\n"), []string{"Content-Type", "application/x-ndjson", "Content-Encoding", "gzip"},
			`{"accepted":2,"duplicates":0}`},
		{"exactly MaxEvents", "[" + strings.Repeat(`{"eventType":"x"},`, small.MaxEvents-1) + `{"eventType":"x"}]`, nil,
			`{"accepted":5,"duplicates":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call("POST", "/api/v1/events", s.admin, tt.body, tt.hdr...)
			wantStatus(t, r, 202)
			if got := strings.TrimSpace(string(r.body)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestIngestRefuses(t *testing.T) {
	t.Parallel()
	s := newServer(t, small)
	big := `{"eventType":"x","pad":"` + strings.Repeat("p", small.MaxEvent) + `"}`
	nd := []string{"Content-Type", "application/x-ndjson"}
	tests := []struct {
		name   string
		body   any
		hdr    []string
		status int
		code   string
		causes []string
	}{
		{"text/plain", ev("x"), []string{"Content-Type", "text/plain"}, 415, httpapi.CodeUnsupported, []string{"application/x-ndjson"}},
		{"no content type", ev("x"), []string{"Content-Type", ""}, 415, httpapi.CodeUnsupported, nil},
		{"form", "a=b", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, httpapi.CodeUnsupported, nil},
		{"brotli", ev("x"), []string{"Content-Encoding", "br"}, 415, httpapi.CodeUnsupported, []string{"gzip"}},
		{"not gzip", ev("x"), []string{"Content-Encoding", "gzip"}, 400, httpapi.CodeMalformed, []string{"gzip"}},
		{"body too large", "[" + strings.Repeat(ev("x")+",", 100) + ev("x") + "]", nil, 413, httpapi.CodeTooLarge,
			[]string{"larger than 4096 bytes"}},
		{"gzip body too large once inflated", gz(t, strings.Repeat(" ", 10000)+ev("x")), []string{"Content-Encoding", "gzip"},
			413, httpapi.CodeTooLarge, []string{"larger than 4096 bytes"}},
		{"event too large", big, nil, 413, httpapi.CodeTooLarge, []string{"event: the event is", "more than the limit of 256"}},
		{"array event too large", "[" + ev("x") + "," + big + "]", nil, 413, httpapi.CodeTooLarge, []string{"index 1: the event is"}},
		{"ndjson event too large", ev("x") + "\n" + big, nd, 413, httpapi.CodeTooLarge, []string{"line 2: the event is"}},
		{"too many in an array", "[" + strings.Repeat(`{"eventType":"x"},`, small.MaxEvents) + `{"eventType":"x"}]`, nil,
			413, httpapi.CodeTooLarge, []string{"at most 5 events per request"}},
		{"too many ndjson lines", strings.Repeat(`{"eventType":"x"}`+"\n", small.MaxEvents+1), nd,
			413, httpapi.CodeTooLarge, []string{"at most 5 events per request"}},
		{"invalid object", `{"uuid":"u"}`, nil, 400, httpapi.CodeValidation, []string{"eventType is required"}},
		{"invalid array members", `[{"eventType":"ok"},{"uuid":"u"},{"eventType":"ok"},{"eventType":"x","published":"soon"},7]`, nil,
			400, httpapi.CodeValidation, []string{
				"index 1: invalid event: eventType is required",
				`index 3: invalid event: published "soon" is not an RFC 3339 time`,
				"index 4: invalid event: not a JSON object"}},
		{"invalid ndjson lines", `{"eventType":"ok"}` + "\n\n" + `{"eventType":3}` + "\n" + `{"eventType":"ok"` + "\n", nd,
			400, httpapi.CodeValidation, []string{"line 3: invalid event: eventType must be a string", "line 4: invalid event: malformed JSON"}},
		{"malformed array", `[{"eventType":"x"},`, nil, 400, httpapi.CodeMalformed, nil},
		// I-JSON (RFC 7493) and uuids that must travel unchanged (the review's M4 and L1).
		{"duplicate eventType", `{"eventType":"first.type","eventType":"second.type","uuid":"dup-key-1"}`, nil,
			400, httpapi.CodeValidation, []string{`invalid event: duplicate member "eventType"`}},
		{"duplicate uuid on an ndjson line", `{"eventType":"ok"}` + "\n" + `{"eventType":"dupuuid","uuid":"dupu-1","uuid":"dupu-2"}`, nd,
			400, httpapi.CodeValidation, []string{`line 2: invalid event: duplicate member "uuid"`}},
		{"duplicate nested member in an array", `[{"eventType":"ok"},{"eventType":"x","actor":{"id":"a","id":"b"}}]`, nil,
			400, httpapi.CodeValidation, []string{`index 1: invalid event: duplicate member "id"`}},
		{"invalid UTF-8", "{\"eventType\":\"x\",\"x\":\"\xff\xfe\xc3\"}", nil,
			400, httpapi.CodeValidation, []string{"invalid event: invalid UTF-8 at byte 22"}},
		{"lone surrogate in eventType", `{"eventType":"a\ud800"}`, nil,
			400, httpapi.CodeValidation, []string{`invalid event: unpaired surrogate \ud800`}},
		{"uuid with CR LF", `{"eventType":"x","uuid":"inj-2\r\nAudit-Org: orgb"}`, nil,
			400, httpapi.CodeValidation, []string{`invalid event: uuid has '\r'`}},
		{"uuid with wildcards", `[{"eventType":"x","uuid":"a*"},{"eventType":"x","uuid":"b>"},{"eventType":"x","uuid":"c d"}]`, nil,
			400, httpapi.CodeValidation, []string{"index 0: invalid event: uuid has '*'", "index 1: invalid event: uuid has '>'", "index 2: invalid event: uuid has ' '"}},
		{"scalar", `42`, nil, 400, httpapi.CodeMalformed, []string{"expected a JSON object or an array of objects"}},
		{"empty array", `[]`, nil, 400, httpapi.CodeValidation, []string{"the request holds no events"}},
		{"empty ndjson", "\n\n", nd, 400, httpapi.CodeValidation, []string{"the request holds no events"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.journalCount()
			r := s.call("POST", "/api/v1/events", s.admin, tt.body, tt.hdr...)
			wantError(t, r, tt.status, tt.code, tt.causes...)
			if after := s.journalCount(); after != before {
				t.Errorf("got %d events stored by a refused request, want none (all or nothing)", after-before)
			}
		})
	}
}

func TestIngestRejectedMetric(t *testing.T) {
	t.Parallel()
	s := newServer(t, small)
	wantStatus(t, s.call("POST", "/api/v1/events", s.admin, `[]`), 400)
	wantStatus(t, s.call("POST", "/api/v1/events", s.admin, ev("x"), "Content-Type", "text/plain"), 415)
	r := s.call("GET", "/metrics", s.admin, nil)
	for _, want := range []string{`auditstream_ingest_rejected_requests_total{code="400"} 1`,
		`auditstream_ingest_rejected_requests_total{code="415"} 1`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("got metrics without %s", want)
		}
	}
}

// TestIngestArrays checks arrays of events, which are parsed in place when
// all is well and read again the slow way for the error otherwise: white
// space, brackets and quotes inside strings, and the refusals of arrays
// that are not well-formed, whose elements are not all events.
func TestIngestArrays(t *testing.T) {
	t.Parallel()
	s := newServer(t, small)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
		cause  string
		want   string
	}{
		{name: "white space", body: " [ \n" + ev("w1") + " ,\r\n\t" + ev("w2") + "\n ] \n", status: 202, want: `{"accepted":2,"duplicates":0}`},
		{name: "brackets and quotes in strings", status: 202, want: `{"accepted":2,"duplicates":0}`,
			body: `[{"uuid":"b1","eventType":"x","s":"}]\"{[\\"},{"eventType":"x","uuid":"b2","t":["]",{"}":"{"}]}]`},
		{name: "loose event", body: `[{ "uuid" : "b3", "eventType" : "x" }]`, status: 202, want: `{"accepted":1,"duplicates":0}`},
		{name: "missing comma", body: `[` + ev("m1") + ev("m2") + `]`, status: 400, code: httpapi.CodeMalformed, cause: "invalid character '{' after array element"},
		{name: "trailing comma", body: `[` + ev("m3") + `,]`, status: 400, code: httpapi.CodeMalformed, cause: "invalid character ']'"},
		{name: "after the array", body: `[` + ev("m4") + `] x`, status: 400, code: httpapi.CodeMalformed, cause: "invalid character 'x' after top-level value"},
		{name: "unclosed", body: `[` + ev("m5"), status: 400, code: httpapi.CodeMalformed, cause: "unexpected end of JSON input"},
		{name: "malformed element", body: `[{"eventType":"x","a":tru}]`, status: 400, code: httpapi.CodeMalformed, cause: "invalid character '}' in literal true"},
		{name: "element refused", body: `[` + ev("m6") + `,{"eventType":"x","k":1,"k":2},"s"]`, status: 400, code: httpapi.CodeValidation,
			cause: `index 1: invalid event: duplicate member "k"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.journalCount()
			r := s.call("POST", "/api/v1/events", s.admin, tt.body)
			if tt.status == 202 {
				wantStatus(t, r, 202)
				if got := strings.TrimSpace(string(r.body)); got != tt.want {
					t.Errorf("got %s, want %s", got, tt.want)
				}
				return
			}
			wantError(t, r, tt.status, tt.code, tt.cause)
			if after := s.journalCount(); after != before {
				t.Errorf("got %d events stored by a refused request, want none (all or nothing)", after-before)
			}
		})
	}
}
