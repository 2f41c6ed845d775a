package console

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/jsonmap"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/wire"
)

// Adding a source: choose a type, fill the form drawn from the type's
// Fields (source.Type.Fields, next to its settings struct), save through
// POST /api/v1/sources. Verify sends the form to the API's dry run
// (POST /api/v1/sources?dryRun=true: checked, and for an Okta poller one
// real System Log request with its token, nothing stored) and draws the
// answer on the form; Save stores, and nothing is stored when the API
// refuses. A secret the server generated (a receiver's API
// key) is in that one answer only; the page drawn from it is the only
// place it is shown. A source's page activates, deactivates and deletes
// it.

func (c *Console) sourceAddRoutes(m *http.ServeMux) {
	// /console/sources/new?type=…: a path segment for the type would
	// clash with /console/sources/{id}/progress.
	m.Handle("GET /console/sources/new", c.authed(c.sourceNewPage))
	m.Handle("POST /console/sources/new", c.authed(c.sourceNewSave))
	m.Handle("POST /console/sources/{id}/lifecycle", c.authed(c.sourceLifecycle))
	m.Handle("GET /console/sources/{id}/edit", c.authed(c.sourceEditPage))
	m.Handle("POST /console/sources/{id}/edit", c.authed(c.sourceEditSave))
}

// sourceField is one input of the add form.
type sourceField struct {
	source.Field
	Value string
}

type sourceFormData struct {
	// ID is set when editing.
	ID      string
	Type    string
	Types   []string
	Name    string
	Org     string
	AllOrgs bool
	Fields  []sourceField
	// Verified is the dry run's answer: "verified" (the source answered a
	// real request) or "valid" (checked only: the type has nothing to
	// call); empty when not verified.
	Verified string
}

func (c *Console) sourceTypeNames() []string {
	return slices.Sorted(maps.Keys(c.d.Sources))
}

func (c *Console) sourceNewPage(w http.ResponseWriter, rc *reqCtx) {
	name := rc.r.URL.Query().Get("type")
	d := sourceFormData{Types: c.sourceTypeNames(), AllOrgs: rc.who.Org == auth.AllOrgs}
	if name == "" {
		c.render(w, rc.r, "source-new", rc, page{Title: "Add source", Nav: "sources", Data: d})
		return
	}
	t, ok := c.sourceType(w, rc, name)
	if !ok {
		return
	}
	d.Type = name
	for _, f := range t.Fields() {
		d.Fields = append(d.Fields, sourceField{Field: f})
	}
	c.render(w, rc.r, "source-new", rc, page{Title: "Add source: " + name, Nav: "sources", Data: d})
}

// sourceType returns the source type name, or draws the add form's not
// found page.
func (c *Console) sourceType(w http.ResponseWriter, rc *reqCtx, name string) (source.Type, bool) {
	t, ok := c.d.Sources[name]
	if !ok {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Add source", Nav: "sources",
			Error: &apiError{Code: "E0000007", Summary: "Not found: Resource not found: " + name + " (LogSourceType)"},
			Data:  map[string]any{"Back": "/console/sources/new"}})
	}
	return t, ok
}

// sourceSettingsFrom builds the settings object from the form's s.<path>
// inputs; empty inputs are left out, so the type's defaults apply (and a
// receiver's secret left empty is generated). Text and secrets are taken
// as typed.
func sourceSettingsFrom(form url.Values, fields []source.Field) (map[string]any, []string) {
	inputs := make([]settingInput, len(fields))
	for i, f := range fields {
		inputs[i] = settingInput{Path: f.Path, Kind: f.Kind, Verbatim: f.Kind == "text" || f.Kind == "secret"}
	}
	return formSettings(form, inputs)
}

// createdSource is what the page after a create shows: the source, the
// URLs it takes requests at, and the secrets the server generated (shown
// this once).
type createdSource struct {
	S wire.Source
	// Updated: an edit, not a create.
	Updated   bool
	Endpoints []nameValue
	Generated []nameValue
}

