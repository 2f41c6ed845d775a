package httpsink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
)

const (
	// tokenEarly is how long before its expiry a token is replaced, so a
	// request never leaves with a token that expires on the way; short
	// tokens are replaced after 90% of their life instead.
	tokenEarly = time.Minute
	// maxTokenResponse bounds the token endpoint's answer.
	maxTokenResponse = 64 << 10
)

// tokenSource fetches OAuth 2.0 client credentials tokens (RFC 6749
// section 4.4) and caches one until shortly before it expires.
type tokenSource struct {
	auth Auth
	url  *url.URL
	sink *Sink // client, clock, timeout, logger, target policy

	mu      sync.Mutex
	cached  string // "Bearer <access token>", "" when none cached
	refresh time.Time
}

// token returns the Authorization value, fetching a token if none is
// cached or the cached one is about to expire.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.cached != "" && (ts.refresh.IsZero() || ts.sink.deps.Now().Before(ts.refresh)) {
		return ts.cached, nil
	}
	tok, lifetime, err := ts.fetch(ctx)
	if err != nil {
		return "", err
	}
	ts.cached, ts.refresh = "Bearer "+tok, time.Time{}
	if lifetime > 0 {
		ts.refresh = ts.sink.deps.Now().Add(lifetime - min(tokenEarly, lifetime/10))
	}
	ts.sink.deps.Logger.DebugContext(ctx, "fetched oauth2 token", "tokenUrl", sink.ShowURL(ts.url), "expiresIn", lifetime)
	return ts.cached, nil
}

// invalidate drops the cached token if it is still auth, so the next call
// fetches a new one.
func (ts *tokenSource) invalidate(auth string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.cached == auth {
		ts.cached = ""
	}
}

// tokenResponse is the successful answer of a token endpoint.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// fetch asks the token endpoint for a token. Errors are classified: a
// refused client or a broken answer is a configuration error (credentials
// need an operator), throttling and server errors are retried.
func (ts *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	where := "oauth2 token from " + sink.ShowURL(ts.url)
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(ts.auth.Scopes) > 0 {
		form.Set("scope", strings.Join(ts.auth.Scopes, " "))
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}}
	// RFC 6749 section 2.3.1: the client id and secret are form-encoded
	// before they go into the Basic header.
	basic := http.Request{Header: h}
	basic.SetBasicAuth(url.QueryEscape(ts.auth.ClientID), url.QueryEscape(ts.auth.ClientSecret.Reveal()))
	resp, err := ts.sink.http.Do(ctx, sink.Request{Method: http.MethodPost, URL: ts.url, Header: h,
		Body: []byte(form.Encode()), Keep: maxTokenResponse + 1})
	if errors.Is(err, sink.ErrForbiddenTarget) {
		return "", 0, sink.Misconfigured(fmt.Errorf("%s: %w", where, err))
	}
	if err != nil {
		return "", 0, err
	}
	body := resp.Body
	if resp.StatusCode != http.StatusOK {
		return "", 0, ts.statusError(resp)
	}
	if len(body) > maxTokenResponse {
		return "", 0, sink.Misconfigured(fmt.Errorf("%s: answer larger than %d bytes", where, maxTokenResponse))
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, sink.Misconfigured(fmt.Errorf("%s: answer is not a token: %w", where, err))
	}
	if tr.AccessToken == "" {
		return "", 0, sink.Misconfigured(fmt.Errorf("%s: answer has no access_token", where))
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", 0, sink.Misconfigured(fmt.Errorf("%s: token_type %q: only bearer tokens are supported", where, tr.TokenType))
	}
	if strings.ContainsAny(tr.AccessToken, "\r\n\x00") {
		return "", 0, sink.Misconfigured(fmt.Errorf("%s: access_token contains a control character", where))
	}
	lifetime, err := expiresIn(tr.ExpiresIn)
	if err != nil {
		return "", 0, sink.Misconfigured(fmt.Errorf("%s: %w", where, err))
	}
	return tr.AccessToken, lifetime, nil
}

// statusError classifies a token endpoint's refusal. Unlike a delivery, a
// 400 here means bad client credentials or scopes (RFC 6749 section 5.2),
// so every 4xx but 408, 425 and 429 is a configuration error.
func (ts *tokenSource) statusError(resp sink.Response) error {
	err := &sink.StatusError{Method: resp.Method, URL: resp.URL, StatusCode: resp.StatusCode, Body: resp.Snippet}
	wrapped := fmt.Errorf("oauth2 token: %w", err)
	switch class, delay := sink.StatusClass(resp.StatusCode, resp.Header, ts.sink.deps.Now()); class {
	case sink.ClassThrottled, sink.ClassRetryable:
		return sink.Mark(wrapped, class, delay)
	default:
		return sink.Misconfigured(wrapped)
	}
}

// expiresIn reads expires_in, a number of seconds; some servers send it
// as a string. Missing means unknown: the token is used until refused.
func expiresIn(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	v := strings.Trim(string(raw), `"`)
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs < 0 {
		return 0, errors.New("expires_in is not a number of seconds")
	}
	return time.Duration(secs * float64(time.Second)), nil
}
