package app

import (
	"context"
	"net"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/query"
)

// queryRoutes serves the System Log query API (GET /api/v1/logs).
func queryRoutes(d routeDeps) ([]httpapi.Route, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := publicURL(d.cfg)
	e, err := query.New(ctx, d.journal, query.Config{
		BaseURL:    base,
		Timeout:    time.Duration(d.cfg.Query.Timeout),
		RateLimit:  d.cfg.Query.RateLimitPerMinute,
		ClampLimit: d.cfg.Query.ClampLimit,
	}, d.log)
	if err != nil {
		return nil, err
	}
	return e.Routes(), nil
}

// publicURL is the base URL clients reach the API at: query.publicUrl, else
// http://<listen>. Links in answers are built from it.
func publicURL(cfg config.Config) string {
	if cfg.Query.PublicURL != "" {
		return cfg.Query.PublicURL
	}
	return "http://" + publicHost(cfg.Listen)
}

// publicHost turns a listen address into one a client can reach: an
// unspecified host becomes loopback.
func publicHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
