// Package oktatest is a fake Okta org for tests: it serves the System Log
// API (GET /api/v1/logs) with Okta's polling semantics and the org
// authorization server's token endpoint (POST /oauth2/v1/token) with
// private_key_jwt client authentication.
//
// Faithful where the poller can tell: polling mode (no until, ascending)
// filters on persistence time, always returns a rel="next" link (also on
// an empty page) and serves events in persistence order, which tests make
// differ from published order; bounded mode (since and until) filters and
// sorts by published and ends without a next link. Every response carries
// X-Rate-Limit-Limit, -Remaining and -Reset; past the limit the answer is
// 429 E0000047. Tests can inject 5xx bursts, stalls, refused cursors,
// revoked API tokens and expired access tokens, and read what the org saw.
package oktatest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config sets up a fake org.
type Config struct {
	// APIToken is the accepted SSWS token ("" accepts none).
	APIToken string
	// ClientID, KeyID and PublicKey register an OAuth service app whose
	// client assertions are checked (signature, kid, iss/sub, aud, exp,
	// jti reuse).
	ClientID  string
	KeyID     string
	PublicKey *rsa.PublicKey
	// TokenTTL is the access tokens' lifetime (default 1h), whole seconds.
	TokenTTL time.Duration
	// RateLimit is the calls allowed per Window to /api/v1/logs (0: 10000,
	// never reached in tests).
	RateLimit int
	// Window is the rate-limit window, whole seconds (default 60s).
	Window time.Duration
}

// Stats are what the org saw.
type Stats struct {
	// Requests counts calls to /api/v1/logs, 429s and errors included.
	Requests int
	// RateLimited counts 429 answers.
	RateLimited int
	// MaxInWindow is the most calls seen in one rate-limit window.
	MaxInWindow int
	// TokenRequests counts calls to the token endpoint, Tokens the tokens
	// issued.
	TokenRequests, Tokens int
	// AssertionErrors lists why client assertions were refused.
	AssertionErrors []string
	// Served counts events returned (re-reads included).
	Served int
	// RetryHeaders lists X-Okta-Retry-Count values seen.
	RetryHeaders []string
}

type stored struct {
	raw       json.RawMessage
	uuid      string
	published time.Time
	persisted time.Time
	seq       int
}

type failure struct {
	status int
	stall  time.Duration
}

// Org is a running fake org. Safe for concurrent use.
type Org struct {
	// URL is the org's base URL (http://127.0.0.1:port).
	URL string
	cfg Config
	srv *httptest.Server

	mu            sync.Mutex
	events        []stored
	windows       map[int64]int
	failures      []failure
	tokens        map[string]time.Time // access token → expiry
	jtis          map[string]bool
	rejectCursors int
	stats         Stats
}

// New starts a fake org on loopback. Close it when done.
func New(cfg Config) *Org {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 10000
	}
	o := &Org{cfg: cfg, windows: map[int64]int{}, tokens: map[string]time.Time{}, jtis: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/logs", o.logs)
	mux.HandleFunc("POST /oauth2/v1/token", o.token)
	o.srv = httptest.NewServer(mux)
	o.URL = o.srv.URL
	return o
}

// Transport serves requests to the org in-process, on the calling
// goroutine, without the network. It is for testing/synctest bubbles: a
// real connection's goroutines block on I/O, which keeps the bubble's
// fake clock from advancing. Requests go to the org whatever their host.
func (o *Org) Transport() http.RoundTripper { return inProcess{o.srv.Config.Handler} }

type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r
	return res, nil
}

// Close stops the org.
func (o *Org) Close() {
	o.srv.CloseClientConnections()
	o.srv.Close()
}

// Add persists events now, in the order given (the persistence order).
// Each must have a uuid and a published time.
func (o *Org) Add(events ...json.RawMessage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	for _, raw := range events {
		var h struct {
			UUID      string `json:"uuid"`
			Published string `json:"published"`
		}
		_ = json.Unmarshal(raw, &h)
		pub, _ := time.Parse(time.RFC3339Nano, h.Published)
		o.events = append(o.events, stored{raw: raw, uuid: h.UUID, published: pub, persisted: now, seq: len(o.events) + 1})
	}
}

// FailNext makes the next n calls to /api/v1/logs answer status.
func (o *Org) FailNext(n, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for range n {
		o.failures = append(o.failures, failure{status: status})
	}
}

// StallNext makes the next n calls wait d before answering (a timeout for
// a client with a shorter one).
func (o *Org) StallNext(n int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for range n {
		o.failures = append(o.failures, failure{stall: d})
	}
}

// SetAPIToken replaces the accepted API token ("" revokes it).
func (o *Org) SetAPIToken(tok string) {
	o.mu.Lock()
	o.cfg.APIToken = tok
	o.mu.Unlock()
}

