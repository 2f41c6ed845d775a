package clienttest

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// tokenScopes are the scopes the server knows.
var tokenScopes = []string{"events.write", "logs.read", "logStreams.read", "logStreams.manage", "sources.read", "sources.manage", "activity.read", "admin"}

// sourceSecrets are the write-only members of a source's settings.auth.
var sourceSecrets = []string{"token", "value", "clientSecret", "privateKey"}

// registerResources adds the fake's /api/v1/tokens and /api/v1/sources endpoints.
func (s *Server) registerResources(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/tokens", s.listTokens)
	mux.HandleFunc("POST /api/v1/tokens", s.createToken)
	mux.HandleFunc("GET /api/v1/tokens/{id}", s.withToken(func(w http.ResponseWriter, _ *http.Request, i int) {
		writeJSON(w, http.StatusOK, s.tokens[i])
	}))
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", s.withToken(func(w http.ResponseWriter, _ *http.Request, i int) {
		s.tokens = slices.Delete(s.tokens, i, i+1)
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("GET /api/v1/sources", s.listSources)
	mux.HandleFunc("POST /api/v1/sources", s.createSource)
	mux.HandleFunc("GET /api/v1/sources/{id}", s.withSource(func(w http.ResponseWriter, _ *http.Request, i int) {
		writeJSON(w, http.StatusOK, viewSource(s.sources[i]))
	}))
	mux.HandleFunc("PUT /api/v1/sources/{id}", s.withSource(s.replaceSource))
	mux.HandleFunc("DELETE /api/v1/sources/{id}", s.withSource(func(w http.ResponseWriter, _ *http.Request, i int) {
		s.sources = slices.Delete(s.sources, i, i+1)
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.HandleFunc("POST /api/v1/sources/{id}/lifecycle/{op}", s.withSource(s.sourceLifecycle))
	mux.HandleFunc("GET /api/v1/sources/{id}/status", s.withSource(func(w http.ResponseWriter, _ *http.Request, i int) {
		state := "inactive"
		if s.sources[i]["status"] == "ACTIVE" {
			state = "active"
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": s.sources[i]["id"], "state": state, "events": 0, "health": "ok"})
	}))
}

// Tokens returns the tokens the fake holds (without secrets).
func (s *Server) Tokens() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokens)
}

// Sources returns the sources the fake holds, secrets included.
func (s *Server) Sources() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sources)
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	s.record(r, 0, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, append([]map[string]any{}, s.tokens...))
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	s.record(r, 0, 0)
	var in struct {
		Name   string   `json:"name"`
		Org    string   `json:"org"`
		Scopes []string `json:"scopes"`
	}
	if !decodeStrict(w, r, &in) {
		return
	}
	var causes []string
	if in.Name == "" {
		causes = append(causes, "name: required")
	}
	if len(in.Scopes) == 0 {
		causes = append(causes, "scopes: at least one")
	}
	for _, sc := range in.Scopes {
		if !slices.Contains(tokenScopes, sc) {
			causes = append(causes, "scopes: unknown scope "+sc)
		}
	}
	if causes != nil {
		WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: token", causes...)
		return
	}
	if in.Org == "" {
		in.Org = "*"
	}
	t := map[string]any{"id": "tok" + randHex(8), "name": in.Name, "org": in.Org, "scopes": in.Scopes,
		"created": time.Now().UTC().Format(TimeFormat)}
	s.mu.Lock()
	s.tokens = append(s.tokens, t)
	s.mu.Unlock()
	out := map[string]any{"token": "secret-" + randHex(16)}
	for k, v := range t {
		out[k] = v
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) withToken(h func(w http.ResponseWriter, r *http.Request, i int)) http.HandlerFunc {
	return s.withItem(&s.tokens, "Token", h)
}

func (s *Server) withSource(h func(w http.ResponseWriter, r *http.Request, i int)) http.HandlerFunc {
	return s.withItem(&s.sources, "LogSource", h)
}

// withItem resolves {id} to its index in *items, answering Okta's 404
// naming kind when there is none, and calls h with s.mu held.
func (s *Server) withItem(items *[]map[string]any, kind string, h func(w http.ResponseWriter, r *http.Request, i int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.record(r, 0, 0)
		s.mu.Lock()
		defer s.mu.Unlock()
		i := slices.IndexFunc(*items, func(o map[string]any) bool { return o["id"] == r.PathValue("id") })
		if i < 0 {
			WriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.PathValue("id")+" ("+kind+")")
			return
		}
		h(w, r, i)
	}
}

