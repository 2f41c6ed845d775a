package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"
)

type oktaError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorCauses  []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

func TestBadInputIsRefusedAndStoresNothing(t *testing.T) {
	s := startServer(t, "")
	// A token without the write scope, for 403.
	var readOnly struct {
		Token string `json:"token"`
	}
	s.mustJSON("POST", "/api/v1/tokens", map[string]any{"name": "reader", "org": "acme", "scopes": []string{"logs.read"}}, 201, &readOnly)
	good, _ := events("bad", 3, constType("user.session.start"))
	bigEvent := []byte(`{"eventType":"x.y","pad":"` + strings.Repeat("a", 300<<10) + `"}`)

	tests := []struct {
		name        string
		token, ct   string
		body        []byte
		wantCode    int
		wantErrCode string
		wantCause   string
	}{
		{"malformed line", adminToken, "application/x-ndjson", joinLines([][]byte{good[0], []byte(`{"eventType": oops}`), good[1]}), 400, "E0000001", "line 2"},
		{"missing eventType", adminToken, "application/json", []byte(`[{"uuid":"a"},{"eventType":"ok.ok"}]`), 400, "E0000001", "index 0: invalid event: eventType is required"},
		{"not an object", adminToken, "application/json", []byte(`"hello"`), 400, "E0000003", ""},
		{"no token", "", "application/x-ndjson", joinLines(good), 401, "E0000011", ""},
		{"bad token", "nope", "application/x-ndjson", joinLines(good), 401, "E0000011", ""},
		{"wrong scope", readOnly.Token, "application/x-ndjson", joinLines(good), 403, "E0000006", "events.write"},
		{"oversize event", adminToken, "application/x-ndjson", bigEvent, 413, "E0000001", "line 1"},
		{"oversize body", adminToken, "application/x-ndjson", bytes.Repeat(append(good[0], '\n'), 12<<20/len(good[0])), 413, "E0000001", ""},
		{"wrong content type", adminToken, "text/plain", joinLines(good), 415, "E0000001", ""},
		// The review's M4 and L1: I-JSON and uuids that travel unchanged.
		{"duplicate eventType", adminToken, "application/x-ndjson", joinLines([][]byte{good[0], []byte(`{"eventType":"first.type","eventType":"second.type","uuid":"dup-key-1"}`)}),
			400, "E0000001", `line 2: invalid event: duplicate member "eventType"`},
		{"duplicate uuid", adminToken, "application/json", []byte(`[` + string(good[0]) + `,{"eventType":"dupuuid","uuid":"dupu-1","uuid":"dupu-2"}]`),
			400, "E0000001", `index 1: invalid event: duplicate member "uuid"`},
		{"invalid UTF-8", adminToken, "application/x-ndjson", joinLines([][]byte{good[0], []byte("{\"eventType\":\"x\",\"x\":\"\xff\xfe\xc3\"}")}),
			400, "E0000001", "line 2: invalid event: invalid UTF-8"},
		{"lone surrogate", adminToken, "application/json", []byte(`{"eventType":"a\ud800"}`), 400, "E0000001", "unpaired surrogate"},
		{"uuid with CR LF", adminToken, "application/json", []byte(`{"eventType":"x","uuid":"inj-2\r\nAudit-Org: orgb"}`), 400, "E0000001", "uuid has"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := s.ingestWith(tt.token, tt.ct, tt.body)
			if code != tt.wantCode {
				t.Fatalf("got %d %s, want %d", code, body, tt.wantCode)
			}
			var e oktaError
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %s: %v", body, err)
			}
			if e.ErrorCode != tt.wantErrCode || e.ErrorSummary == "" {
				t.Fatalf("got errorCode %q summary %q, want %s and a summary", e.ErrorCode, e.ErrorSummary, tt.wantErrCode)
			}
			if tt.wantCause != "" {
				var causes []string
				for _, c := range e.ErrorCauses {
					causes = append(causes, c.ErrorSummary)
				}
				if !strings.Contains(strings.Join(causes, "|"), tt.wantCause) {
					t.Fatalf("got causes %q, want one naming %q", causes, tt.wantCause)
				}
			}
		})
	}
	// Nothing of the refused requests was stored: the good events of the
	// malformed request are absent, so sending them now stores them anew.
	code, body := s.ingestWith(adminToken, "application/x-ndjson", joinLines(good))
	if code != 202 || !strings.Contains(string(body), `"accepted":3`) {
		t.Fatalf("after refusals: got %d %s, want 3 accepted", code, body)
	}
}

func TestIngestFormats(t *testing.T) {
	s := startServer(t, "")
	lines, _ := events("fmt", 4, constType("user.session.start"))
	// One object; an array; gzip NDJSON.
	if code, body := s.ingestWith(adminToken, "application/json", lines[0]); code != 202 || !strings.Contains(string(body), `"accepted":1`) {
		t.Fatalf("object: got %d %s", code, body)
	}
	arr := append(append([]byte("["), bytes.Join(lines[1:3], []byte(","))...), ']')
	if code, body := s.ingestWith(adminToken, "application/json", arr); code != 202 || !strings.Contains(string(body), `"accepted":2`) {
		t.Fatalf("array: got %d %s", code, body)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(joinLines(lines))
	zw.Close()
	req := zb.Bytes()
	code, body, _ := s.doGzip(req)
	if code != 202 || !strings.Contains(string(body), `"accepted":1,"duplicates":3`) {
		t.Fatalf("gzip: got %d %s, want 1 accepted 3 duplicates", code, body)
	}
	// An event without uuid or published gets both.
	if code, body := s.ingestWith(adminToken, "application/json", []byte(`{"eventType":"app.thing.happened","custom":{"k":1}}`)); code != 202 {
		t.Fatalf("minimal event: got %d %s", code, body)
	}
}