// ExpireTokens makes every issued access token invalid.
func (o *Org) ExpireTokens() {
	o.mu.Lock()
	clear(o.tokens)
	o.mu.Unlock()
}

// RejectCursors makes the next n polling calls carrying an after cursor
// answer 400, as Okta does for a cursor it no longer knows.
func (o *Org) RejectCursors(n int) {
	o.mu.Lock()
	o.rejectCursors = n
	o.mu.Unlock()
}

// Stats returns what the org saw so far.
func (o *Org) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.stats
	s.AssertionErrors = slices.Clone(s.AssertionErrors)
	s.RetryHeaders = slices.Clone(s.RetryHeaders)
	return s
}

// Windows returns the calls counted per rate-limit window, by the window's
// start (Unix seconds).
func (o *Org) Windows() map[int64]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[int64]int, len(o.windows))
	for k, v := range o.windows {
		out[k] = v
	}
	return out
}

func writeError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errorCode": code, "errorSummary": summary,
		"errorLink": code, "errorId": "oae" + randHex(10), "errorCauses": []any{}})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (o *Org) logs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Okta-Request-Id", randHex(12))
	now := time.Now()
	win := int64(o.cfg.Window / time.Second)
	start := now.Unix() / win * win

	o.mu.Lock()
	o.stats.Requests++
	if v := r.Header.Get("X-Okta-Retry-Count"); v != "" {
		o.stats.RetryHeaders = append(o.stats.RetryHeaders, v)
	}
	o.windows[start]++
	used := o.windows[start]
	o.stats.MaxInWindow = max(o.stats.MaxInWindow, used)
	var fail failure
	if len(o.failures) > 0 {
		fail, o.failures = o.failures[0], o.failures[1:]
	}
	apiToken := o.cfg.APIToken
	o.mu.Unlock()

	h := w.Header()
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(o.cfg.RateLimit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(max(0, o.cfg.RateLimit-used)))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(start+win, 10))
	if used > o.cfg.RateLimit {
		o.mu.Lock()
		o.stats.RateLimited++
		o.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		return
	}
	if fail.stall > 0 {
		select {
		case <-time.After(fail.stall):
		case <-r.Context().Done():
			return
		}
	}
	if fail.status != 0 {
		writeError(w, fail.status, "E0000009", "Internal Server Error")
		return
	}
	if !o.authorized(r.Header.Get("Authorization"), apiToken, now) {
		writeError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1000 {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: limit")
			return
		}
		limit = n
	}
	if so := q.Get("sortOrder"); so != "" && so != "ASCENDING" {
		writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: sortOrder (the fake serves ASCENDING only)")
		return
	}
	parseTime := func(name string, def time.Time) (time.Time, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: "+name)
			return time.Time{}, false
		}
		return t, true
	}
	until, ok := parseTime("until", now)
	if !ok {
		return
	}
	since, ok := parseTime("since", until.Add(-7*24*time.Hour))
	if !ok {
		return
	}
	if q.Get("until") == "" && since.Before(now.Add(-180*24*time.Hour)) {
		// Okta refuses starts older than 180 days (OKTA.md §1.1). The fake
		// applies it to polling only, so that bounded tests can ask for the
		// shared test data's old published times.
		writeError(w, http.StatusBadRequest, "E0000053", "Invalid parameter: since parameter is over 180 days prior to the current day.")
		return
	}
	if q.Get("until") != "" {
		o.bounded(w, q, since, until, limit)
		return
	}
	o.poll(w, q, since, limit)
}

func (o *Org) authorized(h, apiToken string, now time.Time) bool {
	scheme, tok, _ := strings.Cut(h, " ")
	switch scheme {
	case "SSWS":
		return apiToken != "" && tok == apiToken
	case "Bearer":
		o.mu.Lock()
		defer o.mu.Unlock()
		exp, ok := o.tokens[tok]
		return ok && now.Before(exp)
	}
	return false
}

