package activity

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
)

// Slicer serves a slice of the System Log like GET /api/v1/logs, with only
// the events matching scope (a filter expression) and links on path:
// query.Engine.ServeSlice.
type Slicer interface {
	ServeSlice(w http.ResponseWriter, r *http.Request, tok auth.Token, path, scope string) error
}

// API serves the activity endpoints (an auditstream extension, outside
// Okta's /api/v1/users).
type API struct {
	Store *Store
	// Events answers a user's event table.
	Events Slicer
	// BaseURL is the public base URL links are built on.
	BaseURL string
}

// Routes returns GET /api/v1/activity/users/{id} (the profile) and
// GET /api/v1/activity/users/{id}/events (the user's events as actor or
// target, paged like /api/v1/logs), both with scope activity.read.
func (a API) Routes() []httpapi.Route {
	return []httpapi.Route{
		{Pattern: "GET /api/v1/activity/users/{id}", Scope: auth.ScopeReadActivity, Handle: a.serveProfile},
		{Pattern: "GET /api/v1/activity/users/{id}/events", Scope: auth.ScopeReadActivity, Handle: a.serveEvents},
	}
}

// View is the answer of GET /api/v1/activity/users/{id}: the profile and
// links to the user's events.
type View struct {
	Profile
	Links map[string]Link `json:"_links"`
}

// Link is a HAL link.
type Link struct {
	Href string `json:"href"`
}

// resolve resolves the request's org (the token's; an all-orgs token names
// it with ?org=) and user id.
func resolve(r *http.Request, tok auth.Token) (org, user string, err error) {
	org = tok.Org
	if q := r.URL.Query().Get("org"); q != "" || org == auth.AllOrgs {
		if !event.ValidOrg(q) {
			return "", "", httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation,
				"Api validation failed: 'org': an all-orgs token names the org with ?org=").WithCauses("org: a valid org name is required")
		}
		if !tok.CanAccessOrg(q) {
			return "", "", notFound(r.PathValue("id"))
		}
		org = q
	}
	user = r.PathValue("id")
	if user == "" || len(user) > 200 || strings.ContainsAny(user, "\"\\") || strings.ContainsFunc(user, func(c rune) bool { return c < 0x20 }) {
		return "", "", httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation,
			"Api validation failed: 'id': not a user id").WithCauses("id: at most 200 characters, no quotes, backslashes or control characters")
	}
	return org, user, nil
}

// notFound is Okta's 404 for a user.
func notFound(id string) *httpapi.Error {
	return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "Not found: Resource not found: %s (User)", id)
}

func (a API) serveProfile(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	org, user, err := resolve(r, tok)
	if err != nil {
		return err
	}
	p, ok, err := a.Store.Profile(r.Context(), org, user)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(user)
	}
	self := a.BaseURL + "/api/v1/activity/users/" + url.PathEscape(user)
	events := self + "/events"
	if tok.Org == auth.AllOrgs {
		q := "?org=" + url.QueryEscape(org)
		self, events = self+q, events+q
	}
	httpapi.WriteJSON(w, http.StatusOK, View{Profile: p, Links: map[string]Link{"self": {self}, "events": {events}}})
	return nil
}

// Scope is the filter of a user's events: as actor or as a target.
func Scope(user string) string {
	return `actor.id eq "` + user + `" or target.id eq "` + user + `"`
}

func (a API) serveEvents(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	org, user, err := resolve(r, tok)
	if err != nil {
		return err
	}
	if _, ok, err := a.Store.Profile(r.Context(), org, user); err != nil {
		return err
	} else if !ok {
		return notFound(user)
	}
	tok.Org = org // the events of that org only
	return a.Events.ServeSlice(w, r, tok, "/api/v1/activity/users/"+url.PathEscape(user)+"/events", Scope(user))
}
