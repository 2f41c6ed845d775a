package ebreceiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
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
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/source"
)

// Type is the source type name of receivers.
const Type = "eventbridge"

// Journal is where received events go; *journal.Journal is one.
type Journal interface {
	Append(ctx context.Context, evs []event.Record) (journal.Result, error)
}

// Config is what a Receiver needs.
type Config struct {
	Store   *source.Store
	Journal Journal
	// Status returns a source's live status (Supervisor.StatusOf).
	Status  func(id string) *source.Status
	Metrics *source.Metrics
	Limits  httpapi.Limits
	// Key signs the access tokens the token endpoint issues (LoadKey).
	Key []byte
	Log *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
}

// Receiver serves POST /api/v1/eventbridge/{sourceId} and its token
// endpoint, and the shared URL of the first version.
type Receiver struct {
	cfg  Config
	gate httpapi.Gate
	// dummy is hashed against for an unknown receiver, so that an unknown
	// id costs the same as a wrong credential.
	dummy string
	// warned holds the receivers already reported as keyed on a standard
	// header (logged once each, not per request).
	warned sync.Map
}

// maxInflight bounds concurrent requests, as for the ingest API: past it
// the answer is 429 and EventBridge retries.
const maxInflight = 64

// New builds a receiver.
func New(cfg Config) *Receiver {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Limits == (httpapi.Limits{}) {
		cfg.Limits = httpapi.DefaultLimits
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return &Receiver{cfg: cfg, gate: httpapi.NewGate(maxInflight), dummy: Hash(string(b))}
}

// Routes are the receiver's endpoints; all authenticate by themselves.
// The per-source routes are the ones to use; the shared ones serve only
// while a single receiver exists (resolve).
func (rc *Receiver) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Pattern: "POST /api/v1/eventbridge/{sourceId}", OwnAuth: true, Handle: rc.receive},
		{Pattern: "POST /api/v1/eventbridge/{sourceId}/token", OwnAuth: true, Handle: rc.token},
		{Pattern: "POST /api/v1/eventbridge", OwnAuth: true, Handle: rc.receive},
		{Pattern: "POST /api/v1/eventbridge/token", OwnAuth: true, Handle: rc.token},
	}
}

// TokenKeyName is the record of the key that signs the token endpoint's
// access tokens, in the sources' state bucket.
const TokenKeyName = "eventbridge.tokenKey"

// LoadKey returns the token signing key kept in kv, creating it on first
// use (kvstore.LoadKey: sealed at rest through c when an operator key is
// configured).
func LoadKey(ctx context.Context, kv jetstream.KeyValue, c kvstore.Codec) ([]byte, error) {
	return kvstore.LoadKey(ctx, kv, TokenKeyName, c)
}

// receiver is a receiver definition with its parsed settings.
type receiver struct {
	def source.Definition
	set Settings
}

// errAmbiguous answers the shared URL when more than one receiver exists.
// 409 is a status EventBridge retries, so deliveries wait (up to the
// rule's retry policy, 24 h by default) while the operator points the API
// destination at its receiver's own URL; nothing is lost or misrouted.
func errAmbiguous() error {
	return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeValidation,
		Summary: "Several EventBridge receivers exist: POST to the receiver's own URL, /api/v1/eventbridge/{sourceId}",
		Causes: []string{"the shared URL /api/v1/eventbridge serves only while a single receiver exists; " +
			"each source shows its URL in _links.receiver"}}
}

// resolve finds the receiver a request addresses: the {sourceId} of its
// path, or on the shared URL the one receiver that exists. ok is false
// for an unknown receiver, which the caller answers like wrong
// credentials (401), so that the answer tells nothing about which ids
// exist. Inactive receivers count: a deactivated receiver still
// recognises its credentials and answers 503 (EventBridge retries).
func (rc *Receiver) resolve(r *http.Request) (rv receiver, ok bool, err error) {
	var d source.Definition
	if id := r.PathValue("sourceId"); id != "" {
		d, ok = rc.cfg.Store.Get(id)
		ok = ok && d.Type == Type
	} else {
		n := 0
		for _, def := range rc.cfg.Store.List() {
			if def.Type == Type {
				d, n = def, n+1
			}
		}
		if n > 1 {
			return receiver{}, false, errAmbiguous()
		}
		ok = n == 1
	}
	if !ok || json.Unmarshal(d.Settings, &rv.set) != nil || rv.set.Auth.SecretSHA256 == "" {
		return receiver{}, false, nil
	}
	rv.def = d
	return rv, true, nil
}

// errUnauthorized is the answer to wrong credentials.
func errUnauthorized() error {
	return httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidToken, "Invalid token provided")
}

