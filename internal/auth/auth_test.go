package auth_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestMain checks that no store leaves its watch goroutine behind once its
// journal is closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openKV starts an embedded journal and returns its tokens bucket.
func openKV(t *testing.T) jetstream.KeyValue {
	t.Helper()
	return journaltest.KV(t, journaltest.Open(t), journal.BucketTokens)
}

func newStore(t *testing.T, kv jetstream.KeyValue) *auth.Store {
	t.Helper()
	s, err := auth.NewStore(t.Context(), kv, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

var writer = auth.Token{Name: "ingest", Org: "acme", Scopes: []auth.Scope{auth.ScopeWriteEvents}}

func TestCreateStoresOnlyTheHash(t *testing.T) {
	kv := openKV(t)
	s := newStore(t, kv)
	ctx := t.Context()

	secret, tok, err := s.Create(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "as_") || len(secret) < 40 {
		t.Errorf("got secret %q, want as_ and 256 random bits", secret)
	}
	if !strings.HasPrefix(tok.ID, "tok") || tok.Name != "ingest" || tok.Org != "acme" || tok.Created.IsZero() {
		t.Errorf("got token %+v, want id tok…, name ingest, org acme and a creation time", tok)
	}
	if tok.Hash != auth.Hash(secret) {
		t.Errorf("got hash %q, want SHA-256 of the secret %q", tok.Hash, auth.Hash(secret))
	}

	got, ok := s.Authenticate(secret)
	if !ok || got.ID != tok.ID {
		t.Fatalf("Authenticate(secret): got %+v, %v, want token %s", got, ok, tok.ID)
	}
	for _, bad := range []string{"", "as_wrong", secret + "x", tok.Hash, tok.ID} {
		if got, ok := s.Authenticate(bad); ok {
			t.Errorf("Authenticate(%q): got %+v, want refused", bad, got)
		}
	}

	e, err := kv.Get(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(e.Value())
	if strings.Contains(raw, secret) || strings.Contains(raw, strings.TrimPrefix(secret, "as_")) {
		t.Errorf("got KV record %s, want it not to contain the secret", raw)
	}
	var stored auth.Token
	if err := json.Unmarshal(e.Value(), &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Hash != auth.Hash(secret) || stored.ID != tok.ID {
		t.Errorf("got stored %+v, want id %s and the secret's hash", stored, tok.ID)
	}
}

func TestCreateSecretsAreDistinct(t *testing.T) {
	s := newStore(t, openKV(t))
	seen := map[string]bool{}
	ids := map[string]bool{}
	for range 20 {
		secret, tok, err := s.Create(t.Context(), writer)
		if err != nil {
			t.Fatal(err)
		}
		if seen[secret] || ids[tok.ID] {
			t.Fatalf("got a repeated secret or id (%s), want fresh ones", tok.ID)
		}
		seen[secret], ids[tok.ID] = true, true
	}
	if n := len(s.List(auth.AllOrgs)); n != 20 {
		t.Errorf("got %d tokens, want 20", n)
	}
}

func TestCreateInvalid(t *testing.T) {
	s := newStore(t, openKV(t))
	_, _, err := s.Create(t.Context(), auth.Token{Name: "x", Org: "acme"})
	if err == nil || !strings.Contains(err.Error(), "scopes: at least one scope is required") {
		t.Errorf("got %v, want a scopes error", err)
	}
	if n := len(s.List(auth.AllOrgs)); n != 0 {
		t.Errorf("got %d tokens after a refused create, want 0", n)
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	kv := openKV(t)
	s := newStore(t, kv)
	ctx := t.Context()
	const secret = "a-long-admin-token-from-the-environment-0123456789"
	admin := auth.Token{Name: "AUDITSTREAM_ADMIN_TOKEN", Org: auth.AllOrgs, Scopes: []auth.Scope{auth.ScopeAdmin}}

	first, err := s.Ensure(ctx, secret, admin)
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Ensure(ctx, secret, auth.Token{Name: "other", Org: "acme", Scopes: []auth.Scope{auth.ScopeReadLogs}})
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Name != admin.Name || second.Org != auth.AllOrgs {
		t.Errorf("second Ensure: got %+v, want the first token %+v", second, first)
	}
	if n := len(s.List(auth.AllOrgs)); n != 1 {
		t.Errorf("got %d tokens, want 1", n)
	}
	if got, ok := s.Authenticate(secret); !ok || got.ID != first.ID || !got.Has(auth.ScopeManageStreams) {
		t.Errorf("Authenticate: got %+v, %v, want the admin token", got, ok)
	}

	// A restart (a new store on the same bucket) finds the same token.
	again := newStore(t, kv)
	third, err := again.Ensure(ctx, secret, admin)
	if err != nil {
		t.Fatal(err)
	}
	if third.ID != first.ID || !third.Created.Equal(first.Created) {
		t.Errorf("after restart: got %+v, want %+v", third, first)
	}
	if n := len(again.List(auth.AllOrgs)); n != 1 {
		t.Errorf("after restart: got %d tokens, want 1", n)
	}

	if _, err := s.Ensure(ctx, "another-secret", auth.Token{Name: "", Org: "acme"}); err == nil {
		t.Error("Ensure of an invalid new token: got nil error, want a validation error")
	}
}

func TestDeleteRevokes(t *testing.T) {
	kv := openKV(t)
	s := newStore(t, kv)
	ctx := t.Context()
	secret, tok, err := s.Create(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Authenticate(secret); ok {
		t.Error("Authenticate after Delete: got accepted, want refused")
	}
	if _, ok := s.Get(tok.ID); ok {
		t.Error("Get after Delete: got found, want not found")
	}
	if _, err := kv.Get(ctx, tok.ID); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("KV after Delete: got %v, want ErrKeyNotFound", err)
	}
	if err := s.Delete(ctx, tok.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("second Delete: got %v, want ErrNotFound", err)
	}
	// The store's own watch must not bring the token back.
	time.Sleep(50 * time.Millisecond)
	if _, ok := s.Authenticate(secret); ok {
		t.Error("Authenticate after the watch caught up: got accepted, want refused")
	}
}

func TestStoresShareTokensLive(t *testing.T) {
	kv := openKV(t)
	a := newStore(t, kv)
	ctx := t.Context()

	// Tokens present before a store starts are loaded before NewStore returns.
	early, earlyTok, err := a.Create(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	b := newStore(t, kv)
	if got, ok := b.Authenticate(early); !ok || got.ID != earlyTok.ID {
		t.Fatalf("second store at start: got %+v, %v, want token %s", got, ok, earlyTok.ID)
	}

	// Tokens created afterwards arrive through the watch.
	late, lateTok, err := a.Create(ctx, auth.Token{Name: "reader", Org: "other", Scopes: []auth.Scope{auth.ScopeReadStreams}})
	if err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the second store to see a new token", func() bool {
		_, ok := b.Authenticate(late)
		return ok
	})
	if got, ok := b.Get(lateTok.ID); !ok || got.Org != "other" || !got.Has(auth.ScopeReadStreams) {
		t.Errorf("second store Get: got %+v, %v, want %+v", got, ok, lateTok)
	}

	// And so do deletions, in both directions.
	if err := a.Delete(ctx, lateTok.ID); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the second store to drop a deleted token", func() bool {
		_, ok := b.Authenticate(late)
		return !ok
	})
	if err := b.Delete(ctx, earlyTok.ID); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the first store to drop a token deleted elsewhere", func() bool {
		_, ok := a.Authenticate(early)
		return !ok
	})
}

