package detect

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

const oktaSource = "aws.partner/okta.com/acme/poller"

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// oktaEvent builds a LogEvent of org with the given type, result and actor,
// published at t.
func oktaEvent(org, uuid, typ, result, actor string, t time.Time) event.Record {
	data := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":%q,"version":"0","severity":"INFO",`+
		`"displayMessage":"User login to Okta","actor":{"id":%q,"type":"User","alternateId":"%s@example.com","displayName":"Jane Doe"},`+
		`"client":{"ipAddress":"203.0.113.7","userAgent":{"rawUserAgent":"curl"}},"outcome":{"result":%q},`+
		`"securityContext":{"asNumber":7922,"isProxy":false},"target":[]}`,
		uuid, t.UTC().Format(time.RFC3339Nano), typ, actor, actor, result)
	return event.Record{UUID: uuid, Org: org, EventType: typ, Published: t, Source: oktaSource, Data: []byte(data)}
}

// failures builds n failed sign-ins of actor, one a minute from start.
func failures(org, actor string, n int, start time.Time, prefix string) []event.Record {
	return failuresEvery(org, actor, n, start, time.Minute, prefix)
}

// failuresEvery builds n failed sign-ins of actor, step apart from start.
func failuresEvery(org, actor string, n int, start time.Time, step time.Duration, prefix string) []event.Record {
	var out []event.Record
	for i := range n {
		out = append(out, oktaEvent(org, fmt.Sprintf("%s-%02d", prefix, i), "user.session.start", "FAILURE", actor, start.Add(time.Duration(i)*step)))
	}
	return out
}

// recent is a start time for services, which advance idle orgs' clocks to
// the wall clock: events must be within allowedLateness of it.
func recent() time.Time { return time.Now().UTC().Add(-20 * time.Second).Truncate(time.Millisecond) }

func nativePack(t testing.TB) *Pack {
	t.Helper()
	files, err := ReadFiles(filepath.Join("testdata", "native"))
	if err != nil {
		t.Fatal(err)
	}
	return LoadPack("native", "", files, nil)
}

func nativeRegistry(t testing.TB) *Registry {
	return NewRegistry(DefaultRoutes(), nativePack(t))
}

// detections returns the detection events in the journal.
func detections(t testing.TB, j *journal.Journal) []event.Record {
	t.Helper()
	var out []event.Record
	for _, r := range journaltest.Records(t, j) {
		if strings.HasPrefix(r.EventType, EventTypePrefix) {
			r.Data = append([]byte(nil), r.Data...)
			out = append(out, r)
		}
	}
	return out
}

// startService runs a service over j until the returned stop is called.
func startService(t *testing.T, j *journal.Journal, reg *Registry, cfg Config, mod func(*Service)) (svc *Service, stop func()) {
	t.Helper()
	kv := journaltest.KV(t, j, BucketState)
	svc = New(cfg, Deps{Journal: j, Rules: StaticRules{Reg: reg}, StateKV: kv, Log: slog.New(slog.DiscardHandler)})
	if mod != nil {
		mod(svc)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = svc.Run(ctx) }()
	return svc, func() { cancel(); <-done }
}

// caughtUp waits until svc has evaluated every message in j.
func caughtUp(t *testing.T, j *journal.Journal, svc *Service) {
	t.Helper()
	var last uint64
	wait.Eventually(t, "the runtime evaluated the journal", func() bool {
		l, err := j.LastSeq(t.Context())
		if err != nil {
			return false
		}
		last = l
		return svc.Position() >= l
	}, wait.Within(15*time.Second), wait.Seen(func() string { return fmt.Sprintf("position %d, last %d", svc.Position(), last) }))
}

func appendAll(t *testing.T, j *journal.Journal, recs []event.Record) {
	t.Helper()
	if _, err := j.Append(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
}

// waitRaised waits until svc has appended at least n detections.
func waitRaised(t *testing.T, svc *Service, n uint64) {
	t.Helper()
	wait.Eventually(t, fmt.Sprintf("%d detections raised", n), func() bool { return svc.raised.Load() >= n },
		wait.Within(15*time.Second))
}

// TestMain checks that no test leaves a goroutine behind (the runtime's
// reader, the rules watcher).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