// authenticate checks the request's credentials against rv, the one
// receiver it addresses, and nothing else. found is false for an unknown
// receiver: a hash is still compared so the answer takes as long.
func (rc *Receiver) authenticate(r *http.Request, rv receiver, found bool) bool {
	if !found {
		hashEqual(r.Header.Get(DefaultHeader), rc.dummy)
		return false
	}
	a := rv.set.Auth
	switch a.Type {
	case AuthAPIKey:
		if StandardHeader(a.Header) {
			// Stored before such headers were refused: it would let in any
			// request; the owner has to name another header.
			if _, seen := rc.warned.LoadOrStore(rv.def.ID+"\x00"+a.Header, true); !seen {
				rc.cfg.Log.Warn("eventbridge receiver keyed on a standard header refuses every request; update its settings.auth.header",
					"source", rv.def.ID, "header", a.Header)
			}
			return false
		}
		v := r.Header.Get(a.Header)
		return v != "" && hashEqual(v, a.SecretSHA256)
	case AuthBasic:
		user, pass, ok := r.BasicAuth()
		return ok && subtle.ConstantTimeCompare([]byte(user), []byte(a.Username)) == 1 && hashEqual(pass, a.SecretSHA256)
	case AuthOAuth:
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		var claims tokenClaims
		return ok && strings.EqualFold(scheme, "Bearer") && rc.verifyToken(strings.TrimSpace(tok), &claims) &&
			claims.Source == rv.def.ID && claims.Version == version(a.SecretSHA256)
	}
	return false
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
// body parameters (form or JSON; a secret in the query string is
// refused), checked against the addressed receiver only and answered with
// a bearer token bound to it.
func (rc *Receiver) token(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	oauthError := func(status int, code, desc string) error {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="auditstream"`)
		}
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, status, map[string]string{"error": code, "error_description": desc})
		return nil
	}
	params := r.URL.Query()
	if params.Has("client_secret") {
		// RFC 6749 §2.3.1: credentials never in the URI, which access logs keep.
		rc.reject(http.StatusBadRequest)
		return oauthError(http.StatusBadRequest, "invalid_request", "send client_secret as Basic credentials or in the body, never in the query string")
	}
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
		rc.reject(http.StatusUnauthorized)
		return oauthError(http.StatusUnauthorized, "invalid_client", "client authentication failed")
	}
	rv, found, err := rc.resolve(r)
	if err != nil {
		rc.reject(http.StatusConflict)
		return oauthError(http.StatusConflict, "invalid_request",
			"several EventBridge receivers exist: use the receiver's own token endpoint, /api/v1/eventbridge/{sourceId}/token")
	}
	a := rv.set.Auth
	hash := a.SecretSHA256
	if !found {
		hash = rc.dummy
	}
	// Both compared every time (no early exit), against this receiver only.
	secretOK := hashEqual(secret, hash)
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(a.ClientID)) == 1
	if found && a.Type == AuthOAuth && idOK && secretOK {
		ttl := rv.set.tokenTTL()
		tok := rc.signToken(tokenClaims{Source: rv.def.ID, Version: version(a.SecretSHA256),
			Expires: rc.cfg.Now().Add(ttl).Unix()})
		w.Header().Set("Cache-Control", "no-store")
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer",
			"expires_in": int(ttl / time.Second)})
		return nil
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
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Limits of the envelope's fields. EventBridge's own values are far
// shorter (a 12-digit account, a uuid id, an ARN of at most 2048
// characters); the limits keep what can never be stored (the account and
// source travel as journal message headers) out with a 400, before
// anything of the request is stored.
const (
	maxField     = 256  // version, id, detail-type, source, account, region
	maxTime      = 64   // time
	maxResources = 100  // resources entries
	maxResource  = 2048 // one resource (an ARN)
)

// envelopeFields are the envelope's keys, which encoding/json matches
// ignoring case: each may appear once, in any spelling.
var envelopeFields = []string{"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}

// checkKeys refuses an envelope that holds a key twice (I-JSON, RFC 7493):
// encoding/json would take the last one while a reader of the stored
// event might take the first. Keys of the detail are event.Parse's to check.
func checkKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil // not an object: decoding reports it
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := t.(string)
		k := key
		for _, f := range envelopeFields {
			if strings.EqualFold(key, f) {
				k = f
				break
			}
		}
		if seen[k] {
			return fmt.Errorf("duplicate key %q in the envelope", key)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// checkEnvelope reports every field of env that cannot be stored, by name.
func checkEnvelope(env *envelope) []string {
	var out []string
	text := func(name, v string, limit int) {
		switch {
		case len(v) > limit:
			out = append(out, fmt.Sprintf("%s is %d bytes long, more than %d", name, len(v), limit))
		case !utf8.ValidString(v):
			out = append(out, name+" is not valid UTF-8")
		case strings.ContainsFunc(v, unicode.IsControl):
			out = append(out, name+" holds control characters")
		}
	}
	if env.Source == "" {
		out = append(out, "source is required")
	}
	for _, f := range []struct{ name, v string }{{"version", env.Version}, {"id", env.ID},
		{"detail-type", env.DetailType}, {"source", env.Source}, {"account", env.Account}, {"region", env.Region}} {
		text(f.name, f.v, maxField)
	}
	text("time", env.Time, maxTime)
	if len(env.Resources) > maxResources {
		out = append(out, fmt.Sprintf("resources has %d entries, more than %d", len(env.Resources), maxResources))
	} else {
		for i, r := range env.Resources {
			text(fmt.Sprintf("resources[%d]", i), r, maxResource)
		}
	}
	if d := bytes.TrimSpace(env.Detail); len(d) == 0 || d[0] != '{' {
		out = append(out, "detail must be a JSON object (the event)")
	}
	return out
}

// receive handles POST /api/v1/eventbridge/{sourceId} (and the shared
// URL). All or nothing: every field of every envelope is checked before
// any event is stored, all are appended in one call, and 202 is sent only
// once the journal has them all; a journal failure answers 503, and the
// retry stores each event once.
func (rc *Receiver) receive(w http.ResponseWriter, r *http.Request, _ auth.Token) (err error) {
	defer func() {
		if err != nil {
			rc.reject(httpapi.StatusOf(err))
		}
	}()
	release, err := rc.gate.Enter()
	if err != nil {
		return err
	}
	defer release()
	rv, found, err := rc.resolve(r)
	if err != nil {
		return err
	}
	if !rc.authenticate(r, rv, found) {
		return errUnauthorized()
	}
	if rv.def.Status != source.StatusActive {
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Summary: "This receiver is deactivated; EventBridge keeps retrying until it is activated again", RetryAfter: time.Minute}
	}
	_, body, err := httpapi.ReadPush(r, httpapi.Push{MaxBody: rc.cfg.Limits.MaxBody, Types: []string{"application/json"},
		Untyped: true, Hint: "send application/json: one EventBridge event or an array of them"})
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
		// Every envelope was checked above, so this is the journal failing
		// (retryable), never an event that cannot be stored. Events acked
		// before the failure are kept: EventBridge retries the whole
		// request, and de-duplication by uuid stores each event once.
		return (&httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Summary: "The journal could not store the events; retry (events are de-duplicated by uuid)", RetryAfter: time.Second}).
			WithCauses(fmt.Sprintf("%d of the %d events were confirmed stored before the failure, others may be; "+
				"retrying the same request stores each event once", res.Stored+res.Duplicates, len(evs)))
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
	httpapi.WriteJSON(w, http.StatusAccepted, httpapi.PushResult{Accepted: res.Stored, Duplicates: res.Duplicates})
	return nil
}

// parse checks the envelopes and turns their details into events.
func (rc *Receiver) parse(body []byte, org string, now time.Time) ([]event.Record, error) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '{':
		raws = []json.RawMessage{body}
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, httpapi.Malformed(err.Error())
		}
		if len(raws) > rc.cfg.Limits.MaxEvents {
			return nil, httpapi.TooManyEvents(rc.cfg.Limits.MaxEvents)
		}
	default:
		return nil, httpapi.Malformed("expected an EventBridge event (a JSON object) or an array of them")
	}
	if len(raws) == 0 {
		return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: events").
			WithCauses("the request holds no events")
	}
	evs := make([]event.Record, 0, len(raws))
	var causes []string
	for i, raw := range raws {
		where := "event"
		if len(raws) > 1 || body[0] == '[' {
			where = fmt.Sprintf("index %d", i)
		}
		ev, account, err := rc.parseOne(raw, org, now)
		if err != nil {
			var ae *httpapi.Error
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
		return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: events").WithCauses(causes...)
	}
	return evs, nil
}

func (rc *Receiver) parseOne(raw json.RawMessage, org string, now time.Time) (event.Record, string, error) {
	// The envelope must mean the same to every reader (one "source"):
	// no names Go's decoder would fold together, and I-JSON.
	if !utf8.Valid(raw) {
		return event.Record{}, "", errors.New("the envelope is not valid UTF-8")
	}
	if err := checkKeys(raw); err != nil {
		return event.Record{}, "", err
	}
	if err := event.CheckObject(raw); err != nil {
		return event.Record{}, "", fmt.Errorf("envelope: %w", err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return event.Record{}, "", fmt.Errorf("not an EventBridge event: %v", err)
	}
	if problems := checkEnvelope(&env); len(problems) > 0 {
		return event.Record{}, "", errors.New(strings.Join(problems, "; "))
	}
	if len(env.Detail) > rc.cfg.Limits.MaxEvent {
		return event.Record{}, "", httpapi.Errorf(http.StatusRequestEntityTooLarge, httpapi.CodeTooLarge, "Event too large").
			WithCauses(fmt.Sprintf("the detail is %d bytes, more than the limit of %d", len(env.Detail), rc.cfg.Limits.MaxEvent))
	}
	// EventBridge keeps an event's id across retries: as the uuid it makes
	// retries of events without one de-duplicate.
	detail := event.WithUUID(env.Detail, env.ID)
	ev, err := event.Parse(detail, org, now)
	if err != nil {
		return event.Record{}, "", err
	}
	ev.Source = env.Source
	return ev, env.Account, nil
}
