package source

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sysevent"
	"github.com/auditstream/auditstream/internal/wire"
)

// API serves /api/v1/sources, shaped like /api/v1/logStreams.
type API struct {
	Store      *Store
	Supervisor *Supervisor
	Types      map[string]Type
	Log        *slog.Logger
	// DefaultOrg is the org of a source created with an all-orgs token
	// that names none.
	DefaultOrg string
	// Now returns the current time (tests may fix it).
	Now func() time.Time
	// Journal, when set, receives a System Log event for every change
	// (system.log_source.lifecycle.*), as log streams do.
	Journal Appender
	// PublicURL is the base URL clients reach the API at; _links are built
	// from it, never from the request's Host header. Empty: links are paths.
	PublicURL string
}

// record appends a lifecycle event about d; the change has already
// happened, so a journal that cannot take it is only logged.
func (a *API) record(r *http.Request, tok auth.Token, verb string, d Definition) {
	if a.Journal == nil {
		return
	}
	err := sysevent.Write(r.Context(), a.Journal, sysevent.Spec{Type: "system.log_source.lifecycle." + verb,
		Message: strings.ToUpper(verb[:1]) + verb[1:] + " source", Actor: sysevent.Token(tok),
		Targets: []sysevent.Ref{{ID: d.ID, Type: "LogSource", AlternateID: d.Type, DisplayName: d.Name}}, Org: sysevent.OrgFor(d.Org, a.DefaultOrg)}, a.now())
	if err != nil && a.Log != nil {
		a.Log.Warn("record source change", "source", d.ID, "verb", verb, "err", err)
	}
}

// Routes returns the API's endpoints.
func (a *API) Routes() []httpapi.Route {
	read, manage := auth.ScopeReadSources, auth.ScopeManageSources
	return []httpapi.Route{
		{Pattern: "GET /api/v1/sources", Scope: read, Handle: a.list},
		{Pattern: "POST /api/v1/sources", Scope: manage, Handle: a.create},
		{Pattern: "GET /api/v1/sources/{id}", Scope: read, Handle: a.get},
		{Pattern: "PUT /api/v1/sources/{id}", Scope: manage, Handle: a.update},
		{Pattern: "DELETE /api/v1/sources/{id}", Scope: manage, Handle: a.delete},
		{Pattern: "POST /api/v1/sources/{id}/lifecycle/activate", Scope: manage, Handle: a.activate},
		{Pattern: "POST /api/v1/sources/{id}/lifecycle/deactivate", Scope: manage, Handle: a.deactivate},
		{Pattern: "GET /api/v1/sources/{id}/status", Scope: read, Handle: a.status},
		{Pattern: "POST /api/v1/sources/{id}/backfill", Scope: manage, Handle: a.backfill},
	}
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// view is a source as the API shows it: its settings without the secret
// ones, and the links of its status and of its type's endpoints.
func (a *API) view(r *http.Request, d Definition) wire.Source {
	base := strings.TrimRight(a.PublicURL, "/") + "/api/v1/sources/" + d.ID
	tail := wire.NewTail(base, d.Status == StatusActive, d.ReadOnly, d.Created, d.LastUpdated)
	tail.Links["status"] = wire.Link{Href: base + "/status", Method: "GET"}
	if ep := a.Types[d.Type].Endpoints; ep != nil {
		for name, href := range ep(d) {
			tail.Links[name] = wire.Link{Href: href, Method: "POST"}
		}
	}
	settings, err := secret.Strip(d.Settings, a.Types[d.Type].SecretPaths)
	if err != nil {
		settings = json.RawMessage("{}")
	}
	return wire.Source{ID: d.ID, Type: d.Type, Name: d.Name, Status: d.Status, Org: d.Org, Settings: settings, Tail: tail}
}

// input is the body of POST and PUT.
type input struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	Org      string          `json:"org"`
	Settings json.RawMessage `json:"settings"`
}

// sources is the shared request flow of /api/v1/sources.
func (a *API) sources() *httpapi.Collection[Definition, wire.Source] {
	return &httpapi.Collection[Definition, wire.Source]{Kind: "LogSource", List: a.Store.List, Get: a.Store.Get,
		Meta: func(d Definition) httpapi.Meta {
			return httpapi.Meta{Org: d.Org, Type: d.Type, Status: d.Status, ReadOnly: d.ReadOnly}
		},
		View: a.view, ReadOnly: ErrReadOnly.Error()}
}

