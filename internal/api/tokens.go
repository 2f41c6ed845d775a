package api

import (
	"errors"
	"net/http"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/sysevent"
	"github.com/auditstream/auditstream/internal/wire"
)

// viewToken is t as the API shows it, without its hash.
func viewToken(t auth.Token) wire.Token {
	var scopes []string
	if t.Scopes != nil {
		scopes = make([]string, len(t.Scopes))
		for i, sc := range t.Scopes {
			scopes[i] = string(sc)
		}
	}
	return wire.Token{ID: t.ID, Name: t.Name, Org: t.Org, Scopes: scopes, Created: t.Created}
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	out := []wire.Token{}
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
	v.Secret = secret
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
