// Package lambda is `auditstream lambda`: an AWS Lambda function handler
// (provided.al2023 runtime) that takes an EventBridge event, for example
// an Okta partner event, and writes it to S3 with the same key layout and
// format settings as the s3 log stream, or forwards it to an auditstream
// ingest URL.
//
// It is configured through environment variables (see ConfigFromEnv and
// the README). Each event becomes one object named from its uuid in its
// published-time partition, created only if absent, so EventBridge's
// at-least-once delivery writes it once.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/archive"
	"github.com/auditstream/auditstream/internal/client"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/awsconf"
	"github.com/auditstream/auditstream/internal/sink/s3"
)

// forwardTimeout bounds a forward to an ingest URL.
const forwardTimeout = 20 * time.Second

// Config is the handler's configuration.
type Config struct {
	// S3 is where events are written; nil when forwarding.
	S3 *s3.Config
	// Org is the org events belong to (the {org} of the key template and
	// ORGANIZATION_ID of CSV); empty means the <org> of an Okta partner
	// source aws.partner/okta.com/<org>/<name>, else "default".
	Org string
	// ForwardURL, instead of S3, posts each event to an auditstream ingest
	// URL (https://host/api/v1/events, or the server's https://host) with
	// ForwardToken as SSWS token, through package client (which retries
	// throttling, server errors and lost connections).
	ForwardURL   string
	ForwardToken secret.String
}

// The environment variables ConfigFromEnv reads.
const (
	EnvBucket         = "AUDITSTREAM_S3_BUCKET"
	EnvPrefix         = "AUDITSTREAM_S3_PREFIX"
	EnvRegion         = "AUDITSTREAM_S3_REGION" // default AWS_REGION, which Lambda sets
	EnvEndpoint       = "AUDITSTREAM_S3_ENDPOINT"
	EnvForcePathStyle = "AUDITSTREAM_S3_FORCE_PATH_STYLE"
	EnvFormat         = "AUDITSTREAM_S3_FORMAT"
	EnvCompression    = "AUDITSTREAM_S3_COMPRESSION"
	EnvColumns        = "AUDITSTREAM_S3_COLUMNS" // comma-separated
	EnvKeyTemplate    = "AUDITSTREAM_S3_KEY_TEMPLATE"
	EnvOrg            = "AUDITSTREAM_ORG"
	EnvForwardURL     = "AUDITSTREAM_FORWARD_URL"
	EnvForwardToken   = "AUDITSTREAM_FORWARD_TOKEN"
)

// ConfigFromEnv reads the configuration. Credentials are the function's
// execution role (the SDK's default chain).
func ConfigFromEnv(env func(string) string) (Config, error) {
	cfg := Config{Org: env(EnvOrg), ForwardURL: env(EnvForwardURL), ForwardToken: secret.String(env(EnvForwardToken))}
	bucket := env(EnvBucket)
	switch {
	case cfg.ForwardURL != "" && bucket != "":
		return cfg, fmt.Errorf("set %s or %s, not both", EnvBucket, EnvForwardURL)
	case cfg.ForwardURL != "":
		if _, ok := ingestBase(cfg.ForwardURL); !ok {
			return cfg, fmt.Errorf("%s %q: want an http(s) URL, the server's or its /api/v1/events", EnvForwardURL, cfg.ForwardURL)
		}
		if cfg.ForwardToken == "" {
			return cfg, fmt.Errorf("%s: required with %s", EnvForwardToken, EnvForwardURL)
		}
		return cfg, nil
	case bucket == "":
		return cfg, fmt.Errorf("%s (or %s): required", EnvBucket, EnvForwardURL)
	}
	region := env(EnvRegion)
	if region == "" {
		region = env("AWS_REGION")
	}
	c := s3.Config{
		Config:         awsconf.Config{Region: region, Endpoint: env(EnvEndpoint)},
		Bucket:         bucket,
		Prefix:         env(EnvPrefix),
		ForcePathStyle: env(EnvForcePathStyle) == "true" || env(EnvForcePathStyle) == "1",
		Format:         archive.Format(env(EnvFormat)),
		Compression:    archive.Compression(env(EnvCompression)),
		KeyTemplate:    env(EnvKeyTemplate),
	}
	if cols := env(EnvColumns); cols != "" {
		for c2 := range strings.SplitSeq(cols, ",") {
			c.Columns = append(c.Columns, strings.TrimSpace(c2))
		}
	}
	if err := c.Validate(); err != nil {
		return cfg, err
	}
	cfg.S3 = &c
	return cfg, nil
}

// Deps are optional.
type Deps struct {
	// HTTPClient sends S3 and forward requests; nil means a default one.
	HTTPClient *http.Client
	// Now is the time of receipt for events without published.
	Now func() time.Time
}

