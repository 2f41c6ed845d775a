package app

import (
	"log/slog"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/query"
)

// routeDeps is what the endpoints app itself contributes may use.
type routeDeps struct {
	cfg     config.Config
	journal *journal.Journal
	log     *slog.Logger
}

// extraRoutes gathers the endpoints other packages contribute to the API:
// the System Log query API (GET /api/v1/logs), the sources API and
// receivers, and the journal's. It builds nothing.
func extraRoutes(q *query.Engine, src *sourceRuntime, d routeDeps) []httpapi.Route {
	var out []httpapi.Route
	out = append(out, q.Routes()...)
	out = append(out, src.routes...)
	out = append(out, journalRoutes(d)...)
	return out
}
