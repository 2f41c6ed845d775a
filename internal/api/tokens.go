package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
)

// maxControlBody bounds bodies of control-plane requests.
const maxControlBody = 1 << 20

type tokenView struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Org     string       `json:"org"`
	Scopes  []auth.Scope `json:"scopes"`
	Created time.Time    `json:"created"`
	// Token is the secret, present only in the answer to its creation.
	Token string `json:"token,omitempty"`
}

func viewToken(t auth.Token) tokenView {
	return tokenView{ID: t.ID, Name: t.Name, Org: t.Org, Scopes: t.Scopes, Created: t.Created}
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	out := []tokenView{}
	for _, t := range s.d.Tokens.List(tok.Org) {
		out = append(out, viewToken(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	var in struct {
		Name   string       `json:"name"`
		Org    string       `json:"org"`
		Scopes []auth.Scope `json:"scopes"`
	}
	if err := DecodeBody(r, &in, true); err != nil {
		return err
	}
	if in.Org == "" {
		in.Org = tok.Org
	}
	if in.Name == auth.EnvTokenName {
		return Errorf(http.StatusBadRequest, CodeValidation, "Api validation failed: token").
			WithCauses("name: " + auth.EnvTokenName + " is reserved for the token set from that environment variable")
	}
	if !tok.CanAccessOrg(in.Org) {
		return Errorf(http.StatusForbidden, CodeForbidden, "You do not have permission to perform the requested action").
			WithCauses("the token may not create tokens for org " + in.Org)
	}
	secret, t, err := s.d.Tokens.Create(r.Context(), auth.Token{Name: in.Name, Org: in.Org, Scopes: in.Scopes})
	if err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return err
		}
		return validationError("token", err)
	}
	s.recordTokenChange(r.Context(), tok, EvTokenCreate, t)
	v := viewToken(t)
	v.Token = secret
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	t, ok := s.d.Tokens.Get(r.PathValue("id"))
	if !ok || !tok.CanAccessOrg(t.Org) {
		return Errorf(http.StatusNotFound, CodeNotFound, "Not found: Resource not found: %s (Token)", r.PathValue("id"))
	}
	writeJSON(w, http.StatusOK, viewToken(t))
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	t, ok := s.d.Tokens.Get(r.PathValue("id"))
	if !ok || !tok.CanAccessOrg(t.Org) {
		return Errorf(http.StatusNotFound, CodeNotFound, "Not found: Resource not found: %s (Token)", r.PathValue("id"))
	}
	if err := s.d.Tokens.Delete(r.Context(), t.ID); err != nil {
		return err
	}
	s.recordTokenChange(r.Context(), tok, EvTokenRevoke, t)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// validationError turns joined validation errors into a 400 with one cause
// per problem.
func validationError(what string, err error) error {
	e := Errorf(http.StatusBadRequest, CodeValidation, "Api validation failed: %s", what)
	for _, line := range strings.Split(err.Error(), "\n") {
		if line != "" {
			e.Causes = append(e.Causes, line)
		}
	}
	return e
}

// DecodeBody reads a JSON request body of at most 1 MiB into v, strictly
// (unknown members are errors) when strict is set, answering Okta errors.
func DecodeBody(r *http.Request, v any, strict bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return Errorf(http.StatusUnsupportedMediaType, CodeUnsupported, "Unsupported media type %q", ct).
			WithCauses("send application/json")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxControlBody+1))
	if err != nil {
		return Errorf(http.StatusBadRequest, CodeMalformed, "The request body was not well-formed.").WithCauses(err.Error())
	}
	if len(body) > maxControlBody {
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "Request body too large").
			WithCauses(fmt.Sprintf("at most %d bytes", maxControlBody))
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, CodeMalformed, "The request body was not well-formed.").WithCauses(err.Error())
	}
	return nil
}