// sourceInput is the body of POST and PUT /api/v1/sources.
type sourceInput struct {
	Type     string         `json:"type"`
	Name     string         `json:"name"`
	Org      string         `json:"org"`
	Settings map[string]any `json:"settings"`
}

func (in sourceInput) problems() []string {
	var causes []string
	if in.Type != "okta" && in.Type != "eventbridge" {
		causes = append(causes, "type: want okta or eventbridge")
	}
	if in.Name == "" {
		causes = append(causes, "name: required")
	}
	if in.Settings == nil {
		causes = append(causes, "settings: required")
	}
	return causes
}

// viewSource is o without the write-only secrets.
func viewSource(o map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range o {
		out[k] = v
	}
	if settings, ok := o["settings"].(map[string]any); ok {
		cp := map[string]any{}
		for k, v := range settings {
			cp[k] = v
		}
		if auth, ok := settings["auth"].(map[string]any); ok {
			a := map[string]any{}
			for k, v := range auth {
				if !slices.Contains(sourceSecrets, k) {
					a[k] = v
				}
			}
			cp["auth"] = a
		}
		out["settings"] = cp
	}
	return out
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	s.record(r, 0, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, o := range s.sources {
		out = append(out, viewSource(o))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createSource(w http.ResponseWriter, r *http.Request) {
	s.record(r, 0, 0)
	var in sourceInput
	if !decodeStrict(w, r, &in) {
		return
	}
	if causes := in.problems(); causes != nil {
		WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: source", causes...)
		return
	}
	if in.Org == "" {
		in.Org = "default"
	}
	now := time.Now().UTC().Format(TimeFormat)
	o := map[string]any{"id": "0sr" + randHex(8), "type": in.Type, "name": in.Name, "org": in.Org, "status": "ACTIVE",
		"settings": in.Settings, "created": now, "lastUpdated": now}
	s.mu.Lock()
	s.sources = append(s.sources, o)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, viewSource(o))
}

func (s *Server) replaceSource(w http.ResponseWriter, r *http.Request, i int) {
	var in sourceInput
	if !decodeStrict(w, r, &in) {
		return
	}
	causes := in.problems()
	if causes == nil && in.Type != s.sources[i]["type"] {
		causes = []string{"type: cannot be changed"}
	}
	if causes != nil {
		WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: source", causes...)
		return
	}
	o := s.sources[i]
	o["name"], o["settings"], o["lastUpdated"] = in.Name, in.Settings, time.Now().UTC().Format(TimeFormat)
	writeJSON(w, http.StatusOK, viewSource(o))
}

func (s *Server) sourceLifecycle(w http.ResponseWriter, r *http.Request, i int) {
	switch r.PathValue("op") {
	case "activate":
		s.sources[i]["status"] = "ACTIVE"
	case "deactivate":
		s.sources[i]["status"] = "INACTIVE"
	default:
		WriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.URL.Path)
		return
	}
	writeJSON(w, http.StatusOK, viewSource(s.sources[i]))
}

// decodeStrict reads a JSON body with no unknown members into v, answering
// 415 or 400 itself when it cannot.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	if mediaType(r) != "application/json" {
		WriteError(w, http.StatusUnsupportedMediaType, "E0000001", "Unsupported media type")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.", err.Error())
		return false
	}
	return true
}