func (a *API) list(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return a.sources().ServeList(w, r, tok)
}

func (a *API) get(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return a.sources().ServeGet(w, r, tok)
}

// validate checks a create or update and returns the stored settings; old
// is the source being replaced (zero on create).
func (a *API) validate(in *input, tok auth.Token, old Definition) (json.RawMessage, error) {
	var causes []string
	if n := len([]rune(in.Name)); n < 1 || n > 100 {
		causes = append(causes, "name: must be 1 to 100 characters")
	}
	for _, d := range a.Store.List() {
		if d.Name == in.Name && d.ID != old.ID && d.Org == in.Org {
			causes = append(causes, "name: a source with this name already exists")
		}
	}
	if old.ID != "" && in.Type != old.Type {
		causes = append(causes, "type: cannot be changed; create a new source")
	}
	if in.Org == auth.AllOrgs || !event.ValidOrg(in.Org) {
		causes = append(causes, "org: must be 1 to 64 letters, digits, '-' or '_' (a source feeds one org)")
	} else if !tok.CanAccessOrg(in.Org) {
		return nil, httpapi.Forbidden("the token may not manage sources of org " + in.Org)
	}
	var stored json.RawMessage
	t, ok := a.Types[in.Type]
	if !ok {
		names := make([]string, 0, len(a.Types))
		for n := range a.Types {
			names = append(names, n)
		}
		causes = append(causes, fmt.Sprintf("type: %q is not one of %s", in.Type, strings.Join(slices.Sorted(slices.Values(names)), ", ")))
	} else {
		if len(in.Settings) == 0 || string(in.Settings) == "null" {
			in.Settings = json.RawMessage("{}")
		}
		var err error
		stored, err = t.Prepare(in.Settings, old.Settings)
		if err != nil {
			causes = append(causes, strings.Split(err.Error(), "\n")...)
		} else if t.Check != nil {
			d := Definition{Header: kvstore.Header{ID: old.ID, Type: in.Type, Org: in.Org, Settings: stored},
				Operator: httpapi.ByOperator(tok, old.Operator, old.Settings, stored)}
			if err := t.Check(d); err != nil {
				causes = append(causes, err.Error())
			}
		}
	}
	if len(causes) > 0 {
		return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: source").WithCauses(causes...)
	}
	return httpapi.CompactJSON(stored), nil
}

func (a *API) orgOf(in string, tok auth.Token) string {
	switch {
	case in != "":
		return in
	case tok.Org == auth.AllOrgs:
		return a.DefaultOrg
	}
	return tok.Org
}

func (a *API) create(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	var in input
	if err := httpapi.DecodeBody(r, &in, true); err != nil {
		return err
	}
	in.Org = a.orgOf(in.Org, tok)
	generated := a.generate(&in, nil)
	settings, err := a.validate(&in, tok, Definition{})
	if err != nil {
		return err
	}
	now := a.now().UTC().Truncate(time.Millisecond)
	d := Definition{Header: kvstore.Header{ID: NewID(), Type: in.Type, Name: in.Name, Status: StatusActive, Org: in.Org, Settings: settings},
		Stamps: kvstore.Stamps{Created: now, LastUpdated: now}, Operator: tok.Org == auth.AllOrgs}
	if r.URL.Query().Get("dryRun") == "true" {
		return a.dryRun(w, r, tok, d)
	}
	if err := a.Store.Put(r.Context(), d); err != nil {
		return err
	}
	a.Log.Info("source created", "source", d.ID, "type", d.Type, "org", d.Org)
	a.record(r, tok, "create", d)
	httpapi.WriteJSON(w, http.StatusOK, withGenerated(a.view(r, d), generated))
	return nil
}

// verifyTimeout bounds a dry run's request to the source.
const verifyTimeout = 20 * time.Second

