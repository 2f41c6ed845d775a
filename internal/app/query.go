package app

import "github.com/auditstream/auditstream/internal/api"

// queryRoutes serves the System Log query API (GET /api/v1/logs).
func queryRoutes(d routeDeps) ([]api.Route, error) {
	return nil, nil
}
