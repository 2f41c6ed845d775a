// Package console is the web console: server-rendered pages on the API's
// listener for the people who run log streaming (log streams and their
// add wizard, filter preview, System Log search, sources, tokens).
//
// The console keeps no rule of its own. Every read and every change is a
// request to the API's own handlers, served in process for the signed-in
// identity (api.Server.ServeAs): the same scope and org checks, the same
// validation and Okta error text, and the same System Log audit events,
// with the signed-in identity as their actor. A person signs in with an
// API token, exchanged once for a session cookie, or through an OpenID
// Connect provider whose groups map to an org and scopes. Sessions live in
// a KV bucket of the journal (Bucket), so they survive a restart and hold
// on every node.
//
// Pages are html/template files and one small ES module for progressive
// enhancement (local times, the live filter preview, confirmation), all
// embedded; charts are SVG drawn by the server. The Content-Security-
// Policy allows nothing but this origin and no inline script or style.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/source"
)

//go:embed web
var webFS embed.FS

// API serves an API request as a given identity (api.Server.ServeAs).
type API interface {
	ServeAs(w http.ResponseWriter, r *http.Request, tok auth.Token)
}

// Tokens resolves API tokens (auth.Store).
type Tokens interface {
	// Authenticate returns the token whose secret this is.
	Authenticate(secret string) (auth.Token, bool)
	// Get returns the token with this id.
	Get(id string) (auth.Token, bool)
}

// Deps are what the console is handed.
type Deps struct {
	API    API
	Tokens Tokens
	// Sessions is the KV bucket sessions are stored in (Bucket).
	Sessions jetstream.KeyValue
	// Destinations are the log stream types; the add wizard draws each
	// type's form from its Fields.
	Destinations []sink.Type
	// Match compiles an event pattern as log streams do (the app's
	// filter, with the configured limits) for the filter preview; its
	// error is AWS's text.
	Match func(pattern []byte) (func(*event.Record) bool, error)
	// Usage reports the journal's size and cap (shown to all-orgs admins).
	Usage func(ctx context.Context) (journal.Usage, error)
	// SecureCookies marks the session cookie Secure even when the request
	// itself came without TLS (a TLS-terminating proxy in front: the
	// public URL is https).
	SecureCookies bool
	Log           *slog.Logger
	// Now returns the current time (tests may fix it).
	Now func() time.Time
	// OIDC is the OpenID Connect relying party; nil: token sign-in only.
	OIDC *OIDC
	// Sources are the source types by name; the add form draws each
	// type's form from its Fields.
	Sources map[string]source.Type
}

