package httpapi

import (
	"net/http"

	"github.com/auditstream/auditstream/internal/auth"
)

// HandlerFunc handles an authenticated request. Returning an *Error
// renders Okta's error body; any other error becomes a generic 500.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, tok auth.Token) error

// Route is an endpoint a package contributes to the API server.
type Route struct {
	// Pattern is a net/http ServeMux pattern, e.g. "GET /api/v1/logs".
	Pattern string
	// Scope is required of the token ("" only authenticates).
	Scope auth.Scope
	// Handle serves the request.
	Handle HandlerFunc
	// OwnAuth routes authenticate requests themselves (for example the
	// EventBridge receiver, which speaks API destination credentials):
	// they get a zero Token and must refuse unauthenticated requests.
	OwnAuth bool
}
