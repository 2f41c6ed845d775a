package query

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// TestOktaSDK lists and filters logs with Okta's own Go SDK, pointed at the
// server with an SSWS token, following its pagination (APIResponse.Next).
//
// The SDK keeps only the host name of OrgUrl (Configuration.Host is
// url.Hostname(), without the port) and overwrites every request's host
// with it, so it cannot reach a server on a non-default port by URL alone.
// The test therefore gives it an http.Client whose dialer connects to the
// test server whatever the address: the SDK itself is unchanged.
func TestOktaSDK(t *testing.T) {
	h := newHarness(t, Config{})
	evs := boundedEvents()
	h.append(evs...)
	addr := h.srv.Listener.Addr().String()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
	cfg, err := okta.NewConfiguration(
		okta.WithOrgUrl("http://"+addr),
		okta.WithToken(h.acme),
		okta.WithAuthorizationMode("SSWS"),
		okta.WithHttpClientPtr(hc),
		okta.WithCache(false),
		okta.WithTestingDisableHttpsCheck(true),
		okta.WithRateLimitMaxRetries(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	client := okta.NewAPIClient(cfg)
	lo, hi := t0, t0.Add(2*time.Hour)

	list := func(t *testing.T, req okta.ApiListLogEventsRequest) []string {
		t.Helper()
		page, resp, err := req.Execute()
		if err != nil {
			t.Fatalf("ListLogEvents: %v", err)
		}
		var got []string
		for {
			for _, e := range page {
				got = append(got, e.GetUuid())
			}
			if !resp.HasNextPage() {
				return got
			}
			page = nil
			resp, err = resp.Next(&page)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
		}
	}

	t.Run("list bounded", func(t *testing.T) {
		got := list(t, client.SystemLogAPI.ListLogEvents(t.Context()).Since(lo).Until(hi).Limit(100))
		want := sortedWant(evs, lo, hi, false, func(e ev) bool { return e.org == "acme" })
		if len(want) < 300 || !slices.Equal(got, want) {
			t.Fatalf("got %d events, want %d in published order", len(got), len(want))
		}
	})
	t.Run("filter and q", func(t *testing.T) {
		got := list(t, client.SystemLogAPI.ListLogEvents(t.Context()).Since(lo).Until(hi).Limit(20).
			Filter(`eventType eq "user.session.start" and outcome.result eq "FAILURE"`).Q("user3@example.com"))
		want := sortedWant(evs, lo, hi, false, func(e ev) bool {
			return e.org == "acme" && e.typ == "user.session.start" && e.actor == "user3@example.com" && containsFailure(e)
		})
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("descending", func(t *testing.T) {
		page, _, err := client.SystemLogAPI.ListLogEvents(t.Context()).Since(lo).Until(hi).SortOrder("DESCENDING").Limit(3).Execute()
		if err != nil {
			t.Fatal(err)
		}
		want := sortedWant(evs, lo, hi, true, func(e ev) bool { return e.org == "acme" })[:3]
		var got []string
		for _, e := range page {
			got = append(got, e.GetUuid())
			if e.GetEventType() == "" || e.Published == nil {
				t.Fatalf("event %s: got no eventType or published, want the LogEvent decoded", e.GetUuid())
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("polling first page", func(t *testing.T) {
		page, resp, err := client.SystemLogAPI.ListLogEvents(t.Context()).Since(time.Now().Add(-time.Hour)).Limit(1000).Execute()
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1000 || !resp.HasNextPage() {
			t.Fatalf("got %d events, next %v; want 1000 and a next page", len(page), resp.HasNextPage())
		}
	})
	t.Run("bad filter error", func(t *testing.T) {
		_, resp, err := client.SystemLogAPI.ListLogEvents(t.Context()).Filter(`eventType eqq "x"`).Execute()
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("got %v, want a 400 error", err)
		}
	})
}

func containsFailure(e ev) bool { return strings.Contains(e.extra, `"FAILURE"`) }