// Console serves the web console. Create it with New.
type Console struct {
	cfg      config.Console
	d        Deps
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// CSP is the console's Content-Security-Policy: this origin only, no
// inline script or style, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// cookieName is the session cookie.
const cookieName = "auditstream_session"

// New builds the console.
func New(cfg config.Console, d Deps) (*Console, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	ttl := time.Duration(cfg.SessionTTL)
	if ttl <= 0 {
		ttl = config.DefaultSessionTTL
	}
	c := &Console{cfg: cfg, d: d, sessions: &sessions{kv: d.Sessions, ttl: ttl, now: d.Now}, mux: http.NewServeMux()}
	if err := c.parse(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

var funcs = template.FuncMap{
	"time":  timeTag,
	"json":  prettyJSON,
	"lower": strings.ToLower,
	"join":  joinAny,
	"list":  func(v ...string) []string { return v },
	"pct": func(a, b any) string {
		if toInt64(b) <= 0 {
			return "no cap"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(toInt64(a))/float64(toInt64(b)))
	},
	"ratio": func(a, b any) string {
		if toInt64(b) <= 0 {
			return "0"
		}
		return fmt.Sprintf("%.1f", min(100, 100*float64(toInt64(a))/float64(toInt64(b))))
	},
	"bytes": func(v any) string { return journal.FormatBytes(toInt64(v)) },
	"editor": func(name, id, value, preview string) filterEditor {
		return filterEditor{Name: name, ID: id, Value: value, Preview: preview, Rows: 5}
	},
}

// filterEditor is what the filter editor part (parts/filtereditor.html)
// draws: the pattern's input (form field Name, element ID, its Value) and
// the element its live preview goes to.
type filterEditor struct {
	Name, ID, Value, Preview string
	Rows                     int
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int64:
		return x
	case uint64:
		return int64(x)
	}
	return 0
}

// joinAny joins a []string or a list of string-like values (scopes).
func joinAny(v any, sep string) string {
	switch x := v.(type) {
	case []string:
		return strings.Join(x, sep)
	case []auth.Scope:
		s := make([]string, len(x))
		for i, sc := range x {
			s[i] = string(sc)
		}
		return strings.Join(s, sep)
	}
	return fmt.Sprint(v)
}

func (c *Console) parse() error {
	c.pages = map[string]*template.Template{}
	names, err := fs.Glob(webFS, "web/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasSuffix(n, "/layout.html") {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(webFS, "web/layout.html", "web/parts/*.html", n)
		if err != nil {
			return fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[strings.TrimSuffix(strings.TrimPrefix(n, "web/"), ".html")] = t
	}
	return nil
}

// ServeHTTP serves the console's paths (/console/...).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/console/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// Mount adds the console to mux: /console/ and a redirect from /.
// Everything else (the API) stays with api.
func (c *Console) Mount(mux *http.ServeMux, api http.Handler) {
	mux.Handle("/console/", c)
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	mux.Handle("/", api)
}

// reqCtx is a signed-in request.
type reqCtx struct {
	r    *http.Request
	id   string // session id
	sess session
	who  auth.Token
}

func (c *Console) routes() {
	m := c.mux
	static, _ := fs.Sub(webFS, "web/static")
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /console/signin", c.signinPage)
	m.HandleFunc("POST /console/signin", c.signin)
	m.HandleFunc("GET /console/oidc/login", c.oidcLogin)
	m.HandleFunc("GET /console/oidc/callback", c.oidcCallback)
	m.Handle("POST /console/signout", c.authed(c.signout))
	m.Handle("GET /console/{$}", c.authed(c.overview))
	m.Handle("GET /console/streams", c.authed(c.streamList))
	m.Handle("GET /console/streams/new", c.authed(c.wizardTypes))
	m.Handle("GET /console/streams/new/{type}", c.authed(c.wizardForm))
	m.Handle("POST /console/streams/new/{type}", c.authed(c.wizardSave))
	m.Handle("GET /console/streams/{id}", c.authed(c.streamDetail))
	m.Handle("POST /console/streams/{id}/{action}", c.authed(c.streamAction))
	m.Handle("GET /console/filter", c.authed(c.filterPage))
	m.Handle("GET /console/filter/preview", c.authed(c.filterPreview))
	m.Handle("GET /console/logs", c.authed(c.logsPage))
	m.Handle("GET /console/logs/export", c.authed(c.logsExport))
	m.Handle("GET /console/sources", c.authed(c.sourcesPage))
	c.detectionRoutes(m)
	c.activityRoutes(m)
	m.Handle("GET /console/tokens", c.authed(c.tokensPage))
	m.Handle("POST /console/tokens", c.authed(c.tokenCreate))
	m.Handle("POST /console/tokens/{id}/revoke", c.authed(c.tokenRevoke))
	c.opsRoutes(m)
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.renderStatus(w, r, http.StatusNotFound, "error", nil, page{Title: "Not found", Error: &apiError{Summary: "Not found: " + r.URL.Path}})
	})
}

// authed requires a live session; a state-changing request must also
// carry the session's CSRF token (form field csrf or header X-CSRF-Token).
func (c *Console) authed(h func(http.ResponseWriter, *reqCtx)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, err := c.session(r)
		if err != nil {
			if !errors.Is(err, errNoSession) {
				c.d.Log.Warn("console session", "err", err)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.renderStatus(w, r, http.StatusUnauthorized, "error", nil, page{Title: "Signed out",
				Error: &apiError{Code: "E0000011", Summary: "Invalid token provided", Causes: []string{"your console session has ended; sign in again"}}})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" {
				got = r.PostFormValue("csrf")
			}
			if !rc.sess.checkCSRF(got) {
				c.d.Log.Warn("console request refused: CSRF token missing or wrong", "path", r.URL.Path, "actor", rc.who.ID)
				c.renderStatus(w, r, http.StatusForbidden, "error", rc, page{Title: "Refused",
					Error: &apiError{Code: "E0000006", Summary: "You do not have permission to perform the requested action",
						Causes: []string{"the request carried no valid CSRF token; reload the page and try again"}}})
				return
			}
		}
		h(w, rc)
	})
}

// session resolves the request's session and identity.
func (c *Console) session(r *http.Request) (*reqCtx, error) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, errNoSession
	}
	sess, err := c.sessions.get(r.Context(), ck.Value)
	if err != nil {
		return nil, err
	}
	rc := &reqCtx{r: r, id: ck.Value, sess: sess}
	switch {
	case sess.TokenID != "":
		tok, ok := c.d.Tokens.Get(sess.TokenID)
		if !ok { // revoked since sign-in
			_ = c.sessions.end(r.Context(), ck.Value)
			return nil, errNoSession
		}
		rc.who = tok
	case sess.User != nil:
		rc.who = *sess.User
	default:
		return nil, errNoSession
	}
	rc.who.Hash = ""
	return rc, nil
}

// apiResult is the answer of an in-process API call.
type apiResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// apiError is Okta's error body.
type apiError struct {
	Code    string   `json:"errorCode"`
	Summary string   `json:"errorSummary"`
	Causes  []string `json:"-"`
}

func (e *apiError) Error() string {
	if len(e.Causes) == 0 {
		return e.Summary
	}
	return e.Summary + ": " + strings.Join(e.Causes, "; ")
}

// call serves an API request in process as the signed-in identity. A
// non-2xx answer is returned as an *apiError with Okta's text.
func (c *Console) call(rc *reqCtx, method, path string, body any, out any) (*apiResult, error) {
	if body == nil {
		return c.callBody(rc, method, path, "", nil, out)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return c.callBody(rc, method, path, "application/json", b, out)
}

// callBody is call with a body of a given content type as it is (a rule's
// YAML); a nil body sends none.
func (c *Console) callBody(rc *reqCtx, method, path, contentType string, body []byte, out any) (*apiResult, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rc.r.Context(), method, "http://console.internal"+path, rd)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = rc.r.RemoteAddr
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "auditstream-console ("+rc.r.UserAgent()+")")
	if xf := rc.r.Header.Get("X-Forwarded-For"); xf != "" {
		req.Header.Set("X-Forwarded-For", xf)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	rec := &recorder{header: http.Header{}}
	c.d.API.ServeAs(rec, req, rc.who)
	res := &apiResult{Status: rec.status(), Header: rec.header, Body: rec.body.Bytes()}
	if res.Status >= 300 {
		return res, decodeAPIError(res.Status, res.Body)
	}
	if out != nil && len(res.Body) > 0 {
		if err := json.Unmarshal(res.Body, out); err != nil {
			return res, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return res, nil
}

// recorder keeps an in-process API answer.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func decodeAPIError(status int, b []byte) *apiError {
	var raw struct {
		Code    string `json:"errorCode"`
		Summary string `json:"errorSummary"`
		Causes  []struct {
			Summary string `json:"errorSummary"`
		} `json:"errorCauses"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Summary == "" {
		return &apiError{Summary: fmt.Sprintf("The API answered %d %s", status, http.StatusText(status))}
	}
	e := &apiError{Code: raw.Code, Summary: raw.Summary}
	for _, cz := range raw.Causes {
		e.Causes = append(e.Causes, cz.Summary)
	}
	return e
}

// asAPIError turns any error into what a page shows.
func asAPIError(err error) *apiError {
	if err == nil {
		return nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return &apiError{Summary: err.Error()}
}

// page is what every template gets.
type page struct {
	Title  string
	Nav    string
	Who    *auth.Token
	CSRF   string
	Error  *apiError
	Notice string
	Data   any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, rc *reqCtx, p page) {
	c.renderStatus(w, r, http.StatusOK, name, rc, p)
}

func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, rc *reqCtx, p page) {
	if rc != nil {
		who := rc.who
		p.Who, p.CSRF = &who, rc.sess.CSRF
	}
	if p.Notice == "" {
		p.Notice = r.URL.Query().Get("notice")
	}
	t := c.pages[name]
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		c.d.Log.Error("console render", "page", name, "err", err)
		http.Error(w, "The page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// timeTag renders a time for the browser to show in its zone, UTC on hover.
func timeTag(v any) template.HTML {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		p, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return template.HTML(template.HTMLEscapeString(x))
		}
		t = p
	}
	if t.IsZero() {
		return "—"
	}
	u := t.UTC().Format("2006-01-02 15:04:05 UTC")
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`,
		t.UTC().Format(time.RFC3339Nano), u, u))
}

func prettyJSON(v any) string {
	var b []byte
	switch x := v.(type) {
	case json.RawMessage:
		var buf bytes.Buffer
		if json.Indent(&buf, x, "", "  ") == nil {
			return buf.String()
		}
		return string(x)
	default:
		b, _ = json.MarshalIndent(v, "", "  ")
	}
	return string(b)
}
