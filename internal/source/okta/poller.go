package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/pause"
	"github.com/auditstream/auditstream/internal/source"
)

// Options tune pollers; the zero value means the defaults. Tests shorten
// the waits.
type Options struct {
	// PageSize is the limit parameter (default and maximum 1000).
	PageSize int
	// MinBackoff and MaxBackoff bound the backoff after 5xx, timeouts and
	// network errors (default 1s doubling to 60s); MaxBackoff also caps a
	// 429's wait.
	MinBackoff, MaxBackoff time.Duration
	// AuthRetry is the pause after the org refused the credential or the
	// request (default 60s).
	AuthRetry time.Duration
	// RequestTimeout bounds one call (default 60s: Okta times a query out
	// after 30s).
	RequestTimeout time.Duration
	// ResetMargin is added to a wait for the rate-limit window's reset
	// (default 1s, for clock skew).
	ResetMargin time.Duration
	// HTTPClient makes the calls (default: a client with RequestTimeout).
	HTTPClient *http.Client
	// Transport, when set, returns the transport d's poller sends
	// through: the app's, whose dialer applies the egress policy for d's
	// owner. It replaces HTTPClient's transport; the client's timeout and
	// redirect rule stay.
	Transport func(d source.Definition) http.RoundTripper
	// Egress, when set, refuses a baseUrl the egress policy does not
	// allow to the source's owner when the source is created or changed,
	// with a clear message (the dialer refuses it anyway).
	Egress *egress.Policy
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.PageSize <= 0 || o.PageSize > 1000 {
		o.PageSize = 1000
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 60 * time.Second
	}
	if o.AuthRetry <= 0 {
		o.AuthRetry = 60 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 60 * time.Second
	}
	if o.ResetMargin <= 0 {
		o.ResetMargin = time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.RequestTimeout,
			// Never follow a redirect off the org.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// NewType returns the "okta" source type for the app's table.
func NewType(opts Options) source.Type {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return source.Type{
		Prepare: func(settings, old json.RawMessage) (json.RawMessage, error) {
			return Prepare(settings, old, now())
		},
		SecretPaths: SecretPaths,
		Settings:    Settings{},
		NewRunner: func(d source.Definition, deps source.RunnerDeps) (source.Runner, error) {
			return New(d, deps, opts)
		},
		Check:  func(d source.Definition) error { return checkEgress(opts.Egress, d) },
		Verify: func(ctx context.Context, d source.Definition) error { return Verify(ctx, d, opts) },
	}
}

// Verify makes one System Log request with d's settings, as d's poller
// would (its token, or a token for its service app; its transport, so
// the egress policy of d's owner; Okta's rate limit headers honoured),
// for the last minute and one event, and keeps nothing: nil when the org
// answers it, else the org's refusal (401/403 with Okta's error code and
// summary, 429, a server error) or why the request could not be made.
// The credential is never in the error.
func Verify(ctx context.Context, d source.Definition, opts Options) error {
	pl, err := New(d, source.RunnerDeps{}, opts)
	if err != nil {
		return err
	}
	now := pl.opts.Now().UTC()
	q := url.Values{"since": {now.Add(-time.Minute).Format(event.TimeFormat)}, "until": {now.Format(event.TimeFormat)},
		"limit": {"1"}, "sortOrder": {"ASCENDING"}}
	_, err = pl.fetch(ctx, pl.p.base.String()+"/api/v1/logs?"+q.Encode(), nil)
	return err
}

// checkEgress asks the egress policy whether d's owner may reach d's
// baseUrl (only addresses and localhost are judged before dialling).
func checkEgress(p *egress.Policy, d source.Definition) error {
	var s Settings
	if err := json.Unmarshal(d.Settings, &s); err != nil {
		return fmt.Errorf("okta settings: %w", err)
	}
	u, err := url.Parse(s.BaseURL)
	if err != nil {
		return nil // Prepare reports it
	}
	port := 443
	if u.Scheme == "http" {
		port = 80
	}
	if n, err := strconv.Atoi(u.Port()); err == nil {
		port = n
	}
	trust := egress.Tenant
	if d.ByOperator() {
		trust = egress.Operator
	}
	if err := p.Check(trust, u.Hostname(), port); err != nil {
		return fmt.Errorf("settings.baseUrl: %w", err)
	}
	return nil
}

// Poller pulls one Okta org's System Log into the journal. Create it with
// New; Run and Backfill may run at the same time and share the rate limit.
type Poller struct {
	def    source.Definition
	p      params
	deps   source.RunnerDeps
	opts   Options
	log    *slog.Logger
	lim    *limiter
	tokens *tokenSource // nil with SSWS
	src    string
	seen   *recent
}

var _ source.Runner = (*Poller)(nil)

// New builds the poller of d.
func New(d source.Definition, deps source.RunnerDeps, opts Options) (*Poller, error) {
	opts = opts.withDefaults()
	if opts.Transport != nil {
		c := *opts.HTTPClient
		c.Transport = opts.Transport(d)
		opts.HTTPClient = &c
	}
	var s Settings
	if err := json.Unmarshal(d.Settings, &s); err != nil {
		return nil, fmt.Errorf("okta settings: %w", err)
	}
	p, err := parse(s, d.Created)
	if err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Status == nil {
		deps.Status = &source.Status{}
	}
	pl := &Poller{def: d, p: p, deps: deps, opts: opts, log: deps.Log,
		lim: newLimiter(p.share, opts.ResetMargin, opts.Now), src: p.eventSource(), seen: newRecent(recentSize)}
	if s.Auth.Type == AuthOAuth {
		pl.tokens = &tokenSource{tokenURL: p.base.String() + "/oauth2/v1/token", clientID: s.Auth.ClientID,
			keyID: s.Auth.KeyID, key: p.key, client: opts.HTTPClient, now: opts.Now}
	}
	return pl, nil
}

// callError is a failed call to the org.
type callError struct {
	kind      string
	status    int
	wait      time.Duration // a 429's wait, when the headers gave one
	requestID string
	err       error
}

func (e *callError) Error() string {
	if e.requestID != "" {
		return fmt.Sprintf("%v (X-Okta-Request-Id %s)", e.err, e.requestID)
	}
	return e.err.Error()
}

func (e *callError) Unwrap() error { return e.err }

// page is one answer of GET /api/v1/logs.
type page struct {
	events []json.RawMessage
	next   string
}

// retryInfo carries the X-Okta-Retry-* headers after a 429.
type retryInfo struct {
	forID string
	count int
}

// maxPageBytes bounds an answer: 1000 events of up to ~20 KB each.
const maxPageBytes = 64 << 20

var nextRE = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// fetch makes one call, within the rate limit.
func (pl *Poller) fetch(ctx context.Context, u string, retry *retryInfo) (page, error) {
	authz, err := pl.authorization(ctx)
	if err != nil {
		return page{}, err
	}
	err = pl.lim.acquire(ctx, func(rl source.RateLimit, d time.Duration) {
		pl.deps.Status.Throttled(rl)
		pl.log.Debug("waiting for the rate-limit window", "wait", d)
	})
	if err != nil {
		return page{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		pl.lim.release(nil, 0)
		return page{}, &callError{kind: source.KindRequest, err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", authz)
	req.Header.Set("User-Agent", "auditstream-okta-source")
	if retry != nil && retry.count > 0 {
		req.Header.Set("X-Okta-Retry-For", retry.forID)
		req.Header.Set("X-Okta-Retry-Count", strconv.Itoa(retry.count))
	}
	resp, err := pl.opts.HTTPClient.Do(req)
	if err != nil {
		pl.lim.release(nil, 0)
		pl.metric(0)
		return page{}, &callError{kind: source.KindNetwork, err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	rl := pl.lim.release(resp.Header, resp.StatusCode)
	pl.deps.Status.SetRateLimit(rl)
	if pl.deps.Metrics != nil && rl.Limit > 0 {
		pl.deps.Metrics.RateRemain.WithLabelValues(pl.def.ID).Set(float64(rl.Remaining))
	}
	pl.metric(resp.StatusCode)
	reqID := resp.Header.Get("X-Okta-Request-Id")
	fail := func(kind string, err error) error {
		return &callError{kind: kind, status: resp.StatusCode, requestID: reqID, err: err}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e := fail(source.KindRateLimited, fmt.Errorf("GET /api/v1/logs: %s", resp.Status)).(*callError)
		e.wait, _ = retryAfter429(resp.Header, pl.opts.MaxBackoff, pl.opts.Now())
		if retry != nil {
			retry.forID, retry.count = reqID, retry.count+1
		}
		return page{}, e
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return page{}, fail(source.KindAuth, fmt.Errorf("GET /api/v1/logs: %s: %w", resp.Status, oktaSummary(body)))
	case resp.StatusCode >= 500:
		return page{}, fail(source.KindServer, fmt.Errorf("GET /api/v1/logs: %s: %w", resp.Status, oktaSummary(body)))
	case resp.StatusCode != http.StatusOK:
		return page{}, fail(source.KindRequest, fmt.Errorf("GET /api/v1/logs: %s: %w", resp.Status, oktaSummary(body)))
	}
	if retry != nil {
		*retry = retryInfo{}
	}
	if err != nil {
		return page{}, fail(source.KindNetwork, fmt.Errorf("read page: %w", err))
	}
	if len(body) > maxPageBytes {
		return page{}, fail(source.KindServer, fmt.Errorf("page larger than %d bytes", maxPageBytes))
	}
	var pg page
	if err := json.Unmarshal(body, &pg.events); err != nil {
		return page{}, fail(source.KindServer, fmt.Errorf("page is not a JSON array: %v", err))
	}
	for _, v := range resp.Header.Values("Link") {
		if m := nextRE.FindStringSubmatch(v); m != nil {
			pg.next = m[1]
		}
	}
	return pg, nil
}

// oktaSummary is Okta's error code and summary from an error answer, or
// else the start of the body, which tenants' views leave out (the base
// URL may name something other than Okta).
func oktaSummary(body []byte) error {
	var e struct {
		Code    string `json:"errorCode"`
		Summary string `json:"errorSummary"`
	}
	if json.Unmarshal(body, &e) == nil && e.Code != "" {
		return errors.New(e.Code + " " + e.Summary)
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return &answerError{body: string(body)}
}

// answerError is the start of an answer that is not Okta's error object.
type answerError struct{ body string }

func (e *answerError) Error() string { return e.body }

// ResponseBody makes egress.PublicMessage leave the answer out.
func (e *answerError) ResponseBody() string { return e.body }

func (pl *Poller) metric(code int) {
	if pl.deps.Metrics == nil {
		return
	}
	c := "error"
	if code > 0 {
		c = strconv.Itoa(code)
	}
	pl.deps.Metrics.Requests.WithLabelValues(pl.def.ID, c).Inc()
}

func (pl *Poller) authorization(ctx context.Context) (string, error) {
	if pl.tokens == nil {
		return "SSWS " + pl.p.auth.Token, nil
	}
	tok, err := pl.tokens.Token(ctx)
	if err != nil {
		return "", err
	}
	return "Bearer " + tok, nil
}

// sameOrigin guards against a next link that leaves the org (SSRF).
func (pl *Poller) sameOrigin(link string) bool {
	u, err := url.Parse(link)
	return err == nil && u.Scheme == pl.p.base.Scheme && u.Host == pl.p.base.Host && u.User == nil
}

// pollURL is the first URL of a polling run from since.
func (pl *Poller) pollURL(since time.Time) string {
	// Okta keeps 90 days and refuses older starts with an error no retry
	// fixes (a restart from an old published time would hit it).
	if oldest := pl.opts.Now().Add(-MaxSince); since.Before(oldest) {
		since = oldest
	}
	q := url.Values{"since": {since.UTC().Format(event.TimeFormat)}, "limit": {strconv.Itoa(pl.opts.PageSize)},
		"sortOrder": {"ASCENDING"}}
	return pl.p.base.String() + "/api/v1/logs?" + q.Encode()
}

// boundedURL is the first URL of a backfill of [since, until).
func (pl *Poller) boundedURL(since, until time.Time) string {
	q := url.Values{"since": {since.UTC().Format(event.TimeFormat)}, "until": {until.UTC().Format(event.TimeFormat)},
		"limit": {strconv.Itoa(pl.opts.PageSize)}, "sortOrder": {"ASCENDING"}}
	return pl.p.base.String() + "/api/v1/logs?" + q.Encode()
}

// checkpoint is a source's saved cursor.
type checkpoint struct {
	// Next is the next link to request, exactly as the org gave it.
	Next string `json:"next"`
	// BaseURL is the org the link belongs to; a source moved to another
	// org starts afresh.
	BaseURL string `json:"baseUrl"`
	// LastPublished is the newest published time seen, where a refused
	// cursor restarts (minus the overlap).
	LastPublished time.Time `json:"lastPublished,omitzero"`
	Saved         time.Time `json:"saved"`
}

func (pl *Poller) loadCheckpoint(ctx context.Context) (checkpoint, error) {
	if pl.deps.Checkpoints == nil {
		return checkpoint{}, nil
	}
	e, err := pl.deps.Checkpoints.Get(ctx, pl.def.ID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, fmt.Errorf("load checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(e.Value(), &cp); err != nil {
		pl.log.Warn("bad checkpoint, starting afresh", "err", err)
		return checkpoint{}, nil
	}
	if cp.BaseURL != pl.p.base.String() || !pl.sameOrigin(cp.Next) {
		pl.log.Info("checkpoint is for another org URL, starting afresh", "checkpoint", cp.BaseURL)
		return checkpoint{}, nil
	}
	return cp, nil
}

func (pl *Poller) saveCheckpoint(ctx context.Context, cp checkpoint) error {
	if pl.deps.Checkpoints == nil {
		return nil
	}
	cp.BaseURL, cp.Saved = pl.p.base.String(), pl.opts.Now().UTC()
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	if _, err := pl.deps.Checkpoints.Put(ctx, pl.def.ID, b); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool { return pause.For(ctx, d) == nil }

// backoff is the n-th (from 1) wait after a transient failure: MinBackoff
// doubling to MaxBackoff, with jitter in [d/2, d].
func (pl *Poller) backoff(n int) time.Duration {
	d := pl.opts.MinBackoff
	for i := 1; i < n && d < pl.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, pl.opts.MaxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
