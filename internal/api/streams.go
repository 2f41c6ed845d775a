package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/jsonmap"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/sysevent"
	"github.com/auditstream/auditstream/internal/wire"
)

// view is a log stream as the API shows it, its secret settings removed.
func (s *Server) view(r *http.Request, d stream.Definition) wire.Stream {
	settings, err := secret.Strip(d.Settings, s.d.Types.SecretPaths(d.Type))
	if err != nil {
		settings = json.RawMessage("{}")
	}
	return wire.Stream{ID: d.ID, Type: d.Type, Name: d.Name, Status: d.Status, Settings: settings, Filter: d.Filter, Org: d.Org,
		SecretsSet: secretsSet(d.Settings, s.d.Types.SecretPaths(d.Type)),
		Tail:       wire.NewTail(s.d.PublicURL+"/api/v1/logStreams/"+d.ID, d.Status == stream.StatusActive, d.ReadOnly, d.Created, d.LastUpdated)}
}

// secretsSet names the secret settings that hold a non-empty value, as
// "settings.<path>".
func secretsSet(settings json.RawMessage, paths []string) []string {
	if len(paths) == 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(settings, &m) != nil {
		return nil
	}
	var out []string
	for _, p := range paths {
		if v, ok := jsonmap.Get(m, strings.Split(p, ".")); ok && v != nil && v != "" {
			out = append(out, "settings."+p)
		}
	}
	return out
}

// streamInput is the body of POST and PUT, decoded strictly: a misspelt
// member (a "filtr") must be an error, not a stream that gets everything.
// The read-only members of a LogStream object are accepted and ignored, so
// a client can PUT back what it got.
type streamInput struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	Settings json.RawMessage `json:"settings"`
	Filter   json.RawMessage `json:"filter"`
	Org      string          `json:"org"`

	ID          json.RawMessage `json:"id"`
	Status      json.RawMessage `json:"status"`
	Created     json.RawMessage `json:"created"`
	LastUpdated json.RawMessage `json:"lastUpdated"`
	ReadOnly    json.RawMessage `json:"readOnly"`
	Links       json.RawMessage `json:"_links"`
	SecretsSet  json.RawMessage `json:"secretsSet"`
}

// logStreams is the shared request flow of /api/v1/logStreams.
func (s *Server) logStreams() *httpapi.Collection[stream.Definition, wire.Stream] {
	return &httpapi.Collection[stream.Definition, wire.Stream]{Kind: "LogStream", List: s.streams.List, Get: s.streams.Get,
		Meta: func(d stream.Definition) httpapi.Meta {
			return httpapi.Meta{Org: d.Org, Type: d.Type, Status: d.Status, ReadOnly: d.ReadOnly}
		},
		View: s.view, ReadOnly: stream.ErrReadOnly.Error()}
}

func (s *Server) listStreams(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return s.logStreams().ServeList(w, r, tok)
}

func (s *Server) getStream(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return s.logStreams().ServeGet(w, r, tok)
}

// validateInput checks a create or update; old is the stream being
// replaced (zero for a create).
func (s *Server) validateInput(in *streamInput, tok auth.Token, old stream.Definition) error {
	var causes []string
	if n := len([]rune(in.Name)); n < 1 || n > 100 {
		causes = append(causes, "name: must be 1 to 100 characters")
	}
	for _, d := range s.streams.List() {
		if d.Name == in.Name && d.ID != old.ID && d.Org == orgOr(in.Org, tok) {
			causes = append(causes, "name: a log stream with this name already exists")
		}
	}
	if old.ID != "" && in.Type != old.Type {
		causes = append(causes, "type: cannot be changed; create a new log stream")
	}
	if old.ID != "" && in.Type == old.Type {
		causes = append(causes, writeOnceChanges(old.Settings, in.Settings, s.d.Types.WriteOnce(old.Type))...)
	}
	if len(in.Settings) == 0 || string(in.Settings) == "null" {
		in.Settings = json.RawMessage("{}")
	}
	if err := s.d.Types.Validate(stream.Definition{Header: kvstore.Header{ID: old.ID, Type: in.Type, Org: orgOr(in.Org, tok), Settings: in.Settings},
		Operator: httpapi.ByOperator(tok, old.Operator, old.Settings, in.Settings)}); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			causes = append(causes, line)
		}
	}
	if len(in.Filter) > 0 && string(in.Filter) != "null" {
		if err := s.d.ValidateFilter(in.Filter); err != nil {
			causes = append(causes, "filter: "+err.Error())
		}
	} else {
		in.Filter = nil
	}
	if in.Org != "" && in.Org != auth.AllOrgs && !validOrg(in.Org) {
		causes = append(causes, "org: must be 1 to 64 letters, digits, '-' or '_', or * for all orgs")
	}
	if in.Org != "" && !tok.CanAccessOrg(in.Org) {
		return httpapi.Forbidden("the token may not manage log streams of org " + in.Org)
	}
	if len(causes) > 0 {
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: logStream").WithCauses(causes...)
	}
	return nil
}

