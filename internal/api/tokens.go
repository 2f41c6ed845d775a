package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/sysevent"
)

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
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	var in struct {
		Name   string       `json:"name"`
		Org    string       `json:"org"`
		Scopes []auth.Scope `json:"scopes"`
	}
	if err := httpapi.DecodeBody(r, &in, true); err != nil {
		return err
	}
	if in.Org == "" {
		in.Org = tok.Org
	}
	if in.Name == auth.EnvTokenName {
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: token").
			WithCauses("name: " + auth.EnvTokenName + " is reserved for the token set from that environment variable")
	}
	if !tok.CanAccessOrg(in.Org) {
		return httpapi.Forbidden("the token may not create tokens for org " + in.Org)
	}
	secret, t, err := s.d.Tokens.Create(r.Context(), auth.Token{Name: in.Name, Org: in.Org, Scopes: in.Scopes})
	if err != nil {
		if errors.Is(err, auth.ErrNotFound) {
			return err
		}
		return httpapi.ValidationError("token", err)
	}
	s.recordTokenChange(r.Context(), tok, sysevent.TokenCreate, t)
	v := viewToken(t)
	v.Token = secret
	httpapi.WriteJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) getToken(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	t, ok := s.d.Tokens.Get(r.PathValue("id"))
	if !ok || !tok.CanAccessOrg(t.Org) {
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "Not found: Resource not found: %s (Token)", r.PathValue("id"))
	}
	httpapi.WriteJSON(w, http.StatusOK, viewToken(t))
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	t, ok := s.d.Tokens.Get(r.PathValue("id"))
	if !ok || !tok.CanAccessOrg(t.Org) {
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "Not found: Resource not found: %s (Token)", r.PathValue("id"))
	}
	if err := s.d.Tokens.Delete(r.Context(), t.ID); err != nil {
		return err
	}
	s.recordTokenChange(r.Context(), tok, sysevent.TokenRevoke, t)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
