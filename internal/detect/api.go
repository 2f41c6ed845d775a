package detect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// System Log event types of changes made through the detections API.
const (
	EventRuleCreate     = "system.detection_rule.create"
	EventRuleDelete     = "system.detection_rule.delete"
	EventRuleActivate   = "system.detection_rule.lifecycle.activate"
	EventRuleDeactivate = "system.detection_rule.lifecycle.deactivate"
	EventTriage         = "system.detection.update"
)

// API serves /api/v1/detections.
type API struct {
	Rules      *Rules
	Store      *Store
	Journal    *journal.Journal
	Engine     correlate.Config
	Envelope   Envelope
	DefaultOrg string
	// BaseURL is the public base URL the list's Link headers are built on
	// (empty: links relative to the host).
	BaseURL string
	// FirstSeen, when set, answers firstSeen rules in backtests.
	FirstSeen FirstSeenSource
	// Backtests runs backtests as jobs; nil: one with the default limits,
	// made at the first backtest.
	Backtests *BacktestJobs
	Log       *slog.Logger
	Now       func() time.Time

	jobsOnce sync.Once
	jobsErr  error
}

// Routes are the detections endpoints.
func (a *API) Routes() []httpapi.Route {
	r, m := auth.ScopeReadDetections, auth.ScopeManageDetections
	return []httpapi.Route{
		{Pattern: "GET /api/v1/detections/rules", Scope: r, Handle: a.inOrg(a.listRules)},
		{Pattern: "POST /api/v1/detections/rules", Scope: m, Handle: a.inOrg(a.uploadRule)},
		{Pattern: "GET /api/v1/detections/rules/{id}", Scope: r, Handle: a.inOrg(a.getRule)},
		{Pattern: "DELETE /api/v1/detections/rules/{id}", Scope: m, Handle: a.inOrg(a.deleteRule)},
		{Pattern: "POST /api/v1/detections/rules/{id}/lifecycle/{op}", Scope: m, Handle: a.inOrg(a.lifecycle)},
		{Pattern: "GET /api/v1/detections", Scope: r, Handle: a.inOrg(a.list)},
		{Pattern: "GET /api/v1/detections/{id}", Scope: r, Handle: a.inOrg(a.get)},
		{Pattern: "POST /api/v1/detections/{id}", Scope: m, Handle: a.inOrg(a.update)},
		{Pattern: "POST /api/v1/detections/backtest", Scope: r, Handle: a.inOrg(a.backtest)},
		{Pattern: "POST /api/v1/detections/backtests", Scope: r, Handle: a.inOrg(a.startBacktest)},
		{Pattern: "GET /api/v1/detections/backtests", Scope: r, Handle: a.inOrg(a.listBacktests)},
		{Pattern: "GET /api/v1/detections/backtests/{id}", Scope: r, Handle: a.inOrg(a.getBacktest)},
		{Pattern: "POST /api/v1/detections/backtests/{id}/cancel", Scope: r, Handle: a.inOrg(a.cancelBacktest)},
	}
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// org is the org a request acts on: the token's, or for an all-orgs token
// the org query parameter (default: the default org).
func (a *API) org(r *http.Request, tok auth.Token) (string, error) {
	q := r.URL.Query().Get("org")
	if tok.Org != auth.AllOrgs {
		if q != "" && q != tok.Org {
			return "", httpapi.Forbidden("the token may not act on org " + q)
		}
		return tok.Org, nil
	}
	if q == "" {
		return a.DefaultOrg, nil
	}
	if !event.ValidOrg(q) {
		return "", httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidFilter, "Invalid org %q", q)
	}
	return q, nil
}

// orgHandler is a detections endpoint's handler, given the org the
// request acts on.
type orgHandler func(w http.ResponseWriter, r *http.Request, tok auth.Token, org string) error

// inOrg resolves the org a request acts on (API.org), refusing the request
// when it names one the token may not act on, and calls h with it: every
// detections endpoint acts in one org.
func (a *API) inOrg(h orgHandler) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, tok auth.Token) error {
		org, err := a.org(r, tok)
		if err != nil {
			return err
		}
		return h(w, r, tok, org)
	}
}

func notFound(what, id string) error {
	return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "Not found: Resource not found: %s (%s)", id, what)
}

// notFoundAs is err of a read or change of the resource the request's
// {id} names: Okta's 404 for a resource of type what when err is missing
// (the store's not-found sentinel), any other err as it is.
func notFoundAs(r *http.Request, err, missing error, what string) error {
	if errors.Is(err, missing) {
		return notFound(what, r.PathValue("id"))
	}
	return err
}

