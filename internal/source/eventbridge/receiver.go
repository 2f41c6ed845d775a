package eventbridge

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/source"
)

// Type is the source type name of receivers.
const Type = "eventbridge"

// HeaderAccount carries the envelope's account on the journal message.
const HeaderAccount = journal.HeaderAccount

// Journal is where received events go; *journal.Journal is one.
type Journal interface {
	Append(ctx context.Context, evs []event.Event) (journal.Result, error)
}

// Config is what a Receiver needs.
type Config struct {
	Store   *source.Store
	Journal Journal
	// Status returns a source's live status (Supervisor.StatusOf).
	Status  func(id string) *source.Status
	Metrics *source.Metrics
	Limits  api.Limits
	// Key signs the access tokens the token endpoint issues (LoadKey).
	Key []byte
	Log *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
}

// Receiver serves POST /api/v1/eventbridge and its token endpoint.
type Receiver struct {
	cfg      Config
	inflight chan struct{}
}

// maxInflight bounds concurrent requests, as for the ingest API: past it
// the answer is 429 and EventBridge retries.
const maxInflight = 64

// New builds a receiver.
func New(cfg Config) *Receiver {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits == (api.Limits{}) {
		cfg.Limits = api.DefaultLimits
	}
	return &Receiver{cfg: cfg, inflight: make(chan struct{}, maxInflight)}
}

// Routes are the receiver's endpoints; both authenticate by themselves.
func (rc *Receiver) Routes() []api.Route {
	return []api.Route{
		{Pattern: "POST /api/v1/eventbridge", OwnAuth: true, Handle: rc.receive},
		{Pattern: "POST /api/v1/eventbridge/token", OwnAuth: true, Handle: rc.token},
	}
}

// LoadKey returns the token signing key kept in kv, creating it on first
// use so that every node signs and checks with the same key.
func LoadKey(ctx context.Context, kv jetstream.KeyValue) ([]byte, error) {
	const name = "eventbridge.tokenKey"
	for range 3 {
		if e, err := kv.Get(ctx, name); err == nil {
			return e.Value(), nil
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("load token key: %w", err)
		}
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		if _, err := kv.Create(ctx, name, key); err == nil {
			return key, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("create token key: %w", err)
		}
	}
	return nil, errors.New("token key: lost the race three times")
}

// receiver is a receiver definition with its parsed settings.
type receiver struct {
	def source.Definition
	set Settings
}

// receivers lists the receivers, inactive ones too: a deactivated
// receiver still recognises its credentials, so that it can answer 503
// (EventBridge retries) instead of 401 (EventBridge drops the event).
func (rc *Receiver) receivers() []receiver {
	var out []receiver
	for _, d := range rc.cfg.Store.List() {
		if d.Type != Type {
			continue
		}
		var s Settings
		if err := json.Unmarshal(d.Settings, &s); err != nil || s.Auth.SecretSHA256 == "" {
			continue
		}
		out = append(out, receiver{def: d, set: s})
	}
	return out
}

// errUnauthorized is the answer to wrong credentials.
func errUnauthorized() error {
	return api.Errorf(http.StatusUnauthorized, api.CodeInvalidToken, "Invalid token provided")
}

// authenticate finds the receiver whose credentials the request carries.
func (rc *Receiver) authenticate(r *http.Request) (receiver, bool) {
	bearer := ""
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		bearer = strings.TrimSpace(tok)
	}
	user, pass, basic := r.BasicAuth()
	var claims tokenClaims
	validToken := bearer != "" && rc.verifyToken(bearer, &claims)
	for _, rv := range rc.receivers() {
		a := rv.set.Auth
		switch a.Type {
		case AuthAPIKey:
			if v := r.Header.Get(a.Header); v != "" && hashEqual(v, a.SecretSHA256) {
				return rv, true
			}
		case AuthBasic:
			if basic && user == a.Username && hashEqual(pass, a.SecretSHA256) {
				return rv, true
			}
		case AuthOAuth:
			if validToken && claims.Source == rv.def.ID && claims.Version == version(a.SecretSHA256) {
				return rv, true
			}
		}
	}
	return receiver{}, false
}

// version ties a token to the secret it was issued for: rotating the
// client secret revokes the tokens.
func version(hash string) string { return hash[:min(16, len(hash))] }

type tokenClaims struct {
	Source  string `json:"sid"`
	Version string `json:"ver"`
	Expires int64  `json:"exp"`
}

