package okta

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/source"
)

// AssertionLifetime is how long a client assertion is valid: Okta accepts
// at most one hour; five minutes limits a leaked assertion's use.
const AssertionLifetime = 5 * time.Minute

// tokenSource gets and caches an access token with the client credentials
// grant and a private_key_jwt client assertion. Safe for concurrent use.
type tokenSource struct {
	tokenURL string
	clientID string
	keyID    string
	key      *rsa.PrivateKey
	client   *http.Client
	now      func() time.Time

	mu      sync.Mutex
	token   string
	refresh time.Time // when to get a new token
}

// Token returns a valid access token, fetching one when the cached token
// is missing or close to expiry.
func (t *tokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.refresh) {
		return t.token, nil
	}
	tok, life, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	// Refresh at eleven twelfths of the lifetime: 55 minutes of Okta's hour.
	t.token, t.refresh = tok, t.now().Add(life*11/12)
	return tok, nil
}

// Invalidate drops the cached token (after a 401).
func (t *tokenSource) Invalidate() {
	t.mu.Lock()
	t.token = ""
	t.mu.Unlock()
}

func (t *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	assertion, err := SignAssertion(t.key, t.keyID, t.clientID, t.tokenURL, t.now())
	if err != nil {
		return "", 0, &callError{kind: source.KindAuth, err: fmt.Errorf("sign client assertion: %w", err)}
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {Scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return "", 0, &callError{kind: source.KindNetwork, err: fmt.Errorf("token request: %w", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &out)
	switch {
	case resp.StatusCode >= 500:
		return "", 0, &callError{kind: source.KindServer, status: resp.StatusCode,
			err: fmt.Errorf("token endpoint: %s", resp.Status)}
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", 0, &callError{kind: source.KindRateLimited, status: resp.StatusCode,
			err: fmt.Errorf("token endpoint: %s", resp.Status)}
	case resp.StatusCode != http.StatusOK:
		return "", 0, &callError{kind: source.KindAuth, status: resp.StatusCode,
			err: fmt.Errorf("token endpoint refused the client: %s %s %s", resp.Status, out.Error, out.Description)}
	case out.AccessToken == "":
		return "", 0, &callError{kind: source.KindAuth, err: fmt.Errorf("token endpoint: no access_token in the answer")}
	case !strings.EqualFold(out.TokenType, "Bearer"):
		// DPoP-bound tokens need a proof per call; not supported yet.
		return "", 0, &callError{kind: source.KindAuth,
			err: fmt.Errorf("token endpoint issued a %q token; turn off \"Require DPoP\" for the service app", out.TokenType)}
	}
	life := time.Duration(out.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour
	}
	return out.AccessToken, life, nil
}

// SignAssertion builds the RS256 client assertion JWT Okta's token
// endpoint takes: iss and sub the client id, aud the token endpoint, a
// unique jti, expiring AssertionLifetime after now.
func SignAssertion(key *rsa.PrivateKey, keyID, clientID, audience string, now time.Time) (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if keyID != "" {
		header["kid"] = keyID
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	claims := map[string]any{
		"iss": clientID, "sub": clientID, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(AssertionLifetime).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
