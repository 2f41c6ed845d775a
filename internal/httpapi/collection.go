package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/auditstream/auditstream/internal/auth"
)

// Meta is what the shared handlers of a Collection read of a resource.
type Meta struct {
	Org, Type, Status string
	// ReadOnly marks resources declared in the config file.
	ReadOnly bool
}

// ByOperator reports whether settings stored by tok are the operator's
// choice, which decides the egress policy they are held to: tok is an
// all-orgs token, or it leaves the settings of a resource the operator
// set (oldOperator, false on create) as they were (oldSettings, stored
// compacted).
func ByOperator(tok auth.Token, oldOperator bool, oldSettings, settings json.RawMessage) bool {
	return tok.Org == auth.AllOrgs || (oldOperator && bytes.Equal(CompactJSON(settings), oldSettings))
}

// Collection is the request flow log streams and sources share: resources
// owned by an org, listed with Okta's one-condition filter, found by the
// {id} path value among those the token's orgs own, and refused with 403
// when the config file declares them. D is the resource, V its view.
type Collection[D, V any] struct {
	// Kind names the resource in a 404 ("LogStream", "LogSource").
	Kind string
	// List returns every resource; Get the one with id.
	List func() []D
	Get  func(id string) (D, bool)
	// Meta reads d's org, type, status and read-only mark.
	Meta func(d D) Meta
	// View renders d for the response.
	View func(r *http.Request, d D) V
	// ReadOnly is the cause of the 403 for changing a resource the config
	// file declares.
	ReadOnly string
}

// Find returns the resource named by the request's {id}, or Okta's 404
// when there is none the token may see (another org's is not found
// either).
func (c *Collection[D, V]) Find(r *http.Request, tok auth.Token) (D, error) {
	id := r.PathValue("id")
	d, ok := c.Get(id)
	if !ok || !tok.CanAccessOrg(c.Meta(d).Org) {
		var zero D
		return zero, Errorf(http.StatusNotFound, CodeNotFound, "Not found: Resource not found: %s (%s)", id, c.Kind)
	}
	return d, nil
}

// Editable is Find for a change: it also refuses, with 403, a resource
// the config file declares.
func (c *Collection[D, V]) Editable(r *http.Request, tok auth.Token) (D, error) {
	d, err := c.Find(r, tok)
	if err == nil && c.Meta(d).ReadOnly {
		var zero D
		return zero, Forbidden(c.ReadOnly)
	}
	return d, err
}

// Replacing is Editable for a PUT: it also decodes the request's body
// strictly into in.
func (c *Collection[D, V]) Replacing(r *http.Request, tok auth.Token, in any) (D, error) {
	d, err := c.Editable(r, tok)
	if err != nil {
		return d, err
	}
	return d, DecodeBody(r, in, true)
}

// ServeList answers GET of the collection: the resources of the token's
// orgs, optionally filtered with `type eq "…"` or `status eq "…"`.
func (c *Collection[D, V]) ServeList(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	var field, value string
	if f := r.URL.Query().Get("filter"); f != "" {
		var ok bool
		field, value, ok = ParseEqFilter(f)
		if !ok || (field != "type" && field != "status") {
			return Errorf(http.StatusBadRequest, CodeInvalidFilter, "Invalid filter %q", f).
				WithCauses(`use exactly one of: type eq "<type>", status eq "ACTIVE|INACTIVE"`)
		}
	}
	out := []V{}
	for _, d := range c.List() {
		m := c.Meta(d)
		if !tok.CanAccessOrg(m.Org) || (field == "type" && m.Type != value) || (field == "status" && m.Status != value) {
			continue
		}
		out = append(out, c.View(r, d))
	}
	WriteJSON(w, http.StatusOK, out)
	return nil
}

// ServeGet answers GET of one resource with its view.
func (c *Collection[D, V]) ServeGet(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return c.ServeFound(w, r, tok, func(d D) any { return c.View(r, d) })
}

// ServeFound answers GET of something about one resource (its status)
// with what answer returns for it.
func (c *Collection[D, V]) ServeFound(w http.ResponseWriter, r *http.Request, tok auth.Token, answer func(d D) any) error {
	d, err := c.Find(r, tok)
	if err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, answer(d))
	return nil
}

// ServeChange applies change to an editable resource (a lifecycle step)
// and answers with the view of what it returns.
func (c *Collection[D, V]) ServeChange(w http.ResponseWriter, r *http.Request, tok auth.Token, change func(d D) (D, error)) error {
	d, err := c.Editable(r, tok)
	if err != nil {
		return err
	}
	if d, err = change(d); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, c.View(r, d))
	return nil
}

// ServeDelete deletes an editable resource with del and answers 204.
func (c *Collection[D, V]) ServeDelete(w http.ResponseWriter, r *http.Request, tok auth.Token, del func(d D) error) error {
	d, err := c.Editable(r, tok)
	if err != nil {
		return err
	}
	if err := del(d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
