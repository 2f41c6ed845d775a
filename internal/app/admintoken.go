package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// minAdminToken is the shortest AUDITSTREAM_ADMIN_TOKEN accepted: it is an
// all-orgs admin credential, stored as a fast hash.
const minAdminToken = 16

// sampleTokenPrefixes are how values copied from documentation or typed in
// a hurry begin (compared ignoring case). Such a value is public or easy to
// guess, and as the all-orgs admin token it would open every org, so the
// service refuses to start with one. The list is short on purpose: it
// catches the README's old sample (change-me-to-a-long-random-value) and its
// kind, not every weak secret.
var sampleTokenPrefixes = []string{
	"change-me", "changeme", "change_me", "replace-me", "replaceme", "your-", "your_",
	"example", "sample", "password", "passw0rd", "secret", "admin", "token", "test1234", "12345678",
}

// ErrSampleToken is returned for an AUDITSTREAM_ADMIN_TOKEN that is a
// sample or well-known value.
var ErrSampleToken = errors.New("AUDITSTREAM_ADMIN_TOKEN looks like a sample value")

// checkAdminToken refuses admin tokens that are short or well known.
func checkAdminToken(secret string) error {
	if len(secret) < minAdminToken {
		return fmt.Errorf("AUDITSTREAM_ADMIN_TOKEN: at least %d characters, please use a long random value", minAdminToken)
	}
	lower := strings.ToLower(secret)
	for _, p := range sampleTokenPrefixes {
		if strings.HasPrefix(lower, p) {
			return fmt.Errorf("%w (it starts with %q): set a long random value, for example $(head -c 32 /dev/urandom | base64)",
				ErrSampleToken, p)
		}
	}
	return nil
}

// setAdminToken makes secret the one environment admin token (id
// auth.EnvTokenID): a changed value replaces the previous one, whose
// secret stops working at once. A first token is logged at INFO and a
// replacement at WARN, and both are written to the System Log of org
// (system.api_token.create, system.api_token.rotate).
func setAdminToken(ctx context.Context, tokens *auth.Store, j *journal.Journal, org string, secret string, log *slog.Logger) error {
	// The tokens bucket may have just been created on a cluster still
	// electing its leader: a first write that gets no answer is tried
	// again (SetFixed of the same secret is idempotent).
	var fx auth.Fixed
	err := journal.RetryStart(ctx, log, "admin token not stored yet", func(ctx context.Context) error {
		var err error
		fx, err = tokens.SetFixed(ctx, secret, auth.Token{ID: auth.EnvTokenID, Name: auth.EnvTokenName, Org: auth.AllOrgs,
			Scopes: []auth.Scope{auth.ScopeAdmin}})
		return err
	})
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	target := sysevent.Token(fx.Token)
	var spec sysevent.Spec
	switch {
	case len(fx.Revoked) > 0:
		ids := make([]string, len(fx.Revoked))
		for i, t := range fx.Revoked {
			ids[i] = t.ID
		}
		log.Warn("AUDITSTREAM_ADMIN_TOKEN changed: the previous admin token no longer works", "id", fx.Token.ID, "revoked", ids)
		spec = sysevent.Spec{Type: sysevent.TokenRotate, Severity: sysevent.SeverityWarn,
			Message: "Rotate API token set from AUDITSTREAM_ADMIN_TOKEN", Targets: []sysevent.Ref{target},
			Reason: "AUDITSTREAM_ADMIN_TOKEN changed", Debug: map[string]any{"revoked": ids}, Org: org}
	case fx.Created:
		log.Info("admin token from AUDITSTREAM_ADMIN_TOKEN is ready", "id", fx.Token.ID)
		spec = sysevent.Spec{Type: sysevent.TokenCreate, Message: "Create API token from AUDITSTREAM_ADMIN_TOKEN",
			Targets: []sysevent.Ref{target}, Org: org}
	default:
		log.Info("admin token from AUDITSTREAM_ADMIN_TOKEN is ready", "id", fx.Token.ID)
		return nil
	}
	if err := sysevent.Write(ctx, j, spec, time.Now()); err != nil {
		log.Warn("record admin token change", "event", spec.Type, "err", err)
	}
	return nil
}
