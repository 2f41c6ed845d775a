package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/jsonmap"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/wire"
)

// Editing a log stream's settings: the form is drawn from the type's
// Fields, as the add wizard's, filled with the stream's settings as the
// API shows them. Secrets are write-only: the form says whether each is
// set, never shows it, and leaves it as it is unless a new value is typed
// (or "clear" ticked). Write-once settings are shown read-only and sent
// back as stored. The change is the API's PUT, as the signed-in identity.

// editField is one input of the edit form.
type editField struct {
	formField
	// Set: a secret holds a value (wire.Stream.SecretsSet).
	Set bool
	// ReadOnly: a write-once setting.
	ReadOnly bool
	// Errors are the API's causes about this setting.
	Errors []string
}

type editData struct {
	ID, Type, Name, Org, Filter string
	Fields                      []editField
	// Other are the causes not about one setting.
	Other []string
}

// writeOnce reports whether path is (under) one of t's write-once settings.
func writeOnce(t sink.Type, path string) bool {
	top, _, _ := strings.Cut(path, ".")
	return slices.Contains(t.WriteOnce, top)
}

// settingText is a stored setting as an input shows it.
func settingText(v any, kind string) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v) // numbers, and JSON values as JSON
	return string(b)
}

// editForm fills the form from s.
func editForm(t sink.Type, s wire.Stream) editData {
	d := editData{ID: s.ID, Type: s.Type, Name: s.Name, Org: s.Org}
	if len(s.Filter) > 0 {
		d.Filter = prettyJSON(s.Filter)
	}
	var settings map[string]any
	_ = json.Unmarshal(s.Settings, &settings)
	for _, f := range t.Fields() {
		ef := editField{formField: formField{Field: f}, ReadOnly: writeOnce(t, f.Path)}
		if f.Kind == "secret" {
			ef.Set = slices.Contains(s.SecretsSet, "settings."+f.Path)
		} else if v, ok := jsonmap.Get(settings, strings.Split(f.Path, ".")); ok {
			ef.Value = settingText(v, f.Kind)
			ef.Checked = v == true
		}
		d.Fields = append(d.Fields, ef)
	}
	return d
}

// getStream reads one stream as the signed-in identity, with its type.
func (c *Console) getStream(rc *reqCtx, id string) (wire.Stream, sink.Type, error) {
	var s wire.Stream
	if _, err := c.call(rc, http.MethodGet, "/api/v1/logStreams/"+url.PathEscape(id), nil, &s); err != nil {
		return s, sink.Type{}, err
	}
	t, ok := c.destination(s.Type)
	if !ok {
		return s, t, &apiError{Code: "E0000007", Summary: "Not found: Resource not found: " + s.Type + " (LogStreamType)"}
	}
	return s, t, nil
}

func (c *Console) streamEditPage(w http.ResponseWriter, rc *reqCtx) {
	s, t, err := c.getStream(rc, rc.r.PathValue("id"))
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Log stream", Nav: "streams", Error: asAPIError(err)})
		return
	}
	if !rc.who.Has(auth.ScopeManageStreams) {
		c.renderStatus(w, rc.r, http.StatusForbidden, "error", rc, page{Title: "Edit " + s.Name, Nav: "streams",
			Error: &apiError{Code: "E0000006", Summary: "You do not have permission to perform the requested action",
				Causes: []string{"changing a log stream needs the " + string(auth.ScopeManageStreams) + " scope"}},
			Data: map[string]any{"Back": "/console/streams/" + url.PathEscape(s.ID)}})
		return
	}
	c.render(w, rc.r, "stream-edit", rc, page{Title: "Edit " + s.Name, Nav: "streams", Data: editForm(t, s)})
}