func (rc *Receiver) signToken(c tokenClaims) string {
	b, _ := json.Marshal(c)
	payload := base64.RawURLEncoding.EncodeToString(b)
	mac := hmac.New(sha256.New, rc.cfg.Key)
	mac.Write([]byte(payload))
	return "ebt." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (rc *Receiver) verifyToken(tok string, c *tokenClaims) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "ebt" || len(rc.cfg.Key) == 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, rc.cfg.Key)
	mac.Write([]byte(parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(b, c) != nil {
		return false
	}
	return rc.cfg.Now().Unix() < c.Expires
}

// token is the OAuth client credentials endpoint for API destination
// connections: client_id and client_secret as Basic credentials or as
// parameters (form, JSON body or query), answered with a bearer token.
func (rc *Receiver) token(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	oauthError := func(status int, code, desc string) error {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="auditstream"`)
		}
		w.Header().Set("Cache-Control", "no-store")
		api.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
		return nil
	}
	params := r.URL.Query()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var m map[string]any
		if json.Unmarshal(body, &m) == nil {
			for k, v := range m {
				if s, ok := v.(string); ok {
					params.Set(k, s)
				}
			}
		}
	default:
		if form, err := url.ParseQuery(string(body)); err == nil {
			for k, v := range form {
				params[k] = v
			}
		}
	}
	if gt := params.Get("grant_type"); gt != "" && gt != "client_credentials" {
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = params.Get("client_id"), params.Get("client_secret")
	}
	if id == "" || secret == "" {
		return oauthError(http.StatusUnauthorized, "invalid_client", "client authentication failed")
	}
	for _, rv := range rc.receivers() {
		a := rv.set.Auth
		if a.Type == AuthOAuth && a.ClientID == id && hashEqual(secret, a.SecretSHA256) {
			ttl := rv.set.tokenTTL()
			tok := rc.signToken(tokenClaims{Source: rv.def.ID, Version: version(a.SecretSHA256),
				Expires: rc.cfg.Now().Add(ttl).Unix()})
			w.Header().Set("Cache-Control", "no-store")
			api.WriteJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer",
				"expires_in": int(ttl / time.Second)})
			return nil
		}
	}
	rc.reject(http.StatusUnauthorized)
	return oauthError(http.StatusUnauthorized, "invalid_client", "client authentication failed")
}

func (rc *Receiver) reject(status int) {
	if rc.cfg.Metrics != nil {
		rc.cfg.Metrics.ReceiverRej.WithLabelValues(strconv.Itoa(status)).Inc()
	}
}

// envelope is an EventBridge event.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

type result struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// receive handles POST /api/v1/eventbridge. All or nothing: every envelope
// is checked before any event is stored, and 202 is sent only once the
// journal has them all.
func (rc *Receiver) receive(w http.ResponseWriter, r *http.Request, _ auth.Token) (err error) {
	defer func() {
		var e *api.Error
		if errors.As(err, &e) {
			rc.reject(e.Status)
		} else if err != nil {
			rc.reject(http.StatusInternalServerError)
		}
	}()
	select {
	case rc.inflight <- struct{}{}:
		defer func() { <-rc.inflight }()
	default:
		return &api.Error{Status: http.StatusTooManyRequests, Code: api.CodeRateLimit,
			Summary: "API call exceeded rate limit due to too many requests.", RetryAfter: time.Second}
	}
	rv, ok := rc.authenticate(r)
	if !ok {
		return errUnauthorized()
	}
	if rv.def.Status != source.StatusActive {
		return &api.Error{Status: http.StatusServiceUnavailable, Code: api.CodeUnavailable,
			Summary: "This receiver is deactivated; EventBridge keeps retrying until it is activated again", RetryAfter: time.Minute}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Header.Get("Content-Type") != "" && (err != nil || mt != "application/json") {
		return api.Errorf(http.StatusUnsupportedMediaType, api.CodeUnsupported, "Unsupported media type %q", r.Header.Get("Content-Type")).
			WithCauses("send application/json: one EventBridge event or an array of them")
	}
	body, err := rc.readBody(r)
	if err != nil {
		return err
	}
	now := rc.cfg.Now()
	evs, err := rc.parse(body, rv.def.Org, now)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 4*time.Second) // EventBridge waits 5 s
	defer cancel()
	res, err := rc.cfg.Journal.Append(ctx, evs)
	if err != nil {
		rc.cfg.Log.Warn("append to journal", "source", rv.def.ID, "events", len(evs), "err", err)
		return &api.Error{Status: http.StatusServiceUnavailable, Code: api.CodeUnavailable,
			Summary: "The journal could not store the events; retry (events are de-duplicated by uuid)", RetryAfter: time.Second}
	}
	var newest time.Time
	for _, ev := range evs {
		if ev.Published.After(newest) {
			newest = ev.Published
		}
	}
	if rc.cfg.Status != nil {
		rc.cfg.Status(rv.def.ID).Received(now, res.Stored, res.Duplicates, newest)
	}
	if m := rc.cfg.Metrics; m != nil {
		m.Events.WithLabelValues(rv.def.ID).Add(float64(res.Stored))
		m.Duplicates.WithLabelValues(rv.def.ID).Add(float64(res.Duplicates))
	}
	api.WriteJSON(w, http.StatusAccepted, result{Accepted: res.Stored, Duplicates: res.Duplicates})
	return nil
}

func malformed(cause string) error {
	return api.Errorf(http.StatusBadRequest, api.CodeMalformed, "The request body was not well-formed.").WithCauses(cause)
}

func (rc *Receiver) readBody(r *http.Request) ([]byte, error) {
	limit := rc.cfg.Limits.MaxBody
	tooLarge := api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "Request body too large").
		WithCauses(fmt.Sprintf("the body is larger than %d bytes", limit))
	if r.ContentLength > limit && r.Header.Get("Content-Encoding") == "" {
		return nil, tooLarge
	}
	var src io.Reader = http.MaxBytesReader(nil, r.Body, limit+1)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, malformed("gzip: " + err.Error())
		}
		defer zr.Close()
		src = zr
	default:
		return nil, api.Errorf(http.StatusUnsupportedMediaType, api.CodeUnsupported, "Unsupported content encoding %q", enc).
			WithCauses("send gzip or no Content-Encoding")
	}
	b, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, malformed("read body: " + err.Error())
	}
	if int64(len(b)) > limit {
		return nil, tooLarge
	}
	return b, nil
}

// parse checks the envelopes and turns their details into events.
func (rc *Receiver) parse(body []byte, org string, now time.Time) ([]event.Event, error) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '{':
		raws = []json.RawMessage{body}
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, malformed(err.Error())
		}
		if len(raws) > rc.cfg.Limits.MaxEvents {
			return nil, api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "Too many events in one request").
				WithCauses(fmt.Sprintf("at most %d events per request", rc.cfg.Limits.MaxEvents))
		}
	default:
		return nil, malformed("expected an EventBridge event (a JSON object) or an array of them")
	}
	if len(raws) == 0 {
		return nil, api.Errorf(http.StatusBadRequest, api.CodeValidation, "Api validation failed: events").
			WithCauses("the request holds no events")
	}
	evs := make([]event.Event, 0, len(raws))
	var causes []string
	for i, raw := range raws {
		where := "event"
		if len(raws) > 1 || body[0] == '[' {
			where = fmt.Sprintf("index %d", i)
		}
		ev, account, err := rc.parseOne(raw, org, now)
		if err != nil {
			var ae *api.Error
			if errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge {
				return nil, ae.WithCauses(where)
			}
			causes = append(causes, where+": "+err.Error())
			if len(causes) >= 20 {
				break
			}
			continue
		}
		ev.Account = account
		evs = append(evs, ev)
	}
	if len(causes) > 0 {
		return nil, api.Errorf(http.StatusBadRequest, api.CodeValidation, "Api validation failed: events").WithCauses(causes...)
	}
	return evs, nil
}

func (rc *Receiver) parseOne(raw json.RawMessage, org string, now time.Time) (event.Event, string, error) {
	// The envelope too must mean the same to every reader (one "source").
	if err := event.CheckObject(raw); err != nil {
		return event.Event{}, "", fmt.Errorf("envelope: %w", err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return event.Event{}, "", fmt.Errorf("not an EventBridge event: %v", err)
	}
	switch {
	case env.Source == "":
		return event.Event{}, "", errors.New("source is required")
	case len(env.Source) > 256:
		return event.Event{}, "", errors.New("source is longer than 256 characters")
	case len(bytes.TrimSpace(env.Detail)) == 0 || bytes.TrimSpace(env.Detail)[0] != '{':
		return event.Event{}, "", errors.New("detail must be a JSON object (the event)")
	}
	if len(env.Detail) > rc.cfg.Limits.MaxEvent {
		return event.Event{}, "", api.Errorf(http.StatusRequestEntityTooLarge, api.CodeTooLarge, "Event too large").
			WithCauses(fmt.Sprintf("the detail is %d bytes, more than the limit of %d", len(env.Detail), rc.cfg.Limits.MaxEvent))
	}
	// EventBridge keeps an event's id across retries: as the uuid it makes
	// retries of events without one de-duplicate.
	detail := event.WithUUID(env.Detail, env.ID)
	ev, err := event.Parse(detail, org, now)
	if err != nil {
		return event.Event{}, "", err
	}
	ev.Source = env.Source
	return ev, env.Account, nil
}