// stored returns the events keep accepts, in persistence order, at most
// max of them (all when max < 0).
func (o *Org) stored(max int, keep func(stored) bool) []stored {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []stored
	for _, e := range o.events {
		if len(out) == max {
			break
		}
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// served counts n events served.
func (o *Org) served(n int) {
	o.mu.Lock()
	o.stats.Served += n
	o.mu.Unlock()
}

// poll serves polling mode: persistence order from the after cursor.
func (o *Org) poll(w http.ResponseWriter, q url.Values, since time.Time, limit int) {
	afterSeq := 0
	if a := q.Get("after"); a != "" {
		o.mu.Lock()
		reject := o.rejectCursors > 0
		if reject {
			o.rejectCursors--
		}
		o.mu.Unlock()
		_, seq, ok := strings.Cut(a, "_")
		n, err := strconv.Atoi(seq)
		if reject || !ok || err != nil {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after")
			return
		}
		afterSeq = n
	}
	out := o.stored(limit, func(e stored) bool { return e.seq > afterSeq && !e.persisted.Before(since) })
	o.served(len(out))
	next := url.Values{}
	for k, v := range q {
		next[k] = v
	}
	if len(out) > 0 {
		last := out[len(out)-1]
		next.Set("after", fmt.Sprintf("%d_%d", last.persisted.UnixMilli(), last.seq))
	}
	o.writePage(w, q, next, out)
}

// bounded serves bounded mode: published in [since, until), by published.
func (o *Org) bounded(w http.ResponseWriter, q url.Values, since, until time.Time, limit int) {
	offset := 0
	if a := q.Get("after"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after")
			return
		}
		offset = n
	}
	all := o.stored(-1, func(e stored) bool { return !e.published.Before(since) && e.published.Before(until) })
	slices.SortStableFunc(all, func(a, b stored) int { return a.published.Compare(b.published) })
	end := min(len(all), offset+limit)
	var out []stored
	if offset < len(all) {
		out = all[offset:end]
	}
	o.served(len(out))
	var next url.Values
	if end < len(all) {
		next = url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("after", strconv.Itoa(end))
	}
	o.writePage(w, q, next, out)
}

func (o *Org) writePage(w http.ResponseWriter, self, next url.Values, evs []stored) {
	links := []string{fmt.Sprintf(`<%s/api/v1/logs?%s>; rel="self"`, o.URL, self.Encode())}
	if next != nil {
		links = append(links, fmt.Sprintf(`<%s/api/v1/logs?%s>; rel="next"`, o.URL, next.Encode()))
	}
	for _, l := range links {
		w.Header().Add("Link", l)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.raw)
	}
	b.WriteByte(']')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// token is the org authorization server's token endpoint.
func (o *Org) token(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.stats.TokenRequests++
	o.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	reject := func(status int, code, why string) {
		o.mu.Lock()
		o.stats.AssertionErrors = append(o.stats.AssertionErrors, why)
		o.mu.Unlock()
		tokenError(w, status, code, why)
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		reject(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	case r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
		reject(http.StatusBadRequest, "invalid_request", "client_assertion_type must be jwt-bearer")
		return
	case !slices.Contains(strings.Fields(r.PostForm.Get("scope")), "okta.logs.read"):
		reject(http.StatusBadRequest, "invalid_scope", "scope okta.logs.read is required")
		return
	}
	if why := o.checkAssertion(r.PostForm.Get("client_assertion"), time.Now()); why != "" {
		reject(http.StatusUnauthorized, "invalid_client", why)
		return
	}
	tok := randHex(24)
	o.mu.Lock()
	o.tokens[tok] = time.Now().Add(o.cfg.TokenTTL)
	o.stats.Tokens++
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(o.cfg.TokenTTL / time.Second),
		"access_token": tok, "scope": "okta.logs.read"})
}

// checkAssertion verifies a private_key_jwt client assertion and returns
// why it is refused ("" when valid).
func (o *Org) checkAssertion(jwt string, now time.Time) string {
	if o.cfg.PublicKey == nil || o.cfg.ClientID == "" {
		return "no service app registered"
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "client_assertion is not a JWT"
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string  `json:"iss"`
		Sub string  `json:"sub"`
		Aud string  `json:"aud"`
		Exp float64 `json:"exp"`
		Iat float64 `json:"iat"`
		Jti string  `json:"jti"`
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return "client_assertion is malformed"
	}
	if header.Alg != "RS256" {
		return "alg must be RS256, got " + header.Alg
	}
	if o.cfg.KeyID != "" && header.Kid != o.cfg.KeyID {
		return fmt.Sprintf("kid %q is not the registered key %q", header.Kid, o.cfg.KeyID)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(o.cfg.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return "signature does not verify"
	}
	if claims.Iss != o.cfg.ClientID || claims.Sub != o.cfg.ClientID {
		return fmt.Sprintf("iss %q and sub %q must both be the client id %q", claims.Iss, claims.Sub, o.cfg.ClientID)
	}
	if want := o.URL + "/oauth2/v1/token"; claims.Aud != want {
		return fmt.Sprintf("aud %q must be %q", claims.Aud, want)
	}
	exp := time.Unix(int64(claims.Exp), 0)
	if !now.Before(exp) {
		return "the assertion has expired"
	}
	if exp.After(now.Add(time.Hour + time.Minute)) {
		return "exp is more than one hour ahead"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if claims.Jti != "" {
		if o.jtis[claims.Jti] {
			return "jti was used before"
		}
		o.jtis[claims.Jti] = true
	}
	return ""
}