type nameValue struct{ Name, Value string }

func (c *Console) sourceNewSave(w http.ResponseWriter, rc *reqCtx) {
	form := rc.r.PostForm
	name := form.Get("type")
	t, ok := c.sourceType(w, rc, name)
	if !ok {
		return
	}
	d := sourceFormData{Type: name, Types: c.sourceTypeNames(), Name: form.Get("name"), Org: strings.TrimSpace(form.Get("org")),
		AllOrgs: rc.who.Org == auth.AllOrgs}
	c.saveSource(w, rc, t, d, http.MethodPost, "/api/v1/sources")
}

// saveSource sends the form's source to the API (create or replace) and
// draws the answer: the form again with the API's causes, the page with
// the URLs and the secrets the server generated, or the source's page.
func (c *Console) saveSource(w http.ResponseWriter, rc *reqCtx, t source.Type, d sourceFormData, method, path string) {
	form := rc.r.PostForm
	fields := t.Fields()
	for _, f := range fields {
		d.Fields = append(d.Fields, sourceField{Field: f, Value: typedValue(form, f.Path, f.Kind)})
	}
	title := "Add source: " + d.Type
	if d.ID != "" {
		title = "Edit source: " + d.Name
	}
	settings, causes := sourceSettingsFrom(form, fields)
	fail := func(err *apiError) {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "source-new", rc, page{Title: title, Nav: "sources", Error: err, Data: d})
	}
	if len(causes) > 0 {
		fail(&apiError{Code: "E0000001", Summary: "Api validation failed: source", Causes: causes})
		return
	}
	in := map[string]any{"name": d.Name, "settings": settings}
	if d.ID == "" {
		in["type"] = d.Type
	}
	if d.Org != "" {
		in["org"] = d.Org
	}
	if d.ID == "" && form.Get("step") == "verify" {
		var res struct {
			Verified bool `json:"verified"`
		}
		if _, err := c.call(rc, http.MethodPost, path+"?dryRun=true", in, &res); err != nil {
			fail(asAPIError(err))
			return
		}
		d.Verified, title = "valid", title+" (verified)"
		notice := "Valid: the settings pass the API's checks. Nothing was stored; secrets must be entered again to save."
		if res.Verified {
			d.Verified = "verified"
			notice = "Verified: the settings are valid and the source answered a real request. Nothing was stored; secrets must be entered again to save."
		}
		c.render(w, rc.r, "source-new", rc, page{Title: title, Nav: "sources", Data: d, Notice: notice})
		return
	}
	var out wire.Source
	if _, err := c.call(rc, method, path, in, &out); err != nil {
		fail(asAPIError(err))
		return
	}
	cs := createdSource{S: out, Updated: d.ID != ""}
	for _, k := range slices.Sorted(maps.Keys(out.Links)) {
		if k != "activate" && k != "deactivate" && out.Links[k].Method == http.MethodPost {
			cs.Endpoints = append(cs.Endpoints, nameValue{k, out.Links[k].Href})
		}
	}
	// The answer's settings hold a secret only where the server generated
	// it; take it out so that the settings shown below have none.
	var m map[string]any
	if json.Unmarshal(out.Settings, &m) == nil {
		for _, p := range t.SecretPaths {
			if v, ok := takePath(m, strings.Split(p, ".")); ok && v != "" {
				cs.Generated = append(cs.Generated, nameValue{p, v})
			}
		}
		if b, err := json.Marshal(m); err == nil {
			cs.S.Settings = b
		}
	}
	notice := "Source created"
	if cs.Updated {
		notice = "Source updated"
	}
	if len(cs.Generated) == 0 && (cs.Updated || len(cs.Endpoints) == 0) {
		http.Redirect(w, rc.r, "/console/sources/"+url.PathEscape(out.ID)+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
		return
	}
	c.render(w, rc.r, "source-created", rc, page{Title: notice + ": " + out.Name, Nav: "sources", Data: cs})
}

