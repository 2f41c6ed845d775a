package client

import (
	"context"

	"github.com/auditstream/auditstream/internal/wire"
)

// Token is an API token as /api/v1/tokens shows it. Its secret is only in
// the answer to CreateToken; the server keeps a hash of it.
type Token = wire.Token

// tokens is the collection of API tokens.
func (c *Client) tokens() resource[Token] { return resource[Token]{c, "/api/v1/tokens"} }

// ListTokens returns the tokens the caller's token may see (its org's,
// every org's for an all-orgs token).
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	return c.tokens().list(ctx)
}

// GetToken returns the token id (without its secret).
func (c *Client) GetToken(ctx context.Context, id string) (Token, error) {
	return c.tokens().get(ctx, id)
}

// CreateToken creates a token with t's Name, Org (empty: the caller's org)
// and Scopes, and returns it with its Secret, which is shown only this
// once. It is not retried after connection errors: the lost request may
// have created the token.
func (c *Client) CreateToken(ctx context.Context, t Token) (Token, error) {
	body := struct {
		Name   string   `json:"name"`
		Org    string   `json:"org,omitempty"`
		Scopes []string `json:"scopes"`
	}{t.Name, t.Org, t.Scopes}
	return c.tokens().create(ctx, body)
}

// DeleteToken revokes the token id; requests with it fail from then on.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.tokens().delete(ctx, id)
}