// writeFound answers such a read or change: v with 200 when err is nil,
// else the error as notFoundAs maps it.
func writeFound[T any](w http.ResponseWriter, r *http.Request, v T, err, missing error, what string) error {
	if err != nil {
		return notFoundAs(r, err, missing, what)
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

// RuleView is a rule as the API lists it for an org.
type RuleView struct {
	Info
	Enabled bool `json:"enabled"`
}

func (a *API) visible(org string) []RuleView {
	var out []RuleView
	for _, in := range a.Rules.Registry().Infos() {
		if in.Org != "" && in.Org != org {
			continue
		}
		out = append(out, RuleView{Info: in, Enabled: a.Rules.Enabled(org, in.ID)})
	}
	return out
}

func (a *API) listRules(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	out := a.visible(org)
	if st := r.URL.Query().Get("status"); st != "" {
		out = slices.DeleteFunc(out, func(v RuleView) bool { return v.Status != st })
	}
	if out == nil {
		out = []RuleView{}
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) findRule(org, id string) (RuleView, bool) {
	for _, v := range a.visible(org) {
		if v.ID == id && v.ID != "" {
			return v, true
		}
	}
	return RuleView{}, false
}

func (a *API) getRule(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	v, ok := a.findRule(org, r.PathValue("id"))
	if !ok {
		return notFound("DetectionRule", r.PathValue("id"))
	}
	reg := a.Rules.Registry()
	httpapi.WriteJSON(w, http.StatusOK, RuleDetail{RuleView: v, Text: reg.Text(v.Info), Tuning: reg.Tuning(v.Info)})
	return nil
}

// RuleDetail is a rule as GET /api/v1/detections/rules/{id} answers: the
// list's view, the rule's source text (its YAML document in its pack's
// file, or the uploaded document) and its effective tuning.
type RuleDetail struct {
	RuleView
	Text string `json:"text,omitempty"`
	// Tuning is the rule's effective suppression, exceptions and
	// severityWhen (its overlay's level and enabled show in level and
	// status).
	Tuning RuleTuning `json:"tuning"`
}

func (a *API) uploadRule(w http.ResponseWriter, r *http.Request, tok auth.Token, org string) error {
	body, err := httpapi.ReadControlBody(r)
	if err != nil {
		return err
	}
	infos, err := a.Rules.Upload(r.Context(), org, body)
	var ue *UploadError
	if errors.As(err, &ue) {
		return httpapi.ValidationError("rule", errors.New(strings.Join(ue.Problems, "\n")))
	}
	if err != nil {
		return err
	}
	a.record(r, tok, org, EventRuleCreate, "Detection rule created", infos[0])
	httpapi.WriteJSON(w, http.StatusOK, RuleView{Info: infos[0], Enabled: a.Rules.Enabled(org, infos[0].ID)})
	return nil
}

func (a *API) deleteRule(w http.ResponseWriter, r *http.Request, tok auth.Token, org string) error {
	id := r.PathValue("id")
	v, found := a.findRule(org, id)
	ok, err := a.Rules.Delete(r.Context(), org, id)
	if err != nil {
		return err
	}
	if !ok {
		if found {
			return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: rule").
				WithCauses("rule " + id + " comes from a pack in the configuration: deactivate it instead")
		}
		return notFound("DetectionRule", id)
	}
	a.record(r, tok, org, EventRuleDelete, "Detection rule deleted", v.Info)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) lifecycle(w http.ResponseWriter, r *http.Request, tok auth.Token, org string) error {
	id := r.PathValue("id")
	v, ok := a.findRule(org, id)
	if !ok {
		return notFound("DetectionRule", id)
	}
	var on bool
	var typ, msg string
	switch r.PathValue("op") {
	case "activate":
		on, typ, msg = true, EventRuleActivate, "Detection rule activated"
	case "deactivate":
		on, typ, msg = false, EventRuleDeactivate, "Detection rule deactivated"
	default:
		return notFound("lifecycle operation", r.PathValue("op"))
	}
	if err := a.Rules.SetEnabled(r.Context(), org, id, on); err != nil {
		return err
	}
	a.record(r, tok, org, typ, msg, v.Info)
	v.Enabled = on
	httpapi.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	q := r.URL.Query()
	f := Filter{Rule: q.Get("rule"), Status: strings.ToUpper(q.Get("status")), Limit: 200}
	if f.Status != "" && !slices.Contains([]string{TriageOpen, TriageAcknowledged, TriageClosed}, f.Status) {
		return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidFilter, "Invalid status %q", q.Get("status")).
			WithCauses("status is OPEN, ACKNOWLEDGED or CLOSED")
	}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidFilter, "Invalid since %q", s).WithCauses("since is an RFC 3339 time")
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidFilter, "Invalid limit %q", s).WithCauses("limit is 1 to 1000")
		}
		f.Limit = n
	}
	var after Cursor
	if s := q.Get("after"); s != "" {
		var err error
		if after, err = ParseCursor(s); err != nil {
			return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidFilter, "Invalid after %q", s).
				WithCauses("after is the cursor of a rel=\"next\" link of this list")
		}
	}
	page, err := a.Store.ListPage(r.Context(), org, f, after)
	if err != nil {
		return err
	}
	out := page.Detections
	if out == nil {
		out = []Detection{}
	}
	// Okta's paging: rel="self" and, while there may be more, rel="next"
	// with the after cursor (the same filters and limit).
	self := a.BaseURL + "/api/v1/detections"
	if len(q) > 0 {
		self += "?" + q.Encode()
	}
	w.Header().Add("Link", "<"+self+`>; rel="self"`)
	if page.Next.ID != "" {
		nq := q
		nq.Set("after", page.Next.String())
		nq.Set("limit", strconv.Itoa(f.Limit))
		w.Header().Add("Link", "<"+a.BaseURL+"/api/v1/detections?"+nq.Encode()+`>; rel="next"`)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	d, _, err := a.Store.Get(r.Context(), org, r.PathValue("id"))
	return writeFound(w, r, d, err, ErrNotFound, "Detection")
}

