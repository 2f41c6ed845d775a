package notifytest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/sink/notify/notifytest"
)

func post(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestWebhookAnswersAsScripted(t *testing.T) {
	h := notifytest.NewWebhook(t, "/hook", http.StatusOK, "ok")
	if res, text := post(t, h.URL+"/hook", `{"a":1}`); res.StatusCode != 200 || text != "ok" {
		t.Errorf("first post: got %d %q, want 200 ok", res.StatusCode, text)
	}
	if res, text := post(t, h.URL+"/other", `{"b":2}`); res.StatusCode != 404 || text != "no_service" {
		t.Errorf("other path: got %d %q, want 404 no_service", res.StatusCode, text)
	}
	h.Answer(http.StatusTooManyRequests, "rate_limited", "7")
	res, text := post(t, h.URL+"/hook", `{"c":3}`)
	if res.StatusCode != 429 || text != "rate_limited" || res.Header.Get("Retry-After") != "7" {
		t.Errorf("scripted: got %d %q Retry-After %q, want 429 rate_limited 7", res.StatusCode, text, res.Header.Get("Retry-After"))
	}
	got := h.Bodies()
	if len(got) != 2 || string(got[0]) != `{"a":1}` || string(got[1]) != `{"c":3}` {
		t.Errorf("bodies: got %q, want the two posts to /hook", got)
	}
}
