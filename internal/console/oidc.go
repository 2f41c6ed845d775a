package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
)

// OIDC is the console's OpenID Connect relying party: authorization code
// flow with PKCE (S256), a nonce in the ID token and a state bound to the
// browser by a cookie. The provider is discovered on first use (and again
// after a failure), so a provider that is down does not stop the service.
type OIDC struct {
	cfg    config.OIDC
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewOIDC returns the relying party for cfg; client (nil: the default) is
// used to reach the provider.
func NewOIDC(cfg config.OIDC, client *http.Client) *OIDC {
	if client == nil {
		client = http.DefaultClient
	}
	return &OIDC{cfg: cfg, client: client}
}

func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.client), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret.Reveal(),
		RedirectURL: o.cfg.RedirectURL, Endpoint: p.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups"}}
}

// pendingLogin is a sign-in under way, stored under its state.
type pendingLogin struct {
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"expires"`
}

const (
	stateCookie = "auditstream_oidc_state"
	loginTTL    = 10 * time.Minute
)

func loginKey(state string) string { return "login." + sessionKey(state) }

// oidcLogin starts the authorization code flow.
func (c *Console) oidcLogin(w http.ResponseWriter, r *http.Request) {
	o := c.d.OIDC
	if o == nil {
		http.NotFound(w, r)
		return
	}
	p, err := o.discover(r.Context())
	if err != nil {
		c.oidcFail(w, r, http.StatusBadGateway, "the identity provider could not be reached", err)
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	pl := pendingLogin{Nonce: nonce, Verifier: verifier, Next: safeNext(r.URL.Query().Get("next")), Expires: c.d.Now().Add(loginTTL)}
	b, _ := json.Marshal(pl)
	if _, err := c.d.Sessions.Put(r.Context(), loginKey(state), b); err != nil {
		c.oidcFail(w, r, http.StatusServiceUnavailable, "the sign-in could not be stored", err)
		return
	}
	// Lax: the provider's redirect back is a cross-site top-level GET.
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state, Path: "/console/oidc/", MaxAge: int(loginTTL / time.Second),
		HttpOnly: true, Secure: r.TLS != nil || c.d.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, o.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// oidcCallback finishes the flow: state, code exchange with the PKCE
// verifier, ID token signature/issuer/audience/expiry, nonce, then the
// groups claim mapped to an org and scopes.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	o := c.d.OIDC
	if o == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		c.oidcFail(w, r, http.StatusUnauthorized, "the identity provider refused: "+e+" "+q.Get("error_description"), nil)
		return
	}
	state := q.Get("state")
	ck, err := r.Cookie(stateCookie)
	if err != nil || state == "" || ck.Value != state {
		c.oidcFail(w, r, http.StatusBadRequest, "the sign-in state does not match this browser; start again", nil)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: "/console/oidc/", MaxAge: -1, HttpOnly: true})
	e, err := c.d.Sessions.Get(r.Context(), loginKey(state))
	if err != nil {
		c.oidcFail(w, r, http.StatusBadRequest, "the sign-in is unknown or already used; start again", nil)
		return
	}
	_ = c.d.Sessions.Purge(r.Context(), loginKey(state)) // one use
	var pl pendingLogin
	if err := json.Unmarshal(e.Value(), &pl); err != nil || !c.d.Now().Before(pl.Expires) {
		c.oidcFail(w, r, http.StatusBadRequest, "the sign-in took too long; start again", nil)
		return
	}
	p, err := o.discover(r.Context())
	if err != nil {
		c.oidcFail(w, r, http.StatusBadGateway, "the identity provider could not be reached", err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), o.client)
	tok, err := o.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pl.Verifier))
	if err != nil {
		c.oidcFail(w, r, http.StatusUnauthorized, "the authorization code was refused", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		c.oidcFail(w, r, http.StatusUnauthorized, "the provider returned no ID token", nil)
		return
	}
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: o.cfg.ClientID, Now: c.d.Now}).Verify(ctx, raw)
	if err != nil {
		c.oidcFail(w, r, http.StatusUnauthorized, "the ID token is not valid", err)
		return
	}
	if idt.Nonce != pl.Nonce {
		c.oidcFail(w, r, http.StatusUnauthorized, "the ID token's nonce does not match this sign-in", nil)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		c.oidcFail(w, r, http.StatusUnauthorized, "the ID token's claims cannot be read", err)
		return
	}
	who, err := o.identity(idt.Subject, claims)
	if err != nil {
		c.oidcFail(w, r, http.StatusForbidden, err.Error(), nil)
		return
	}
	id, sess, err := c.sessions.create(r.Context(), session{User: &who})
	if err != nil {
		c.oidcFail(w, r, http.StatusServiceUnavailable, "the session could not be stored", err)
		return
	}
	c.d.Log.Info("console sign-in (oidc)", "actor", who.ID, "name", who.Name, "org", who.Org)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/console/", Expires: sess.Expires,
		HttpOnly: true, Secure: r.TLS != nil || c.d.SecureCookies, SameSite: http.SameSiteStrictMode})
	// A page that moves on by itself: a SameSite=Strict cookie is not
	// sent on a redirect chain that started at the provider, but it is on
	// a navigation this origin starts.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=%s">`+
		`<title>Signed in</title></head><body><p>Signed in. <a href="%s">Continue</a></p></body></html>`,
		template.HTMLEscapeString(pl.Next), template.HTMLEscapeString(pl.Next))
}

// identity maps the ID token's claims to the console identity.
func (o *OIDC) identity(sub string, claims map[string]any) (auth.Token, error) {
	var groups []string
	switch g := claims[o.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				groups = append(groups, s)
			}
		}
	case string:
		groups = []string{g}
	}
	who := auth.Token{ID: "sso:" + sub, Name: sub}
	for _, k := range []string{"email", "preferred_username", "name"} {
		if s, ok := claims[k].(string); ok && s != "" {
			who.Name = s
			break
		}
	}
	for _, m := range o.cfg.Groups {
		if !slices.Contains(groups, m.Group) || (who.Org != "" && who.Org != m.Org) {
			continue
		}
		who.Org = m.Org
		for _, s := range m.Scopes {
			if !slices.Contains(who.Scopes, auth.Scope(s)) {
				who.Scopes = append(who.Scopes, auth.Scope(s))
			}
		}
	}
	if who.Org == "" {
		return who, errors.New("none of your groups is mapped to an org in console.oidc.groups")
	}
	return who, nil
}

func (c *Console) oidcFail(w http.ResponseWriter, r *http.Request, status int, msg string, err error) {
	if err != nil {
		c.d.Log.Warn("console oidc sign-in failed", "reason", msg, "err", err)
	} else {
		c.d.Log.Warn("console oidc sign-in failed", "reason", msg)
	}
	c.renderStatus(w, r, status, "signin", nil, page{Title: "Sign in",
		Error: &apiError{Code: "E0000004", Summary: "Authentication failed", Causes: []string{msg}},
		Data:  map[string]any{"Next": "/console/", "SSO": true}})
}
