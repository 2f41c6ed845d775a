package source

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/supervise"
)

// Metrics are the per-source Prometheus metrics, labelled by source id.
type Metrics struct {
	Events      *prometheus.CounterVec
	Duplicates  *prometheus.CounterVec
	Errors      *prometheus.CounterVec
	Requests    *prometheus.CounterVec
	Lag         *prometheus.GaugeVec
	LastPoll    *prometheus.GaugeVec
	Failing     *prometheus.GaugeVec
	RateRemain  *prometheus.GaugeVec
	Alerts      *prometheus.CounterVec
	Backfilled  *prometheus.CounterVec
	ReceiverRej *prometheus.CounterVec

	vecs *supervise.Vecs
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	v := supervise.NewVecs(reg, "source")
	m := &Metrics{vecs: v,
		Events:     v.Counter("auditstream_source_events_total", "New events a source stored in the journal."),
		Duplicates: v.Counter("auditstream_source_duplicate_events_total", "Events a source read again that the journal already had."),
		Errors: v.Counter("auditstream_source_errors_total",
			"Failed calls and refused events of a source, by kind (auth, rate_limited, server, network, cursor, request, journal, invalid_event).",
			"kind"),
		Requests: v.Counter("auditstream_source_requests_total", "HTTP requests a polling source made to its org, by status code.", "code"),
		Lag:      v.Gauge("auditstream_source_lag_seconds", "How far behind the source is: 0 right after a poll that reached the end of the log."),
		LastPoll: v.Gauge("auditstream_source_last_poll_timestamp_seconds", "Unix time of the source's last poll (successful or not)."),
		Failing: v.Gauge("auditstream_source_failing",
			"1 while the source's last call failed (2 when the org refuses the credential), else 0."),
		RateRemain: v.Gauge("auditstream_source_rate_limit_remaining", "X-Rate-Limit-Remaining of the source's last response."),
		Alerts:     v.Counter("auditstream_source_health_events_total", "Health events (failing, silent, recovered) a source raised.", "health"),
		Backfilled: v.Counter("auditstream_source_backfill_events_total", "New events stored by on-demand backfills."),
		// Not per source: the receiver counts what it refuses before it
		// knows which source a request is for.
		ReceiverRej: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_eventbridge_rejected_requests_total",
			Help: "EventBridge receiver requests refused, by HTTP status."}, []string{"code"}),
	}
	reg.MustRegister(m.ReceiverRej)
	return m
}

// forget removes a deleted source's series.
func (m *Metrics) forget(id string) { m.vecs.Forget(id) }