// streamEditSave sends the form to PUT /api/v1/logStreams/{id}.
func (c *Console) streamEditSave(w http.ResponseWriter, rc *reqCtx) {
	s, t, err := c.getStream(rc, rc.r.PathValue("id"))
	if err != nil {
		c.renderStatus(w, rc.r, http.StatusNotFound, "error", rc, page{Title: "Log stream", Nav: "streams", Error: asAPIError(err)})
		return
	}
	form := rc.r.PostForm
	d := editForm(t, s)
	d.Name, d.Filter = form.Get("name"), form.Get("filter")
	var editable []sink.Field
	for i := range d.Fields {
		f := &d.Fields[i]
		if f.ReadOnly {
			continue
		}
		editable = append(editable, f.Field)
		if f.Kind != "secret" { // a secret is never sent back to the browser
			f.Value = form.Get("s." + f.Path)
			f.Checked = f.Value == "on"
		}
	}
	settings, causes := settingsFrom(form, editable)
	var stored map[string]any
	_ = json.Unmarshal(s.Settings, &stored)
	for _, f := range editable {
		// A box unticked on a setting the stream has is false; on one it
		// does not have, the destination's default stays.
		if _, had := jsonmap.Get(stored, strings.Split(f.Path, ".")); f.Kind == "bool" && had && form.Get("s."+f.Path) == "" {
			jsonmap.Set(settings, strings.Split(f.Path, "."), false)
		}
		if f.Kind == "secret" && form.Get("clear."+f.Path) == "on" && strings.TrimSpace(form.Get("s."+f.Path)) == "" {
			jsonmap.Set(settings, strings.Split(f.Path, "."), "")
		}
	}
	// Write-once settings go back as stored.
	for _, name := range t.WriteOnce {
		if v, ok := stored[name]; ok {
			settings[name] = v
		}
	}
	in := map[string]any{"type": s.Type, "name": d.Name, "settings": settings, "org": s.Org}
	if strings.TrimSpace(d.Filter) != "" {
		if !json.Valid([]byte(d.Filter)) {
			causes = append(causes, "filter: is not valid JSON")
		} else {
			in["filter"] = json.RawMessage(d.Filter)
		}
	}
	if len(causes) == 0 {
		_, err = c.call(rc, http.MethodPut, "/api/v1/logStreams/"+url.PathEscape(s.ID), in, nil)
		if err == nil {
			http.Redirect(w, rc.r, "/console/streams/"+url.PathEscape(s.ID)+"?notice="+url.QueryEscape("Settings saved"), http.StatusSeeOther)
			return
		}
	} else {
		err = &apiError{Code: "E0000001", Summary: "Api validation failed: logStream", Causes: causes}
	}
	ae := asAPIError(err)
	d.place(ae.Causes)
	status := http.StatusBadRequest
	if ae.Code == "E0000006" {
		status = http.StatusForbidden
	}
	c.renderStatus(w, rc.r, status, "stream-edit", rc, page{Title: "Edit " + s.Name, Nav: "streams", Error: ae, Data: d})
}

// place puts each cause next to the setting it names: "settings.<path>:"
// or "settings.<path> ..." (the API's), or "<path>: ..." or `<path> "v"`
// after the destination's own prefix ("http sink config: url: ..."); the others
// stay with the form.
func (d *editData) place(causes []string) {
	for _, cz := range causes {
		placed := false
		for i := range d.Fields {
			if namesSetting(cz, d.Fields[i].Path) {
				d.Fields[i].Errors = append(d.Fields[i].Errors, cz)
				placed = true
				break
			}
		}
		if !placed {
			d.Other = append(d.Other, cz)
		}
	}
}

func namesSetting(cause, path string) bool {
	if rest, ok := strings.CutPrefix(cause, "settings."+path); ok && (rest == "" || rest[0] == ':' || rest[0] == ' ') {
		return true
	}
	for _, after := range []string{": ", ` "`} { // "url: …", `body "x": …`
		if strings.HasPrefix(cause, path+after) || strings.Contains(cause, ": "+path+after) {
			return true
		}
	}
	return false
}