// triageInput is the body of POST /api/v1/detections/{id}.
type triageInput struct {
	Status string `json:"status"`
	Note   string `json:"note"`
}

func (a *API) update(w http.ResponseWriter, r *http.Request, tok auth.Token, org string) error {
	var in triageInput
	if err := httpapi.DecodeBody(r, &in, true); err != nil {
		return err
	}
	in.Status = strings.ToUpper(in.Status)
	var probs []error
	if !slices.Contains([]string{TriageOpen, TriageAcknowledged, TriageClosed}, in.Status) {
		probs = append(probs, fmt.Errorf("status: must be OPEN, ACKNOWLEDGED or CLOSED, got %q", in.Status))
	}
	if len(in.Note) > 4096 {
		probs = append(probs, errors.New("note: at most 4096 bytes"))
	}
	if len(probs) > 0 {
		return httpapi.ValidationError("detection", errors.Join(probs...))
	}
	d, err := a.Store.Update(r.Context(), org, r.PathValue("id"), in.Status, in.Note, tok.ID, a.now())
	if err != nil {
		return notFoundAs(r, err, ErrNotFound, "Detection")
	}
	a.write(r, tok, sysevent.Spec{Type: EventTriage, Org: org, Message: "Detection " + strings.ToLower(in.Status),
		Actor: sysevent.Token(tok), Targets: []sysevent.Ref{{ID: d.ID, Type: "Detection", AlternateID: d.EventType, DisplayName: d.Title}},
		Debug: map[string]any{"status": in.Status, "note": in.Note, "ruleId": d.Rule}})
	httpapi.WriteJSON(w, http.StatusOK, d)
	return nil
}

// backtestInput is the body of POST /api/v1/detections/backtest.
type backtestInput struct {
	Rule  string `json:"rule"`
	Pack  string `json:"pack"`
	Since string `json:"since"`
	Until string `json:"until"`
}

// jobs is the backtest job runner (made with the default limits on the
// journal's BucketBacktests at the first backtest when Backtests is nil).
func (a *API) jobs() (*BacktestJobs, error) {
	a.jobsOnce.Do(func() {
		if a.Backtests != nil {
			return
		}
		kv, err := a.Journal.KVWithTTL(context.Background(), BucketBacktests, DefaultBacktestKeep+DefaultBacktestTimeout)
		if err != nil {
			a.jobsErr = err
			return
		}
		a.Backtests = NewBacktestJobs(context.Background(), BacktestJobsConfig{},
			BacktestJobsDeps{Run: a.RunBacktest, KV: kv, Log: a.Log})
	})
	return a.Backtests, a.jobsErr
}

// RunBacktest runs one backtest over the API's journal and rules (the
// BacktestFunc of the API's jobs).
func (a *API) RunBacktest(ctx context.Context, req BacktestRequest) (BacktestResult, error) {
	return Backtest(ctx, a.Journal, a.orgRegistry(req.Org), a.Engine, a.Envelope, req)
}

