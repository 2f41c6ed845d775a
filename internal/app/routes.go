package app

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink/outbound"
)

// routeDeps is what contributed endpoints may use.
type routeDeps struct {
	cfg      config.Config
	journal  *journal.Journal
	log      *slog.Logger
	registry prometheus.Registerer
	// sources receives the sources' pollers for app.Run to start and stop.
	sources *sourceRuntime
	// outbound is the guarded transports sources connect with.
	outbound *outbound.Guard
	// keys seal the source definitions at rest (nil: in clear).
	keys *secret.Keyring
}

// extraRoutes gathers the endpoints other packages contribute to the API.
func extraRoutes(d routeDeps) ([]api.Route, error) {
	var out []api.Route
	q, err := queryRoutes(d)
	if err != nil {
		return nil, err
	}
	out = append(out, q...)
	src, err := sourceRoutes(d)
	if err != nil {
		return nil, err
	}
	out = append(out, src...)
	out = append(out, journalRoutes(d)...)
	return out, nil
}
