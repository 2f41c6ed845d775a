package app

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

func TestCheckAdminToken(t *testing.T) {
	tests := []struct {
		secret string
		sample bool // refused as a sample value
		short  bool
	}{
		{"change-me-to-a-long-random-value", true, false}, // the README's old sample
		{"CHANGE-ME-please-0123456789", true, false},
		{"changeme0123456789abcdef", true, false},
		{"change_me_0123456789abcdef", true, false},
		{"password0123456789", true, false},
		{"Secret-0123456789abcdef", true, false},
		{"admin-token-0123456789", true, false},
		{"example-token-0123456789", true, false},
		{"your-token-here-0123456789", true, false},
		{"short", false, true},
		{"rt-admin-token-0123456789abcdef", false, false},
		{"kq3J1n0p9Yd8Ylqf4m7eW2xZ+aB/cD==", false, false},
		{"e2e-admin-token-0123456789abcdef", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.secret, func(t *testing.T) {
			err := checkAdminToken(tt.secret)
			if got := errors.Is(err, ErrSampleToken); got != tt.sample {
				t.Errorf("got %v, want refused as a sample: %v", err, tt.sample)
			}
			if got := err != nil && strings.Contains(err.Error(), "at least 16 characters"); got != tt.short {
				t.Errorf("got %v, want refused as too short: %v", err, tt.short)
			}
			if err != nil && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("got %q, want an error that does not repeat the secret", err)
			}
		})
	}
}

// TestAdminTokenRotation restarts the service with a new
// AUDITSTREAM_ADMIN_TOKEN: the old value stops working, one token record
// remains, and the change is in the System Log. A token an earlier version
// created for the variable (under a random id) is revoked too.
func TestAdminTokenRotation(t *testing.T) {
	dir := t.TempDir()
	const first, second = "rt-admin-token-0123456789abcdef", "rotated-admin-token-9876543210fedcba"

	// A token as earlier versions left it: the variable's value under a
	// random id, never removed.
	const legacy = "legacy-admin-token-0123456789abcdef"
	func() {
		j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
		defer j.Close() // the service below opens dir next
		tokens, err := auth.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketTokens), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer tokens.Close()
		if _, err := tokens.Ensure(t.Context(), legacy, auth.Token{Name: auth.EnvTokenName, Org: auth.AllOrgs,
			Scopes: []auth.Scope{auth.ScopeAdmin}}); err != nil {
			t.Fatal(err)
		}
	}()

	r, err := launch(t, testConfig(dir), first)
	if err != nil {
		t.Fatal(err)
	}
	if code, b := r.call("GET", "/api/v1/tokens", first, nil); code != 200 {
		t.Fatalf("first value: got %d %s, want 200", code, b)
	}
	if code, _ := r.call("GET", "/api/v1/tokens", legacy, nil); code != 401 {
		t.Errorf("token an earlier version created: got %d, want 401", code)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	r, err = launch(t, testConfig(dir), second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	}()
	if code, _ := r.call("GET", "/api/v1/tokens", first, nil); code != 401 {
		t.Errorf("old value after rotation: got %d, want 401", code)
	}
	code, b := r.call("GET", "/api/v1/tokens", second, nil)
	if code != 200 {
		t.Fatalf("new value: got %d %s, want 200", code, b)
	}
	var list []struct{ ID, Name, Org string }
	if err := json.Unmarshal([]byte(b), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != auth.EnvTokenID || list[0].Name != auth.EnvTokenName || list[0].Org != auth.AllOrgs {
		t.Errorf("got tokens %s, want exactly one, %s", b, auth.EnvTokenID)
	}

	// The System Log has both rotations (the legacy token replaced by the
	// first value, the first by the second), as WARN.
	q := url.Values{"since": {"2020-01-01T00:00:00Z"}, "filter": {`eventType sw "system.api_token."`}}
	code, b = r.call("GET", "/api/v1/logs?"+q.Encode(), second, nil)
	if code != 200 {
		t.Fatalf("query: got %d %s", code, b)
	}
	var evs []struct {
		EventType string
		Severity  string
		Target    []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(b), &evs); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.EventType+"/"+ev.Severity)
		if len(ev.Target) != 1 || ev.Target[0].ID != auth.EnvTokenID {
			t.Errorf("got %s, want the target %s", b, auth.EnvTokenID)
		}
	}
	want := []string{"system.api_token.rotate/WARN", "system.api_token.rotate/WARN"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("got events %v, want %v", types, want)
	}
	if strings.Contains(b, first) || strings.Contains(b, auth.Hash(first)) {
		t.Errorf("got %s, want no secret or hash in the events", b)
	}
}

// TestAdminTokenUnchangedRestart checks that a restart with the same value
// keeps the token and writes no event; a sample value refuses to start.
func TestAdminTokenUnchangedRestart(t *testing.T) {
	dir := t.TempDir()
	const secret = "same-admin-token-0123456789abcdef"
	for i := range 2 {
		r, err := launch(t, testConfig(dir), secret)
		if err != nil {
			t.Fatal(err)
		}
		q := url.Values{"since": {"2020-01-01T00:00:00Z"}, "filter": {`eventType sw "system.api_token."`}}
		code, b := r.call("GET", "/api/v1/logs?"+q.Encode(), secret, nil)
		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		if code != 200 || strings.Count(b, `"eventType":"system.api_token.create"`) != 1 || strings.Contains(b, "rotate") {
			t.Errorf("start %d: got %d %s, want one system.api_token.create and no rotation", i+1, code, b)
		}
	}
	if _, err := launch(t, testConfig(dir), "change-me-to-a-long-random-value"); !errors.Is(err, ErrSampleToken) {
		t.Errorf("README's old sample value: got %v, want ErrSampleToken", err)
	}
}
