package app

import "github.com/auditstream/auditstream/internal/api"

// sourceRoutes serves the sources API (/api/v1/sources) and the EventBridge
// receiver (/api/v1/eventbridge).
func sourceRoutes(d routeDeps) ([]api.Route, error) {
	return nil, nil
}
