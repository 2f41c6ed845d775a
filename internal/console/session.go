package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/auth"
)

// Bucket is the KV bucket console sessions are kept in, so that they
// survive a restart and are valid on every node sharing the journal.
const Bucket = "auditstream_console_sessions"

// session is one signed-in browser, as stored (under the hash of its id:
// the KV never holds a value that would open a session).
type session struct {
	// TokenID is set for a session opened with an API token: the token is
	// looked up on every request, so revoking it ends the session.
	TokenID string `json:"tokenId,omitempty"`
	// User is set for a session opened through OIDC: its identity (an
	// auth.Token with an "sso:" id, the scopes and org its groups map to).
	User *auth.Token `json:"user,omitempty"`
	// CSRF is the token every state-changing request must carry.
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
}

// sessions keeps sessions in a KV bucket.
type sessions struct {
	kv  jetstream.KeyValue
	ttl time.Duration
	now func() time.Time
}

// randomToken is 32 random bytes, URL-safe base64.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// create stores a new session and returns its id (the cookie's value).
func (s *sessions) create(ctx context.Context, sess session) (string, session, error) {
	id := randomToken()
	sess.CSRF = randomToken()
	sess.Expires = s.now().Add(s.ttl).UTC()
	b, err := json.Marshal(sess)
	if err != nil {
		return "", sess, err
	}
	if _, err := s.kv.Create(ctx, sessionKey(id), b); err != nil {
		return "", sess, fmt.Errorf("store session: %w", err)
	}
	return id, sess, nil
}

// errNoSession is a missing, unknown or expired session.
var errNoSession = errors.New("no session")

// get returns the session id names; an expired one is deleted.
func (s *sessions) get(ctx context.Context, id string) (session, error) {
	if id == "" {
		return session{}, errNoSession
	}
	e, err := s.kv.Get(ctx, sessionKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return session{}, errNoSession
	}
	if err != nil {
		return session{}, fmt.Errorf("read session: %w", err)
	}
	var sess session
	if err := json.Unmarshal(e.Value(), &sess); err != nil {
		return session{}, fmt.Errorf("decode session: %w", err)
	}
	if !s.now().Before(sess.Expires) {
		_ = s.end(ctx, id)
		return session{}, errNoSession
	}
	return sess, nil
}

// end deletes the session: sign-out ends it on the server, whatever
// the browser keeps.
func (s *sessions) end(ctx context.Context, id string) error {
	err := s.kv.Purge(ctx, sessionKey(id))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// checkCSRF compares the request's CSRF token with the session's in
// constant time.
func (sess session) checkCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}
