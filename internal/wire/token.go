package wire

import "time"

// Token is an API token as /api/v1/tokens shows it. Its secret is only in
// the answer to its creation; the server keeps a hash of it.
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Org is the org the token acts for, "*" for all orgs.
	Org string `json:"org"`
	// Scopes are e.g. events.write, logs.read, logStreams.read,
	// logStreams.manage, admin.
	Scopes  []string  `json:"scopes"`
	Created time.Time `json:"created"`
	// Secret is the token itself, present only in the answer to its
	// creation.
	Secret string `json:"token,omitempty"`
}