// startJob starts the backtest a request asks for.
func (a *API) startJob(r *http.Request, org string) (*BacktestJobs, BacktestJob, error) {
	req, err := a.backtestRequest(r, org)
	if err != nil {
		return nil, BacktestJob{}, err
	}
	jobs, err := a.jobs()
	if err != nil {
		return nil, BacktestJob{}, err
	}
	job, err := jobs.Start(r.Context(), req)
	if errors.Is(err, ErrTooManyBacktests) {
		return nil, job, &httpapi.Error{Status: http.StatusTooManyRequests, Code: httpapi.CodeRateLimit,
			Summary: "API call exceeded rate limit due to too many requests.", RetryAfter: 5 * time.Second,
			Causes: []string{fmt.Sprintf("at most %d backtests of an org run at once: wait for one to finish or cancel one", jobs.PerOrg())}}
	}
	return jobs, job, err
}

// backtest runs a backtest as a job and answers with its result once it
// ended (bounded like every job; a client that goes away cancels it).
func (a *API) backtest(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	jobs, job, err := a.startJob(r, org)
	if err != nil {
		return err
	}
	if job, err = jobs.Wait(r.Context(), org, job.ID); err != nil {
		return err
	}
	if job.Status == JobRunning {
		if job, err = jobs.Cancel(context.WithoutCancel(r.Context()), org, job.ID); err != nil {
			return err
		}
	}
	if job.Status == JobFailed {
		return errors.New("backtest: " + job.Error)
	}
	httpapi.WriteJSON(w, http.StatusOK, job.Result)
	return nil
}

func (a *API) startBacktest(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	_, job, err := a.startJob(r, org)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/detections/backtests/"+job.ID)
	httpapi.WriteJSON(w, http.StatusAccepted, job)
	return nil
}

func (a *API) listBacktests(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	jobs, err := a.jobs()
	if err != nil {
		return err
	}
	list, err := jobs.List(r.Context(), org)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) getBacktest(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	jobs, err := a.jobs()
	if err != nil {
		return err
	}
	job, err := jobs.Get(r.Context(), org, r.PathValue("id"))
	return writeFound(w, r, job, err, ErrBacktestNotFound, "Backtest")
}

func (a *API) cancelBacktest(w http.ResponseWriter, r *http.Request, _ auth.Token, org string) error {
	jobs, err := a.jobs()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	job, err := jobs.Cancel(ctx, org, r.PathValue("id"))
	return writeFound(w, r, job, err, ErrBacktestNotFound, "Backtest")
}

// backtestRequest reads and checks a backtest body for org.
func (a *API) backtestRequest(r *http.Request, org string) (BacktestRequest, error) {
	var in backtestInput
	if err := httpapi.DecodeBody(r, &in, true); err != nil {
		return BacktestRequest{}, err
	}
	var probs []error
	req := BacktestRequest{Org: org, Rule: in.Rule, Pack: in.Pack, FirstSeen: a.FirstSeen}
	if in.Rule == "" && in.Pack == "" {
		probs = append(probs, errors.New("rule or pack: one is required"))
	}
	if in.Rule != "" {
		if _, ok := a.findRule(org, in.Rule); !ok {
			probs = append(probs, fmt.Errorf("rule: no rule %q", in.Rule))
		}
	}
	if in.Pack != "" && !slices.ContainsFunc(a.visible(org), func(v RuleView) bool { return v.Pack == in.Pack }) {
		probs = append(probs, fmt.Errorf("pack: no pack %q", in.Pack))
	}
	for _, p := range []struct {
		name string
		s    string
		t    *time.Time
	}{{"since", in.Since, &req.Since}, {"until", in.Until, &req.Until}} {
		if p.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, p.s)
		if err != nil {
			probs = append(probs, fmt.Errorf("%s: not an RFC 3339 time: %q", p.name, p.s))
		}
		*p.t = t
	}
	if !req.Since.IsZero() && !req.Until.IsZero() && !req.Until.After(req.Since) {
		probs = append(probs, errors.New("until: must be after since"))
	}
	if len(probs) > 0 {
		return req, httpapi.ValidationError("backtest", errors.Join(probs...))
	}
	return req, nil
}

// orgRegistry is the registry restricted to what org may see (pack rules
// and its own uploads).
func (a *API) orgRegistry(org string) *Registry { return a.Rules.Registry() }

func (a *API) record(r *http.Request, tok auth.Token, org, typ, msg string, in Info) {
	a.write(r, tok, sysevent.Spec{Type: typ, Org: org, Message: msg, Actor: sysevent.Token(tok),
		Targets: []sysevent.Ref{{ID: in.ID, Type: "DetectionRule", AlternateID: in.Slug, DisplayName: in.Title}}})
}

func (a *API) write(r *http.Request, _ auth.Token, s sysevent.Spec) {
	if a.Journal == nil {
		return
	}
	if err := sysevent.Write(r.Context(), a.Journal, s, a.now()); err != nil {
		a.Log.Warn("detections: system log event", "type", s.Type, "err", err)
	}
}
