package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/auditstream/auditstream/internal/auth"
)

// signinPage shows the token form and, when configured, the SSO button.
func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, "signin", nil, page{Title: "Sign in", Data: map[string]any{
		"Next": safeNext(r.URL.Query().Get("next")), "SSO": c.d.OIDC != nil, "Error": r.URL.Query().Get("error"),
	}})
}

// sameOrigin refuses a cross-site form post (login CSRF): the browser
// says where the request came from in Sec-Fetch-Site or Origin.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// signin exchanges an API token for a session, once: the token itself is
// neither stored nor put in the cookie.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	fail := func(status int, cause string) {
		c.renderStatus(w, r, status, "signin", nil, page{Title: "Sign in",
			Error: &apiError{Code: "E0000011", Summary: "Invalid token provided", Causes: []string{cause}},
			Data:  map[string]any{"Next": next, "SSO": c.d.OIDC != nil}})
	}
	if !sameOrigin(r) {
		fail(http.StatusForbidden, "the sign-in form was posted from another site")
		return
	}
	tok, ok := c.d.Tokens.Authenticate(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		c.d.Log.Info("console sign-in refused: unknown token", "remote", r.RemoteAddr)
		fail(http.StatusUnauthorized, "no API token has this value")
		return
	}
	c.startSession(w, r, session{TokenID: tok.ID}, tok, next)
}

// startSession stores the session and sets its cookie.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, sess session, who auth.Token, next string) {
	id, sess, err := c.sessions.create(r.Context(), sess)
	if err != nil {
		c.d.Log.Error("console sign-in", "err", err)
		c.renderStatus(w, r, http.StatusServiceUnavailable, "signin", nil, page{Title: "Sign in",
			Error: &apiError{Code: "E0000009", Summary: "Internal Server Error", Causes: []string{"the session could not be stored; try again"}}})
		return
	}
	c.d.Log.Info("console sign-in", "actor", who.ID, "name", who.Name, "org", who.Org)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/console/", Expires: sess.Expires,
		HttpOnly: true, Secure: r.TLS != nil || c.d.SecureCookies, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signout ends the session on the server and clears the cookie.
func (c *Console) signout(w http.ResponseWriter, rc *reqCtx) {
	if err := c.sessions.end(rc.r.Context(), rc.id); err != nil {
		c.d.Log.Error("console sign-out", "err", err)
		c.renderStatus(w, rc.r, http.StatusServiceUnavailable, "error", rc, page{Title: "Sign out failed", Error: asAPIError(err)})
		return
	}
	c.d.Log.Info("console sign-out", "actor", rc.who.ID)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, Secure: rc.r.TLS != nil || c.d.SecureCookies, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, rc.r, "/console/signin", http.StatusSeeOther)
}

// safeNext keeps a redirect target on the console: a path, never
// another origin.
func safeNext(n string) string {
	if !strings.HasPrefix(n, "/console/") || strings.HasPrefix(n, "//") || strings.ContainsAny(n, "\\\r\n") {
		return "/console/"
	}
	return n
}