// dryRun answers POST /api/v1/sources?dryRun=true (the console's Verify),
// as log streams' dry run does: d was checked like a create; its type's
// Verify then makes one real request with its settings (unless
// verify=false), and nothing is stored, generated values are not shown,
// no event is written. A refusal is a 400 whose cause is the source's
// answer: all of it for the operator, the status line and Okta's error
// code for a tenant (egress.PublicMessage), never the secrets sent.
func (a *API) dryRun(w http.ResponseWriter, r *http.Request, tok auth.Token, d Definition) error {
	verify := a.Types[d.Type].Verify
	if r.URL.Query().Get("verify") == "false" || verify == nil {
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "verified": false})
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), verifyTimeout)
	defer cancel()
	if err := verify(ctx, d); err != nil {
		msg := err.Error()
		if tok.Org != auth.AllOrgs {
			msg = egress.PublicMessage(err)
		}
		a.Log.Info("source verify failed", "type", d.Type, "org", d.Org, "err", msg)
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: settings").
			WithCauses("the source check failed: " + msg)
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "verified": true})
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	var in input
	old, err := a.sources().Replacing(r, tok, &in)
	if err != nil {
		return err
	}
	in.Org = cmp.Or(in.Org, old.Org)
	in.Type = cmp.Or(in.Type, old.Type)
	var generated map[string]string
	if in.Type == old.Type {
		generated = a.generate(&in, old.Settings)
	}
	settings, err := a.validate(&in, tok, old)
	if err != nil {
		return err
	}
	d := old
	d.Operator = httpapi.ByOperator(tok, old.Operator, old.Settings, settings)
	d.Name, d.Org, d.Settings = in.Name, in.Org, settings
	d.LastUpdated = a.now().UTC().Truncate(time.Millisecond)
	if err := a.Store.Put(r.Context(), d); err != nil {
		return err
	}
	a.record(r, tok, "update", d)
	httpapi.WriteJSON(w, http.StatusOK, withGenerated(a.view(r, d), generated))
	return nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return a.sources().ServeDelete(w, r, tok, func(d Definition) error {
		if err := a.Store.Delete(r.Context(), d.ID); err != nil {
			return err
		}
		a.record(r, tok, "delete", d)
		return nil
	})
}

func (a *API) activate(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return a.lifecycle(w, r, tok, StatusActive)
}

func (a *API) deactivate(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return a.lifecycle(w, r, tok, StatusInactive)
}

func (a *API) lifecycle(w http.ResponseWriter, r *http.Request, tok auth.Token, status string) error {
	return a.sources().ServeChange(w, r, tok, func(d Definition) (Definition, error) {
		if d.Status == status {
			return d, nil
		}
		d.Status = status
		d.LastUpdated = a.now().UTC().Truncate(time.Millisecond)
		if err := a.Store.Put(r.Context(), d); err != nil {
			return d, err
		}
		if status == StatusActive {
			a.record(r, tok, "activate", d)
		} else {
			a.record(r, tok, "deactivate", d)
		}
		return d, nil
	})
}

func (a *API) status(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return a.sources().ServeFound(w, r, tok, func(d Definition) any { return a.Supervisor.Snapshot(d) })
}

func (a *API) backfill(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	d, err := a.sources().Find(r, tok)
	if err != nil {
		return err
	}
	var in struct {
		Since string `json:"since"`
		Until string `json:"until"`
	}
	if err := httpapi.DecodeBody(r, &in, true); err != nil {
		return err
	}
	var causes []string
	since, err := time.Parse(time.RFC3339Nano, in.Since)
	if err != nil {
		causes = append(causes, fmt.Sprintf("since: %q is not an RFC 3339 time", in.Since))
	}
	until := a.now().UTC()
	if in.Until != "" {
		if until, err = time.Parse(time.RFC3339Nano, in.Until); err != nil {
			causes = append(causes, fmt.Sprintf("until: %q is not an RFC 3339 time", in.Until))
		}
	}
	if len(causes) == 0 && !since.Before(until) {
		causes = append(causes, "since: must be before until")
	}
	if len(causes) > 0 {
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: backfill").WithCauses(causes...)
	}
	if err := a.Supervisor.Backfill(d, since.UTC(), until.UTC()); err != nil {
		switch {
		case errors.Is(err, ErrBackfillRunning):
			return httpapi.Errorf(http.StatusConflict, httpapi.CodeValidation, "Api validation failed: backfill").WithCauses(err.Error())
		case errors.Is(err, ErrNoBackfill), errors.Is(err, ErrInactive):
			return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: backfill").WithCauses(err.Error())
		}
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"id": d.ID, "state": BackfillRunning,
		"since": since.UTC().Format(event.TimeFormat), "until": until.UTC().Format(event.TimeFormat)})
	return nil
}