// writeOnceChanges names the write-once settings an update changes.
func writeOnceChanges(old, updated json.RawMessage, names []string) []string {
	if len(names) == 0 {
		return nil
	}
	var o, n map[string]json.RawMessage
	_ = json.Unmarshal(old, &o)
	_ = json.Unmarshal(updated, &n)
	var causes []string
	for _, name := range names {
		if !bytes.Equal(httpapi.CompactJSON(o[name]), httpapi.CompactJSON(n[name])) {
			causes = append(causes, fmt.Sprintf("settings.%s: is set when the log stream is created and cannot be changed", name))
		}
	}
	return causes
}

func orgOr(org string, tok auth.Token) string {
	if org != "" {
		return org
	}
	return tok.Org
}

// destinationError is what tok learns of a destination's refusal: all of
// it for the operator, the status line only for a tenant, never what the
// destination answered, which may be an internal service.
func destinationError(tok auth.Token, err error) string {
	if tok.Org != auth.AllOrgs {
		return egress.PublicMessage(err)
	}
	return err.Error()
}

func (s *Server) verify(ctx context.Context, r *http.Request, tok auth.Token, d stream.Definition) error {
	if r.URL.Query().Get("verify") == "false" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.d.Types.Verify(ctx, d); err != nil {
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: settings").
			WithCauses("the destination check failed: " + destinationError(tok, err))
	}
	return nil
}

func (s *Server) createStream(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	var in streamInput
	if err := httpapi.DecodeBody(r, &in, true); err != nil {
		return err
	}
	if err := s.validateInput(&in, tok, stream.Definition{}); err != nil {
		return err
	}
	now := s.d.Now().UTC().Truncate(time.Millisecond)
	d := stream.Definition{Header: kvstore.Header{ID: stream.NewID(), Type: in.Type, Name: in.Name, Status: stream.StatusActive, Org: orgOr(in.Org, tok), Settings: httpapi.CompactJSON(in.Settings)},
		Filter: httpapi.CompactJSON(in.Filter), Stamps: kvstore.Stamps{Created: now, LastUpdated: now}, Operator: tok.Org == auth.AllOrgs}
	if err := s.verify(r.Context(), r, tok, d); err != nil {
		return err
	}
	if r.URL.Query().Get("dryRun") == "true" {
		// Checked and verified, not stored (the console's Verify step).
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"valid": true, "verified": r.URL.Query().Get("verify") != "false"})
		return nil
	}
	d, err := s.streams.Create(r.Context(), sysevent.Token(tok), d)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, s.view(r, d))
	return nil
}

