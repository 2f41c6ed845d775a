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
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_source_events_total",
			Help: "New events a source stored in the journal."}, []string{"source"}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_source_duplicate_events_total",
			Help: "Events a source read again that the journal already had."}, []string{"source"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_source_errors_total",
			Help: "Failed calls and refused events of a source, by kind (auth, rate_limited, server, network, cursor, request, journal, invalid_event)."},
			[]string{"source", "kind"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_source_requests_total",
			Help: "HTTP requests a polling source made to its org, by status code."}, []string{"source", "code"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditstream_source_lag_seconds",
			Help: "How far behind the source is: 0 right after a poll that reached the end of the log."}, []string{"source"}),
		LastPoll: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditstream_source_last_poll_timestamp_seconds",
			Help: "Unix time of the source's last poll (successful or not)."}, []string{"source"}),
		Failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditstream_source_failing",
			Help: "1 while the source's last call failed (2 when the org refuses the credential), else 0."}, []string{"source"}),
		RateRemain: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "auditstream_source_rate_limit_remaining",
			Help: "X-Rate-Limit-Remaining of the source's last response."}, []string{"source"}),
		Alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_source_health_events_total",
			Help: "Health events (failing, silent, recovered) a source raised."}, []string{"source", "health"}),
		Backfilled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_source_backfill_events_total",
			Help: "New events stored by on-demand backfills."}, []string{"source"}),
		ReceiverRej: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_eventbridge_rejected_requests_total",
			Help: "EventBridge receiver requests refused, by HTTP status."}, []string{"code"}),
	}
	reg.MustRegister(m.Events, m.Duplicates, m.Errors, m.Requests, m.Lag, m.LastPoll, m.Failing, m.RateRemain,
		m.Alerts, m.Backfilled, m.ReceiverRej)
	return m
}

// forget removes a deleted source's series.
func (m *Metrics) forget(id string) {
	supervise.ForgetSeries("source", id, m.Events, m.Duplicates, m.Errors, m.Requests, m.Lag, m.LastPoll,
		m.Failing, m.RateRemain, m.Alerts, m.Backfilled)
}
