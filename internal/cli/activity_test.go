package cli

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/query"
	"github.com/auditstream/auditstream/internal/wait"
)

// activityEvents are a few events of user 00uJANE in Okta's shape.
var activityEvents = []string{
	`{"uuid":"a1","published":"2026-03-01T10:00:00.000Z","eventType":"user.session.start","actor":{"id":"00uJANE","type":"User","alternateId":"jane@example.com","displayName":"Jane Doe"},"client":{"ipAddress":"203.0.113.7","geographicalContext":{"country":"Norway"},"userAgent":{"rawUserAgent":"Mozilla/5.0 Firefox/140.0","os":"Linux","browser":"FIREFOX"}},"securityContext":{"asNumber":2119,"asOrg":"telenor"},"outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}}`,
	`{"uuid":"a2","published":"2026-03-01T10:01:00.000Z","eventType":"user.session.start","actor":{"id":"00uJANE","type":"User","alternateId":"jane@example.com","displayName":"Jane Doe"},"client":{"ipAddress":"203.0.113.7","geographicalContext":{"country":"Norway"},"userAgent":{"rawUserAgent":"Mozilla/5.0 Firefox/140.0","os":"Linux","browser":"FIREFOX"}},"securityContext":{"asNumber":2119,"asOrg":"telenor"},"authenticationContext":{"externalSessionId":"idxS1"},"outcome":{"result":"SUCCESS"}}`,
	`{"uuid":"a3","published":"2026-03-01T10:01:30.000Z","eventType":"user.authentication.auth_via_mfa","actor":{"id":"00uJANE","type":"User","alternateId":"jane@example.com","displayName":"Jane Doe"},"client":{"ipAddress":"203.0.113.7"},"authenticationContext":{"externalSessionId":"idxS1"},"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH"}}}`,
	`{"uuid":"a4","published":"2026-03-01T10:05:00.000Z","eventType":"user.mfa.factor.reset_all","actor":{"id":"00uADMIN","type":"User","alternateId":"admin@example.com"},"target":[{"id":"00uJANE","type":"User","alternateId":"jane@example.com"}],"outcome":{"result":"SUCCESS"}}`,
}

// TestActivityUser prints a profile served by the real API over a real
// fold, and compares the summary with testdata/activity-user.txt.
func TestActivityUser(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	j := journaltest.Open(t)
	var evs []event.Record
	for _, raw := range activityEvents {
		evs = append(evs, eventtest.Parse(t, raw))
	}
	if _, err := j.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	store, err := activity.Open(t.Context(), activity.Config{}, activity.Deps{KV: journaltest.KV(t, j, activity.Bucket), Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); _ = store.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	last, err := j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the fold caught up", func() bool { return store.Cursor() >= last })

	tokens, err := auth.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketTokens), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tokens.Close)
	secret, _, err := tokens.Create(t.Context(), auth.Token{Name: "cli", Org: "acme", Scopes: []auth.Scope{auth.ScopeReadActivity}})
	if err != nil {
		t.Fatal(err)
	}
	q, err := query.New(t.Context(), j, query.Config{BaseURL: "http://public.invalid"}, log)
	if err != nil {
		t.Fatal(err)
	}
	a := activity.API{Store: store, Events: q, BaseURL: "http://public.invalid"}
	srv := httptest.NewServer(api.New(api.Deps{Journal: j, Tokens: tokens, Log: log, Registry: prometheus.NewRegistry(), Routes: a.Routes()}))
	t.Cleanup(srv.Close)
	vars := map[string]string{envURL: srv.URL, envToken: secret}

	r := run(t, Activity, vars, "", "user", "00uJANE")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("got exit %d, stderr %q, want 0 and none", r.code, r.stderr)
	}
	golden := filepath.Join("testdata", "activity-user.txt")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(want) {
		t.Errorf("got\n%s\nwant\n%s", r.stdout, want)
	}

	r = run(t, Activity, vars, "", "user", "00uNOBODY")
	if r.code == 0 || r.stderr == "" {
		t.Errorf("unknown user: got exit %d, stderr %q, want a failure with the server's message", r.code, r.stderr)
	}
}