// sourceEditPage is the add form filled with the source's settings as the
// API shows them; secrets stay empty and are kept unless typed.
func (c *Console) sourceEditPage(w http.ResponseWriter, rc *reqCtx) {
	s, t, ok := c.editableSource(w, rc)
	if !ok {
		return
	}
	d := sourceFormData{ID: s.ID, Type: s.Type, Name: s.Name, Org: s.Org}
	var settings map[string]any
	_ = json.Unmarshal(s.Settings, &settings)
	for _, f := range t.Fields() {
		sf := sourceField{Field: f}
		if v, ok := jsonmap.Get(settings, strings.Split(f.Path, ".")); ok && f.Kind != "secret" {
			sf.Value = settingText(v, f.Kind)
		}
		d.Fields = append(d.Fields, sf)
	}
	c.render(w, rc.r, "source-new", rc, page{Title: "Edit source: " + s.Name, Nav: "sources", Data: d})
}

// sourceEditSave replaces the source's name and settings (PUT); its type
// and org stay.
func (c *Console) sourceEditSave(w http.ResponseWriter, rc *reqCtx) {
	s, t, ok := c.editableSource(w, rc)
	if !ok {
		return
	}
	d := sourceFormData{ID: s.ID, Type: s.Type, Name: rc.r.PostFormValue("name"), Org: s.Org}
	c.saveSource(w, rc, t, d, http.MethodPut, "/api/v1/sources/"+url.PathEscape(s.ID))
}

// editableSource reads the source named by the path (not found: as the
// API answers, also for another org's), refusing a config-file one.
func (c *Console) editableSource(w http.ResponseWriter, rc *reqCtx) (wire.Source, source.Type, bool) {
	id := rc.r.PathValue("id")
	var s wire.Source
	if _, err := c.call(rc, http.MethodGet, "/api/v1/sources/"+url.PathEscape(id), nil, &s); err != nil {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Source", Nav: "sources", Error: asAPIError(err),
			Data: map[string]any{"Back": "/console/sources"}})
		return s, source.Type{}, false
	}
	t, ok := c.d.Sources[s.Type]
	if !ok || s.ReadOnly {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "error", rc, page{Title: s.Name, Nav: "sources",
			Error: &apiError{Code: "E0000001", Summary: "Api validation failed: source", Causes: []string{"the source is declared in the config file and is read-only"}},
			Data:  map[string]any{"Back": "/console/sources/" + url.PathEscape(id)}})
		return s, source.Type{}, false
	}
	return s, t, true
}

// takePath removes the string at path from m and returns it.
func takePath(m map[string]any, path []string) (string, bool) {
	v, _ := jsonmap.Get(m, path)
	s, ok := v.(string)
	if ok {
		jsonmap.Delete(m, path)
	}
	return s, ok
}

// sourceLifecycle activates, deactivates or deletes a source through the
// API (form field action).
func (c *Console) sourceLifecycle(w http.ResponseWriter, rc *reqCtx) {
	id := rc.r.PathValue("id")
	base := "/api/v1/sources/" + url.PathEscape(id)
	next := "/console/sources/" + url.PathEscape(id)
	var (
		err    error
		notice string
	)
	switch action := rc.r.PostFormValue("action"); action {
	case "activate", "deactivate", "delete":
		err = c.lifecycle(rc, base, action)
		notice = "Source " + action + "d"
		if action == "delete" {
			next = "/console/sources"
		}
	default:
		err = &apiError{Code: "E0000001", Summary: "Api validation failed: action", Causes: []string{strconv.Quote(action) + " is not activate, deactivate or delete"}}
	}
	if err != nil {
		ae := asAPIError(err)
		status := http.StatusBadRequest
		switch ae.Code {
		case "E0000007":
			status = http.StatusNotFound
		case "E0000006":
			status = http.StatusForbidden
		}
		c.renderStatus(w, rc.r, status, "error", rc, page{Title: "Source", Nav: "sources", Error: ae, Data: map[string]any{"Back": next}})
		return
	}
	http.Redirect(w, rc.r, next+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}