func TestStoreIgnoresBadRecords(t *testing.T) {
	kv := openKV(t)
	if _, err := kv.Put(t.Context(), "tokbroken", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, kv)
	if n := len(s.List(auth.AllOrgs)); n != 0 {
		t.Errorf("got %d tokens, want the bad record skipped", n)
	}
	secret, _, err := s.Create(t.Context(), writer)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Authenticate(secret); !ok {
		t.Error("got refused, want a good token to work next to a bad record")
	}
}

func TestList(t *testing.T) {
	s := newStore(t, openKV(t))
	ctx := t.Context()
	var ids []string
	for _, org := range []string{"acme", "other", "acme", auth.AllOrgs} {
		_, tok, err := s.Create(ctx, auth.Token{Name: "t", Org: org, Scopes: []auth.Scope{auth.ScopeReadLogs}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
		time.Sleep(2 * time.Millisecond) // distinct creation times (ms resolution)
	}
	tests := []struct {
		org  string
		want []string
	}{
		{auth.AllOrgs, ids},
		{"acme", []string{ids[0], ids[2]}},
		{"other", []string{ids[1]}},
		{"nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.org, func(t *testing.T) {
			var got []string
			for _, tok := range s.List(tt.org) {
				got = append(got, tok.ID)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v (oldest first)", got, tt.want)
			}
		})
	}
}

func TestHas(t *testing.T) {
	tests := []struct {
		name   string
		scopes []auth.Scope
		ask    auth.Scope
		want   bool
	}{
		{"own scope", []auth.Scope{auth.ScopeWriteEvents}, auth.ScopeWriteEvents, true},
		{"other scope", []auth.Scope{auth.ScopeWriteEvents}, auth.ScopeReadStreams, false},
		{"read is not manage", []auth.Scope{auth.ScopeReadStreams}, auth.ScopeManageStreams, false},
		{"manage is not admin", []auth.Scope{auth.ScopeManageStreams}, auth.ScopeAdmin, false},
		{"stream manage implies stream read", []auth.Scope{auth.ScopeManageStreams}, auth.ScopeReadStreams, true},
		{"source manage implies source read", []auth.Scope{auth.ScopeManageSources}, auth.ScopeReadSources, true},
		{"stream manage is not source read", []auth.Scope{auth.ScopeManageStreams}, auth.ScopeReadSources, false},
		{"source manage is not stream read", []auth.Scope{auth.ScopeManageSources}, auth.ScopeReadStreams, false},
		{"stream manage is not logs read", []auth.Scope{auth.ScopeManageStreams}, auth.ScopeReadLogs, false},
		{"admin implies write", []auth.Scope{auth.ScopeAdmin}, auth.ScopeWriteEvents, true},
		{"admin implies manage", []auth.Scope{auth.ScopeAdmin}, auth.ScopeManageStreams, true},
		{"admin has admin", []auth.Scope{auth.ScopeReadLogs, auth.ScopeAdmin}, auth.ScopeAdmin, true},
		{"no scopes", nil, auth.ScopeReadLogs, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (auth.Token{Scopes: tt.scopes}).Has(tt.ask); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCanAccessOrg(t *testing.T) {
	tests := []struct {
		tokOrg, org string
		want        bool
	}{
		{"acme", "acme", true},
		{"acme", "other", false},
		{"acme", auth.AllOrgs, false},
		{"acme", "", false},
		{auth.AllOrgs, "acme", true},
		{auth.AllOrgs, auth.AllOrgs, true},
	}
	for _, tt := range tests {
		t.Run(tt.tokOrg+"->"+tt.org, func(t *testing.T) {
			if got := (auth.Token{Org: tt.tokOrg}).CanAccessOrg(tt.org); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		tok  auth.Token
		want []string // "" alone means valid
	}{
		{"valid", auth.Token{Name: "n", Org: "acme", Scopes: auth.AllScopes}, nil},
		{"name at limit", auth.Token{Name: strings.Repeat("n", 100), Org: "*", Scopes: []auth.Scope{auth.ScopeAdmin}}, nil},
		{"empty name", auth.Token{Org: "acme", Scopes: []auth.Scope{auth.ScopeAdmin}}, []string{"name: must be 1 to 100 characters"}},
		{"long name", auth.Token{Name: strings.Repeat("n", 101), Org: "acme", Scopes: []auth.Scope{auth.ScopeAdmin}}, []string{"name: must be 1 to 100 characters"}},
		{"no org", auth.Token{Name: "n", Scopes: []auth.Scope{auth.ScopeAdmin}}, []string{"org: is required"}},
		{"no scopes", auth.Token{Name: "n", Org: "acme", Scopes: []auth.Scope{}}, []string{"scopes: at least one scope is required"}},
		{"unknown scope", auth.Token{Name: "n", Org: "acme", Scopes: []auth.Scope{"root"}}, []string{`scopes: unknown scope "root"`}},
		{"everything at once", auth.Token{Scopes: []auth.Scope{"x", "events.read"}}, []string{
			"name: must be 1 to 100 characters", "org: is required", `unknown scope "x"`, `unknown scope "events.read"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.Validate(tt.tok)
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestHash(t *testing.T) {
	// SHA-256 of "abc", the FIPS 180-2 example.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := auth.Hash("abc"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestDeleteIsNotUndoneByTheWatch checks that a revoked token stays revoked
// on the node that revoked it: the store's own watch may still be behind
// and deliver the token's earlier Put after Delete cleared the cache.
func TestDeleteIsNotUndoneByTheWatch(t *testing.T) {
	s := newStore(t, openKV(t))
	ctx := t.Context()
	for i := range 300 {
		secret, tok, err := s.Create(ctx, writer)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(10 * time.Millisecond); time.Now().Before(end); {
			if _, ok := s.Authenticate(secret); ok {
				t.Fatalf("round %d: got a deleted token accepted, want it refused from Delete on", i)
			}
		}
	}
}

// TestSetFixedReplaces checks that SetFixed keeps one record under the
// fixed id: the same secret changes nothing, a new secret replaces the old
// one at once (and on another node through the watch), and records of the
// same name under other ids are revoked.
func TestSetFixedReplaces(t *testing.T) {
	kv := openKV(t)
	s := newStore(t, kv)
	other := newStore(t, kv) // another node
	ctx := t.Context()
	env := auth.Token{ID: auth.EnvTokenID, Name: auth.EnvTokenName, Org: auth.AllOrgs, Scopes: []auth.Scope{auth.ScopeAdmin}}
	const legacy, first, second = "legacy-value-0123456789abcdef", "first-value-0123456789abcdef", "second-value-0123456789abcdef"
	old, err := s.Ensure(ctx, legacy, auth.Token{Name: auth.EnvTokenName, Org: auth.AllOrgs, Scopes: []auth.Scope{auth.ScopeAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	_, kept, err := s.Create(ctx, writer) // a token of another name stays
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		secret      string
		wantCreated bool
		wantRevoked []string
	}{
		{"first value revokes the legacy record", first, true, []string{old.ID}},
		{"same value changes nothing", first, false, nil},
		{"new value replaces the old", second, false, []string{auth.EnvTokenID}},
	}
	var prevCreated time.Time
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx, err := s.SetFixed(ctx, tt.secret, env)
			if err != nil {
				t.Fatal(err)
			}
			var revoked []string
			for _, r := range fx.Revoked {
				revoked = append(revoked, r.ID)
			}
			if fx.Created != tt.wantCreated || !slices.Equal(revoked, tt.wantRevoked) || fx.Token.ID != auth.EnvTokenID {
				t.Errorf("got created %v revoked %v token %s, want %v %v %s", fx.Created, revoked, fx.Token.ID, tt.wantCreated, tt.wantRevoked, auth.EnvTokenID)
			}
			if tt.name == "same value changes nothing" && !fx.Token.Created.Equal(prevCreated) {
				t.Errorf("got created %v, want %v kept", fx.Token.Created, prevCreated)
			}
			prevCreated = fx.Token.Created
			for _, st := range []*auth.Store{s, other} {
				wait.Eventually(t, "the stores to agree", func() bool {
					got, ok := st.Authenticate(tt.secret)
					return ok && got.ID == auth.EnvTokenID && len(st.List(auth.AllOrgs)) == 2
				})
				for _, gone := range []string{legacy, first, second} {
					if gone == tt.secret {
						continue
					}
					wait.Eventually(t, "the old value to stop working", func() bool {
						_, ok := st.Authenticate(gone)
						return !ok
					})
				}
				if _, ok := st.Get(kept.ID); !ok {
					t.Errorf("got token %s removed, want it kept", kept.ID)
				}
			}
		})
	}
	if _, err := s.SetFixed(ctx, first, auth.Token{Name: "x", Org: auth.AllOrgs, Scopes: []auth.Scope{auth.ScopeAdmin}}); err == nil {
		t.Error("SetFixed without an id: got nil error, want one")
	}
}
