package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Token is an API token as /api/v1/tokens shows it. Its secret is only in
// the answer to CreateToken; the server keeps a hash of it.
type Token struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Org is the org the token acts for, "*" for all orgs.
	Org string `json:"org,omitempty"`
	// Scopes are e.g. events.write, logs.read, logStreams.read,
	// logStreams.manage, admin.
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created,omitzero"`
	// Secret is the token itself, set only by CreateToken.
	Secret string `json:"token,omitempty"`
}

func tokenPath(id string) string { return "/api/v1/tokens/" + url.PathEscape(id) }

// ListTokens returns the tokens the caller's token may see (its org's,
// every org's for an all-orgs token).
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	return getAll[Token](ctx, c, "/api/v1/tokens")
}

// GetToken returns the token id (without its secret).
func (c *Client) GetToken(ctx context.Context, id string) (Token, error) {
	var t Token
	_, err := c.do(ctx, request{method: http.MethodGet, url: c.url(tokenPath(id)), idempotent: true}, &t)
	return t, err
}

// CreateToken creates a token with t's Name, Org (empty: the caller's org)
// and Scopes, and returns it with its Secret, which is shown only this
// once. It is not retried after connection errors: the lost request may
// have created the token.
func (c *Client) CreateToken(ctx context.Context, t Token) (Token, error) {
	b, err := json.Marshal(struct {
		Name   string   `json:"name"`
		Org    string   `json:"org,omitempty"`
		Scopes []string `json:"scopes"`
	}{t.Name, t.Org, t.Scopes})
	if err != nil {
		return Token{}, fmt.Errorf("encode token: %w", err)
	}
	var out Token
	_, err = c.do(ctx, request{method: http.MethodPost, url: c.url("/api/v1/tokens"), body: b, contentType: "application/json"}, &out)
	return out, err
}

// DeleteToken revokes the token id; requests with it fail from then on.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, url: c.url(tokenPath(id)), idempotent: true}, nil)
	return err
}
