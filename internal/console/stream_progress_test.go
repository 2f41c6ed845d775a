package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

func TestStreamProgress(t *testing.T) {
	var lag, dead atomic.Int64
	e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
		switch c.Path {
		case "/api/v1/logStreams/0oa1":
			return 200, nil, storedStream
		case "/api/v1/logStreams/0oa1/status":
			return 200, nil, fmt.Sprintf(`{"id":"0oa1","state":"active","delivered":7,"lagEvents":%d}`, lag.Load())
		case "/api/v1/logStreams/0oa1/deadLetters":
			var b strings.Builder
			b.WriteString("[")
			for i := range dead.Load() {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"seq":%d,"uuid":"u%d","reason":"x"}`, i+1, i)
			}
			return 200, nil, b.String() + "]"
		case "/api/v1/logStreams/0oa1/replay":
			lag.Store(40)
			return 200, nil, storedStream
		case "/api/v1/logStreams/0oa1/deadLetters/redrive":
			dead.Store(1)
			return 200, nil, `{"redriven":3}`
		case "/api/v1/logStreams/other/status", "/api/v1/logStreams/other/deadLetters":
			return 404, nil, `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: other (LogStream)"}`
		}
		return 200, nil, "[]"
	})
	// Replay: the redirect carries the lag right after the start.
	w := e.do("POST", "/console/streams/0oa1/replay", url.Values{"csrf": {e.csrf}, "since": {"2026-01-01T10:00"}})
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/streams/0oa1?progress=replay&from=40&notice=") {
		t.Fatalf("replay: got %d %q", w.Code, loc)
	}
	tests := []struct {
		name      string
		lag, dead int64
		path      string
		want      []string
	}{
		{"page after replay", 40, 0, loc, []string{`data-kind="replay" data-running="true" data-from="40"`, `value="0"`, "running"}},
		{"replay half way", 20, 0, "/console/streams/0oa1/progress?kind=replay&from=40", []string{`data-running="true"`, `<strong id="op-percent">50%</strong>`, `<span id="op-left">20</span>`}},
		{"replay done", 0, 0, "/console/streams/0oa1/progress?kind=replay&from=40", []string{`data-running="false"`, `id="op-percent">100%<`, "done"}},
		{"redrive start", 0, 4, "/console/streams/0oa1/progress?kind=redrive", []string{`data-kind="redrive" data-running="true" data-from="4"`, `id="op-percent">0%<`}},
		{"redrive going", 0, 1, "/console/streams/0oa1/progress?kind=redrive&from=4", []string{`data-running="true"`, `id="op-percent">75%<`}},
		{"redrive all gone", 0, 0, "/console/streams/0oa1/progress?kind=redrive&from=4", []string{`data-running="false"`, `id="op-percent">100%<`}},
	}
	for _, tt := range tests {
		lag.Store(tt.lag)
		dead.Store(tt.dead)
		w := e.do("GET", tt.path, nil)
		if w.Code != 200 {
			t.Fatalf("%s: got %d %s", tt.name, w.Code, w.Body)
		}
		for _, s := range tt.want {
			if !strings.Contains(w.Body.String(), s) {
				t.Errorf("%s: got no %s in %s", tt.name, s, w.Body)
			}
		}
	}
	// Redrive: the answer's count and the letters the destination kept.
	dead.Store(4)
	w = e.do("POST", "/console/streams/0oa1/redrive", url.Values{"csrf": {e.csrf}, "from": {"4"}})
	loc = w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/streams/0oa1?progress=redrive&done=1&n=3&from=4&notice=") {
		t.Fatalf("redrive: got %d %q", w.Code, loc)
	}
	w = e.do("GET", loc, nil)
	for _, s := range []string{`data-running="false" data-from="4"`, `id="op-percent">75%<`, `<span id="op-redriven">3</span>`, "refused the rest again"} {
		if !strings.Contains(w.Body.String(), s) {
			t.Errorf("after redrive: got no %s", s)
		}
	}
	for _, path := range []string{"/console/streams/other/progress?kind=replay", "/console/streams/other/progress?kind=redrive"} {
		if w := e.do("GET", path, nil); w.Code != 404 {
			t.Errorf("%s: got %d, want 404", path, w.Code)
		}
	}
	if w := e.do("GET", "/console/streams/0oa1/progress?kind=nope", nil); w.Code != 400 {
		t.Errorf("unknown kind: got %d, want 400", w.Code)
	}
}
