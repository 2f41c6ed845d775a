package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/health"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/stream"
)

// StreamTypes validates and builds log stream settings per type.
type StreamTypes interface {
	// Validate checks d's settings for its type, as d's owner may set
	// them (d.Org, d.ByOperator: a tenant's destination may not name an
	// internal address or an absolute directory), and returns every
	// problem (joined), or an error wrapping ErrUnknownType.
	Validate(d stream.Definition) error
	// Verify checks that the destination accepts writes (test connection).
	Verify(ctx context.Context, def stream.Definition) error
	// SecretPaths lists the settings (dotted paths) that are write-only.
	SecretPaths(typ string) []string
	// DestinationPaths lists the settings (dotted paths) that say where
	// the secrets are sent (secret.Fields.Destination): an update that
	// moves one to another scheme, host or port must send the secrets
	// again.
	DestinationPaths(typ string) []string
	// WriteOnce lists the top-level settings that are set on create and
	// cannot change afterwards (Okta's aws_eventbridge settings).
	WriteOnce(typ string) []string
}

// Deps are the server's collaborators.
type Deps struct {
	Journal    *journal.Journal
	Tokens     *auth.Store
	Streams    *stream.Store
	Supervisor *stream.Supervisor
	Types      StreamTypes
	// ValidateFilter compiles an event pattern and returns AWS's error.
	ValidateFilter func(pattern []byte) error
	Log            *slog.Logger
	Registry       *prometheus.Registry
	// DefaultOrg receives events sent with an all-orgs token that names no
	// org.
	DefaultOrg string
	Limits     httpapi.Limits
	// Now returns the current time (tests may fix it).
	Now func() time.Time
	// Routes are further endpoints (the System Log query API, sources),
	// served with the same authentication and error rendering.
	Routes []httpapi.Route
	// PublicURL is the base URL clients reach the API at (query.publicUrl,
	// default http://<listen>); the _links of answers are built from it,
	// never from the request's Host header. Empty: links are paths.
	PublicURL string
	// Health holds conditions that make /readyz answer 503 (NotReady) or
	// report "degraded"; nil reports none.
	Health *health.Board
	// Retention frees journal space when an append is refused at the
	// journal's cap and names the log streams holding it full; nil
	// answers 507 at once.
	Retention Retention
}

// Retention is what ingest needs of the journal's retention manager
// (*stream.Retention).
type Retention interface {
	// Admit answers an error (a *stream.FullError) while the journal is
	// near its cap and retention may not purge: ingest is refused before
	// the journal is completely full.
	Admit(ctx context.Context) error
	// MakeRoom purges what retention allows after an append was refused
	// because the journal is full. It returns nil when the append may be
	// retried, else an error (a *stream.FullError naming the streams).
	MakeRoom(ctx context.Context) error
	// Blockers are the active streams whose undelivered events hold the
	// journal full, as of the last check.
	Blockers() []stream.Blocker
}

// Server serves the API. Create it with New.
type Server struct {
	d Deps
	// streams carries out the log-stream changes the handlers decode.
	streams *stream.Service
	mux     *http.ServeMux
	metrics *ingestMetrics
	// gate bounds concurrent ingest requests (maxInflightIngest).
	gate     httpapi.Gate
	draining atomic.Bool
	// ingestBufs are the buffers ingest requests reuse (see readEvents).
	ingestBufs ingestBuffers
}

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Limits == (httpapi.Limits{}) {
		d.Limits = httpapi.DefaultLimits
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.DefaultOrg == "" {
		d.DefaultOrg = "default"
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	s := &Server{d: d, mux: http.NewServeMux(), metrics: newIngestMetrics(d.Registry),
		gate: httpapi.NewGate(maxInflightIngest),
		streams: stream.NewService(stream.ServiceDeps{Journal: d.Journal, Store: d.Streams, Supervisor: d.Supervisor,
			SystemOrg: d.DefaultOrg, Log: d.Log, Now: d.Now})}
	s.routes()
	return s
}

// Drain makes the server refuse new events with 503 while it shuts down.
func (s *Server) Drain() { s.draining.Store(true) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.authed(auth.ScopeAdmin, func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
		// Metrics name every org's streams and sources and the journal's
		// totals: they are for the operator.
		if tok.Org != auth.AllOrgs {
			return httpapi.Forbidden("metrics cover every org: use an all-orgs admin token")
		}
		promhttp.HandlerFor(s.d.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return nil
	}))

	s.mux.Handle("POST /api/v1/events", s.authed(auth.ScopeWriteEvents, s.ingest))

	s.mux.Handle("GET /api/v1/tokens", s.authed(auth.ScopeAdmin, s.listTokens))
	s.mux.Handle("POST /api/v1/tokens", s.authed(auth.ScopeAdmin, s.createToken))
	s.mux.Handle("GET /api/v1/tokens/{id}", s.authed(auth.ScopeAdmin, s.getToken))
	s.mux.Handle("DELETE /api/v1/tokens/{id}", s.authed(auth.ScopeAdmin, s.deleteToken))

	read, manage := auth.ScopeReadStreams, auth.ScopeManageStreams
	s.mux.Handle("GET /api/v1/logStreams", s.authed(read, s.listStreams))
	s.mux.Handle("POST /api/v1/logStreams", s.authed(manage, s.createStream))
	s.mux.Handle("GET /api/v1/logStreams/{id}", s.authed(read, s.getStream))
	s.mux.Handle("PUT /api/v1/logStreams/{id}", s.authed(manage, s.updateStream))
	s.mux.Handle("DELETE /api/v1/logStreams/{id}", s.authed(manage, s.deleteStream))
	s.mux.Handle("POST /api/v1/logStreams/{id}/lifecycle/activate", s.authed(manage, s.activateStream))
	s.mux.Handle("POST /api/v1/logStreams/{id}/lifecycle/deactivate", s.authed(manage, s.deactivateStream))
	s.mux.Handle("GET /api/v1/logStreams/{id}/status", s.authed(read, s.streamStatus))
	s.mux.Handle("POST /api/v1/logStreams/{id}/replay", s.authed(manage, s.replayStream))
	s.mux.Handle("GET /api/v1/logStreams/{id}/deadLetters", s.authed(read, s.deadLetters))
	s.mux.Handle("POST /api/v1/logStreams/{id}/deadLetters/redrive", s.authed(manage, s.redrive))

	for _, rt := range s.d.Routes {
		if rt.OwnAuth {
			s.mux.Handle(rt.Pattern, s.unauthed(rt.Handle))
			continue
		}
		s.mux.Handle(rt.Pattern, s.authed(rt.Scope, rt.Handle))
	}

	s.mux.Handle("/", s.authed("", s.notFound))
}

