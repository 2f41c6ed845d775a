package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/jsonmap"
	"github.com/auditstream/auditstream/internal/sink"
)

// The add wizard: choose a type, fill the form drawn from that type's
// Fields (sink.Type.Fields, next to the destination's Config), a filter,
// Verify (the API's own checks and test connection, nothing stored), Save.

func (c *Console) destination(name string) (sink.Type, bool) {
	for _, t := range c.d.Destinations {
		if t.Name == name {
			return t, true
		}
	}
	return sink.Type{}, false
}

func (c *Console) wizardTypes(w http.ResponseWriter, rc *reqCtx) {
	names := make([]string, len(c.d.Destinations))
	for i, t := range c.d.Destinations {
		names[i] = t.Name
	}
	c.render(w, rc.r, "wizard-types", rc, page{Title: "Add log stream", Nav: "streams", Data: map[string]any{"Types": names}})
}

// formField is one input of the wizard's form.
type formField struct {
	sink.Field
	Value   string
	Checked bool
}

type wizardData struct {
	Type     string
	Name     string
	Org      string
	AllOrgs  bool
	Filter   string
	Fields   []formField
	Verified bool
}

func (c *Console) wizardForm(w http.ResponseWriter, rc *reqCtx) {
	t, ok := c.destination(rc.r.PathValue("type"))
	if !ok {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Add log stream", Nav: "streams",
			Error: &apiError{Code: "E0000007", Summary: "Not found: Resource not found: " + rc.r.PathValue("type") + " (LogStreamType)"}})
		return
	}
	d := wizardData{Type: t.Name, AllOrgs: rc.who.Org == auth.AllOrgs}
	for _, f := range t.Fields() {
		d.Fields = append(d.Fields, formField{Field: f})
	}
	c.render(w, rc.r, "wizard-form", rc, page{Title: "Add log stream: " + t.Name, Nav: "streams", Data: d})
}

// settingsFrom builds a log stream's settings object from the form's
// s.<path> inputs: empty inputs are left out, so the destination's
// defaults apply.
func settingsFrom(form url.Values, fields []sink.Field) (map[string]any, []string) {
	inputs := make([]settingInput, len(fields))
	for i, f := range fields {
		inputs[i] = settingInput{Path: f.Path, Kind: f.Kind}
	}
	return formSettings(form, inputs)
}

// typedValue is what the form's s.<path> input held, to draw the form
// again: "" for a secret, which is never sent back to the browser.
func typedValue(form url.Values, path, kind string) string {
	if kind == "secret" {
		return ""
	}
	return form.Get("s." + path)
}

// settingInput is one settings input of a form (a destination's or a
// source type's field): its dotted path, its kind, and whether its text is
// taken as typed (not trimmed).
type settingInput struct {
	Path, Kind string
	Verbatim   bool
}

// formSettings builds a settings object from the form's s.<path> inputs:
// empty inputs are left out, so the type's defaults apply. A "bool" input
// is a checkbox (on or true), an "int" or "number" one a number, a "json"
// one a JSON value, any other its text; an input that is not what its
// kind says is left out with a cause ("settings.<path>: …").
func formSettings(form url.Values, inputs []settingInput) (map[string]any, []string) {
	out := map[string]any{}
	var causes []string
	for _, f := range inputs {
		raw := form.Get("s." + f.Path)
		if !f.Verbatim {
			raw = strings.TrimSpace(raw)
		}
		if raw == "" {
			continue
		}
		var v any = raw
		switch f.Kind {
		case "bool":
			v = raw == "on" || raw == "true"
		case "int", "number":
			n, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
			if err != nil {
				causes = append(causes, "settings."+f.Path+": "+strconv.Quote(raw)+" is not a number")
				continue
			}
			v = n
		case "json":
			var j any
			if err := json.Unmarshal([]byte(raw), &j); err != nil {
				causes = append(causes, "settings."+f.Path+": not valid JSON: "+err.Error())
				continue
			}
			v = j
		}
		jsonmap.Set(out, strings.Split(f.Path, "."), v)
	}
	return out, causes
}

func (c *Console) wizardSave(w http.ResponseWriter, rc *reqCtx) {
	t, ok := c.destination(rc.r.PathValue("type"))
	if !ok {
		http.NotFound(w, rc.r)
		return
	}
	form := rc.r.PostForm
	d := wizardData{Type: t.Name, Name: form.Get("name"), Org: form.Get("org"), Filter: form.Get("filter"), AllOrgs: rc.who.Org == auth.AllOrgs}
	fields := t.Fields()
	for _, f := range fields {
		v := typedValue(form, f.Path, f.Kind)
		d.Fields = append(d.Fields, formField{Field: f, Value: v, Checked: v == "on"})
	}
	settings, causes := settingsFrom(form, fields)
	in := map[string]any{"type": t.Name, "name": d.Name, "settings": settings}
	if strings.TrimSpace(d.Filter) != "" {
		if !json.Valid([]byte(d.Filter)) {
			causes = append(causes, "filter: is not valid JSON")
		}
		in["filter"] = json.RawMessage(d.Filter)
	}
	if d.Org != "" {
		in["org"] = d.Org
	}
	fail := func(err *apiError) {
		c.renderStatus(w, rc.r, http.StatusBadRequest, "wizard-form", rc, page{Title: "Add log stream: " + t.Name, Nav: "streams",
			Error: err, Data: d})
	}
	if len(causes) > 0 {
		fail(&apiError{Code: "E0000001", Summary: "Api validation failed: logStream", Causes: causes})
		return
	}
	if form.Get("step") == "verify" {
		if _, err := c.call(rc, http.MethodPost, "/api/v1/logStreams?dryRun=true", in, nil); err != nil {
			fail(asAPIError(err))
			return
		}
		d.Verified = true
		c.render(w, rc.r, "wizard-form", rc, page{Title: "Add log stream: " + t.Name, Nav: "streams", Data: d,
			Notice: "Verified: the settings are valid and the destination accepted a test request. Secrets must be entered again to save."})
		return
	}
	var out struct {
		ID string `json:"id"`
	}
	if _, err := c.call(rc, http.MethodPost, "/api/v1/logStreams", in, &out); err != nil {
		fail(asAPIError(err))
		return
	}
	http.Redirect(w, rc.r, "/console/streams/"+url.PathEscape(out.ID)+"?notice="+url.QueryEscape("Log stream created"), http.StatusSeeOther)
}
