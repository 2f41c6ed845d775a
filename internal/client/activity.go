package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// ActivityUser returns a user's activity profile
// (GET /api/v1/activity/users/{id}) as the server sent it. org names the
// org for an all-orgs token ("" for an org token).
func (c *Client) ActivityUser(ctx context.Context, id, org string) (json.RawMessage, error) {
	path := "/api/v1/activity/users/" + url.PathEscape(id)
	if org != "" {
		path += "?org=" + url.QueryEscape(org)
	}
	var out json.RawMessage
	err := c.send(ctx, http.MethodGet, path, true, nil, &out)
	return out, err
}
