package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Detections are kept as JSON objects by the client: the server's shapes
// (internal/detect's Info, Detection, BacktestResult) are printed as they
// come, so the CLI shows every field the server adds.

// DetectionQuery filters ListDetections: rule id, triage status (OPEN,
// ACKNOWLEDGED, CLOSED) and since (RFC 3339), each optional; Limit bounds
// how many detections are returned (0: every one).
type DetectionQuery struct {
	Rule, Status, Since string
	Limit               int
}

// MaxDetectionsPage is the largest page GET /api/v1/detections answers.
const MaxDetectionsPage = 1000

// ListDetectionRules lists the detection rules the caller's org sees, each
// with its status (loaded, refused with reason, no source, disabled) and
// whether the org enabled it.
func (c *Client) ListDetectionRules(ctx context.Context) ([]map[string]any, error) {
	return call[[]map[string]any](ctx, c, http.MethodGet, "/api/v1/detections/rules", safeToResend, nil)
}

// GetDetectionRule returns one rule.
func (c *Client) GetDetectionRule(ctx context.Context, id string) (map[string]any, error) {
	return call[map[string]any](ctx, c, http.MethodGet, "/api/v1/detections/rules/"+url.PathEscape(id), safeToResend, nil)
}

// UploadDetectionRule uploads one rule file (Sigma or native YAML) to the
// caller's org.
func (c *Client) UploadDetectionRule(ctx context.Context, yaml []byte) (map[string]any, error) {
	var out map[string]any
	_, err := c.do(ctx, request{method: http.MethodPost, url: c.url("/api/v1/detections/rules"), body: yaml,
		contentType: "application/yaml", idempotent: true}, &out)
	return out, err
}

// DeleteDetectionRule deletes an uploaded rule.
func (c *Client) DeleteDetectionRule(ctx context.Context, id string) error {
	return c.send(ctx, http.MethodDelete, "/api/v1/detections/rules/"+url.PathEscape(id), safeToResend, nil, nil)
}

// SetDetectionRule activates (on) or deactivates a rule for the caller's org.
func (c *Client) SetDetectionRule(ctx context.Context, id string, on bool) (map[string]any, error) {
	op := "deactivate"
	if on {
		op = "activate"
	}
	return call[map[string]any](ctx, c, http.MethodPost, "/api/v1/detections/rules/"+url.PathEscape(id)+"/lifecycle/"+op, safeToResend, nil)
}

// ListDetections lists the caller's org's detections, newest first, up to
// q.Limit (0: every one), following the list's Link rel="next" pages.
func (c *Client) ListDetections(ctx context.Context, q DetectionQuery) ([]map[string]any, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("list detections: limit %d: want 0 (every one) or more", q.Limit)
	}
	v := url.Values{}
	for k, s := range map[string]string{"rule": q.Rule, "status": q.Status, "since": q.Since} {
		if s != "" {
			v.Set(k, s)
		}
	}
	page := MaxDetectionsPage
	if q.Limit > 0 {
		page = min(q.Limit, MaxDetectionsPage)
	}
	v.Set("limit", strconv.Itoa(page))
	return getUpTo[map[string]any](ctx, c, "/api/v1/detections?"+v.Encode(), q.Limit)
}

// GetDetection returns one detection.
func (c *Client) GetDetection(ctx context.Context, id string) (map[string]any, error) {
	return call[map[string]any](ctx, c, http.MethodGet, "/api/v1/detections/"+url.PathEscape(id), safeToResend, nil)
}

// TriageDetection sets a detection's status (OPEN, ACKNOWLEDGED, CLOSED)
// with a note.
func (c *Client) TriageDetection(ctx context.Context, id, status, note string) (map[string]any, error) {
	body := map[string]string{"status": status, "note": note}
	return call[map[string]any](ctx, c, http.MethodPost, "/api/v1/detections/"+url.PathEscape(id), safeToResend, body)
}

// Backtest asks what a rule or a pack would have raised over the caller's
// org's events published in [since, until) (RFC 3339, optional).
func (c *Client) Backtest(ctx context.Context, rule, pack, since, until string) (json.RawMessage, error) {
	body := map[string]string{"rule": rule, "pack": pack, "since": since, "until": until}
	return call[json.RawMessage](ctx, c, http.MethodPost, "/api/v1/detections/backtest", safeToResend, body)
}

// StartBacktest starts a backtest job of a rule or a pack over the
// caller's org's events published in [since, until) (RFC 3339, optional)
// and returns the job (id, status, progress).
func (c *Client) StartBacktest(ctx context.Context, rule, pack, since, until string) (json.RawMessage, error) {
	body := map[string]string{"rule": rule, "pack": pack, "since": since, "until": until}
	return call[json.RawMessage](ctx, c, http.MethodPost, "/api/v1/detections/backtests", sendOnce, body)
}

// GetBacktest returns a backtest job: its status, progress and, once it
// ended, its result.
func (c *Client) GetBacktest(ctx context.Context, id string) (json.RawMessage, error) {
	return call[json.RawMessage](ctx, c, http.MethodGet, "/api/v1/detections/backtests/"+url.PathEscape(id), safeToResend, nil)
}

// ListBacktests lists the caller's org's backtest jobs, newest first.
func (c *Client) ListBacktests(ctx context.Context) ([]map[string]any, error) {
	return call[[]map[string]any](ctx, c, http.MethodGet, "/api/v1/detections/backtests", safeToResend, nil)
}

// CancelBacktest stops a running backtest job and returns it (with what it
// found so far).
func (c *Client) CancelBacktest(ctx context.Context, id string) (json.RawMessage, error) {
	return call[json.RawMessage](ctx, c, http.MethodPost, "/api/v1/detections/backtests/"+url.PathEscape(id)+"/cancel", safeToResend, nil)
}
