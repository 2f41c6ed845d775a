package client

import "context"

// GetJSON makes a GET call to path (with its query) and decodes the 2xx
// answer into out: for endpoints without a method of their own (the
// integrity endpoints `auditstream verify` reads).
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	return c.send(ctx, "GET", path, safeToResend, nil, out)
}