func (s *Server) updateStream(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	var in streamInput
	old, err := s.logStreams().Replacing(r, tok, &in)
	if err != nil {
		return err
	}
	in.Org = cmp.Or(in.Org, old.Org)
	if in.Type == old.Type {
		merged, err := secret.Carry(in.Settings, old.Settings,
			secret.Fields{Secrets: s.d.Types.SecretPaths(old.Type), Destination: s.d.Types.DestinationPaths(old.Type)})
		if errors.Is(err, secret.ErrResend) {
			// A stored secret never follows the stream to another host.
			return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: logStream").
				WithCauses(strings.Split(err.Error(), "\n")...)
		}
		if err == nil {
			in.Settings = merged
		}
	}
	if err := s.validateInput(&in, tok, old); err != nil {
		return err
	}
	d := old
	d.Name, d.Settings, d.Filter, d.Org = in.Name, httpapi.CompactJSON(in.Settings), httpapi.CompactJSON(in.Filter), in.Org
	d.Operator = httpapi.ByOperator(tok, old.Operator, old.Settings, in.Settings)
	if d.Status == stream.StatusActive && !bytes.Equal(d.Settings, old.Settings) {
		if err := s.verify(r.Context(), r, tok, d); err != nil {
			return err
		}
	}
	d, err = s.streams.Update(r.Context(), sysevent.Token(tok), old, d)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, s.view(r, d))
	return nil
}

func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return s.logStreams().ServeDelete(w, r, tok, func(d stream.Definition) error {
		return s.streams.Delete(r.Context(), sysevent.Token(tok), d)
	})
}

func (s *Server) activateStream(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return s.lifecycle(w, r, tok, stream.StatusActive)
}

func (s *Server) deactivateStream(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return s.lifecycle(w, r, tok, stream.StatusInactive)
}

func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, tok auth.Token, status string) error {
	return s.logStreams().ServeChange(w, r, tok, func(d stream.Definition) (stream.Definition, error) {
		if status == stream.StatusActive {
			if err := s.verify(r.Context(), r, tok, d); err != nil {
				return d, err
			}
		}
		return s.streams.SetStatus(r.Context(), sysevent.Token(tok), d, status)
	})
}

func (s *Server) streamStatus(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	return s.logStreams().ServeFound(w, r, tok, func(d stream.Definition) any { return s.streams.Status(r.Context(), d) })
}

func (s *Server) replayStream(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	d, err := s.logStreams().Editable(r, tok)
	if err != nil {
		return err
	}
	var in struct {
		Since string `json:"since"`
	}
	if err := httpapi.DecodeBody(r, &in, true); err != nil {
		return err
	}
	since, err := time.Parse(time.RFC3339Nano, in.Since)
	if err != nil {
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: since").
			WithCauses(fmt.Sprintf("since %q is not an RFC 3339 time", in.Since))
	}
	if d, err = s.streams.Replay(r.Context(), d, since); err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusAccepted, map[string]any{"id": d.ID, "since": since.UTC().Format(time.RFC3339Nano)})
	return nil
}

// deadLetterView is a dead letter without its event, for a token without
// logs.read.
type deadLetterView struct {
	stream.DeadLetter
	// Event hides the letter's event (omitted when nil).
	Event        json.RawMessage `json:"event,omitempty"`
	EventOmitted string          `json:"eventOmitted"`
}

func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	d, err := s.logStreams().Find(r, tok)
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: limit").
				WithCauses("limit must be an integer from 1 to 1000")
		}
		limit = n
	}
	dls, err := s.streams.DeadLetters(r.Context(), d, limit)
	if err != nil {
		return err
	}
	// The letters hold the events themselves: their bodies are for tokens
	// that may read events (logs.read), the rest sees why and which.
	if !tok.Has(auth.ScopeReadLogs) {
		out := make([]deadLetterView, len(dls))
		for i, dl := range dls {
			out[i] = deadLetterView{DeadLetter: dl, EventOmitted: "the token lacks " + string(auth.ScopeReadLogs)}
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	httpapi.WriteJSON(w, http.StatusOK, dls)
	return nil
}

func (s *Server) redrive(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
	d, err := s.logStreams().Find(r, tok)
	if err != nil {
		return err
	}
	n, err := s.streams.Redrive(r.Context(), d)
	var re *stream.RedriveError
	if errors.As(err, &re) {
		return &httpapi.Error{Status: http.StatusBadGateway, Code: httpapi.CodeInternal, Summary: "Redrive stopped: the destination refused events",
			Causes: []string{fmt.Sprintf("%d redriven before: %s", n, destinationError(tok, re.Err))}}
	}
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]int{"redriven": n})
	return nil
}