// Handler handles invocations. Build it with New.
type Handler struct {
	cfg    Config
	sink   *s3.Sink
	ingest *client.Client // when forwarding
	now    func() time.Time
}

// New builds the handler. It makes no request.
func New(cfg Config, deps Deps) (*Handler, error) {
	h := &Handler{cfg: cfg, now: deps.Now}
	if h.now == nil {
		h.now = time.Now
	}
	if cfg.S3 != nil {
		s, err := s3.New(*cfg.S3, sink.Deps{HTTPClient: deps.HTTPClient})
		if err != nil {
			return nil, err
		}
		h.sink = s
	} else if cfg.ForwardURL == "" {
		return nil, errors.New("lambda: neither S3 nor a forward URL configured")
	} else {
		base, ok := ingestBase(cfg.ForwardURL)
		if !ok {
			return nil, fmt.Errorf("lambda: forward URL %q: want an http(s) URL, the server's or its /api/v1/events", cfg.ForwardURL)
		}
		hc := deps.HTTPClient
		if hc == nil {
			hc = &http.Client{Timeout: forwardTimeout}
		}
		// One event a call, sent as it came: nothing to gain by gzip.
		h.ingest = client.New(base, cfg.ForwardToken.Reveal(), hc)
		h.ingest.DisableCompression = true
	}
	return h, nil
}

// Response is what the handler answers, in the shape of an API Gateway
// proxy response.
type Response struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body"`
}

// envelope is the part of an EventBridge event the handler reads.
type envelope struct {
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

// Invoke handles one EventBridge event. An event that can never be stored
// (no detail, not an audit event) is answered 400 without an error, so
// Lambda does not retry it; a failed write returns an error, so Lambda's
// retries (and the function's dead-letter queue, if any) apply.
func (h *Handler) Invoke(ctx context.Context, payload json.RawMessage) (Response, error) {
	var env envelope
	if err := event.CheckObject(payload); err != nil {
		return Response{StatusCode: http.StatusBadRequest, Body: "not an EventBridge event: " + err.Error()}, nil
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return Response{StatusCode: http.StatusBadRequest, Body: "not an EventBridge event: " + err.Error()}, nil
	}
	if len(env.Detail) == 0 || env.Detail[0] != '{' {
		return Response{StatusCode: http.StatusBadRequest, Body: "the EventBridge event has no detail object"}, nil
	}
	org := h.org(env.Source)
	// A detail without a uuid takes the EventBridge event id, which stays
	// the same across Lambda's retries, so a retry writes the same key.
	ev, err := event.Parse(event.WithUUID(env.Detail, env.ID), org, h.now())
	if err != nil {
		return Response{StatusCode: http.StatusBadRequest, Body: err.Error()}, nil
	}
	if h.sink == nil {
		return h.forward(ctx, ev)
	}
	key, err := h.sink.WriteEvent(ctx, event.Record{
		UUID: ev.UUID, Org: ev.Org, EventType: ev.EventType, Published: ev.Published, Data: ev.Data,
	})
	if err != nil {
		return Response{}, err
	}
	return Response{StatusCode: http.StatusOK, Body: fmt.Sprintf("wrote event %s to s3://%s/%s", ev.UUID, h.sink.Bucket(), key)}, nil
}

// org is the configured org, else the org of an Okta partner source.
func (h *Handler) org(source string) string {
	if h.cfg.Org != "" {
		return h.cfg.Org
	}
	if rest, ok := strings.CutPrefix(source, "aws.partner/okta.com/"); ok {
		if org, _, _ := strings.Cut(rest, "/"); event.ValidOrg(org) {
			return org
		}
	}
	return "default"
}

func (h *Handler) forward(ctx context.Context, ev event.Record) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	res, err := h.ingest.SendBatch(ctx, ev.Data)
	var apiErr *client.APIError
	switch {
	case err == nil:
		b, _ := json.Marshal(res)
		return Response{StatusCode: http.StatusOK, Body: fmt.Sprintf("forwarded event %s: %s", ev.UUID, b)}, nil
	case errors.As(err, &apiErr) && (apiErr.Status == http.StatusBadRequest || apiErr.Status == http.StatusUnprocessableEntity):
		// The server refuses the event itself: retrying cannot help.
		return Response{StatusCode: apiErr.Status, Body: "refused: " + apiErr.Error()}, nil
	default:
		return Response{}, fmt.Errorf("forward to %s: %w", h.cfg.ForwardURL, err)
	}
}

// ingestBase is the server's base URL in an ingest URL: the URL without
// its path /api/v1/events, or the URL itself when it has no path.
func ingestBase(forward string) (string, bool) {
	u, err := url.Parse(forward)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	base, found := strings.CutSuffix(strings.TrimRight(forward, "/"), "/api/v1/events")
	if !found && strings.Trim(u.Path, "/") != "" {
		return "", false
	}
	return base, true
}