// notFound answers requests no route takes: 405 with Allow when the path
// exists for other methods, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, _ auth.Token) error {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return httpapi.Errorf(http.StatusMethodNotAllowed, httpapi.CodeMethod, "The endpoint does not support the provided HTTP method").
			WithCauses(fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
	}
	return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "Not found: Resource not found: %s (%s)", r.URL.Path, r.Method)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		httpapi.WriteError(w, s.d.Log, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Summary: "Service is shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, _, err := s.d.Journal.Info(ctx); err != nil {
		httpapi.WriteError(w, s.d.Log, &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Summary: "Journal unavailable"})
		return
	}
	conds := s.d.Health.Conditions()
	if len(conds) == 0 {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	var causes []string
	for _, c := range conds {
		if c.Level == health.NotReady {
			causes = append(causes, c.Name+": "+c.Message)
		}
	}
	if len(causes) > 0 {
		httpapi.WriteError(w, s.d.Log, httpapi.Errorf(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "Service is not ready").
			WithCauses(causes...))
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]any{"status": "degraded", "conditions": conds})
}

// authed wraps h with token authentication and a scope check (an empty
// scope only authenticates).
func (s *Server) authed(scope auth.Scope, h httpapi.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := identity(r.Context())
		if !ok {
			tok, ok = s.d.Tokens.Authenticate(bearer(r))
		}
		if !ok {
			httpapi.WriteError(w, s.d.Log, httpapi.Errorf(http.StatusUnauthorized, httpapi.CodeInvalidToken, "Invalid token provided"))
			return
		}
		if scope != "" && !tok.Has(scope) {
			httpapi.WriteError(w, s.d.Log, httpapi.Forbidden("missing scope "+string(scope)))
			return
		}
		if err := h(w, r, tok); err != nil {
			httpapi.WriteError(w, s.d.Log, err)
		}
	})
}

func validOrg(org string) bool { return event.ValidOrg(org) }

// unauthed serves h without token authentication, rendering its errors.
func (s *Server) unauthed(h httpapi.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, auth.Token{}); err != nil {
			httpapi.WriteError(w, s.d.Log, err)
		}
	})
}

// identityKey carries the identity of a request ServeAs serves.
type identityKey struct{}

// identity is the identity ServeAs put in ctx, if any. Only code in this
// process can put one there: no header or cookie reaches it.
func identity(ctx context.Context) (auth.Token, bool) {
	tok, ok := ctx.Value(identityKey{}).(auth.Token)
	return tok, ok
}

// ServeAs serves r as the API would serve it for a caller authenticated as
// tok: the same routes, scope checks, org checks, validation and audit
// events (with tok as their actor). The web console calls the API this
// way for a signed-in identity, so it keeps no second copy of any rule.
// r's Authorization header is ignored.
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, tok auth.Token) {
	r = r.WithContext(context.WithValue(r.Context(), identityKey{}, tok))
	r.Header.Del("Authorization")
	s.ServeHTTP(w, r)
}

// bearer extracts the token from "SSWS <t>" or "Bearer <t>".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok {
		return ""
	}
	if strings.EqualFold(scheme, "SSWS") || strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return ""
}
