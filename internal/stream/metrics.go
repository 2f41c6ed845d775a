package stream

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/supervise"
)

// Metrics are the per-stream Prometheus metrics, labelled by stream id.
type Metrics struct {
	Delivered    *prometheus.CounterVec
	Failed       *prometheus.CounterVec
	Retried      *prometheus.CounterVec
	DeadLettered *prometheus.CounterVec
	Filtered     *prometheus.CounterVec
	LagEvents    *prometheus.GaugeVec
	LagSeconds   *prometheus.GaugeVec
	Latency      *prometheus.HistogramVec
	// DroppedByRetention counts events the journal removed before the
	// stream delivered them.
	DroppedByRetention *prometheus.CounterVec
	// RetentionBlocking is 1 while the stream's undelivered events keep
	// retention from freeing journal space.
	RetentionBlocking *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditstream_stream_delivered_events_total", Help: "Events delivered to the stream's destination."}, []string{"stream"}),
		Failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditstream_stream_failed_writes_total", Help: "Batch writes that failed."}, []string{"stream"}),
		Retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditstream_stream_retried_writes_total", Help: "Batch writes retried after a failure."}, []string{"stream"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditstream_stream_dead_lettered_events_total", Help: "Events moved to the stream's dead letters."}, []string{"stream"}),
		Filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditstream_stream_filtered_events_total", Help: "Events skipped because the stream's filter did not match."}, []string{"stream"}),
		LagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auditstream_stream_lag_events", Help: "Events in the journal not yet delivered or skipped by the stream."}, []string{"stream"}),
		LagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auditstream_stream_lag_seconds", Help: "Age of the oldest event the stream has not yet delivered."}, []string{"stream"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "auditstream_stream_delivery_latency_seconds",
			Help:    "Time from an event's arrival in the journal to its delivery.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"stream"}),
		DroppedByRetention: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auditstream_stream_dropped_by_retention_total",
			Help: "Events the journal removed (retention at the cap, maxAge, loss) before the stream delivered them."}, []string{"stream"}),
		RetentionBlocking: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "auditstream_stream_retention_blocking",
			Help: "1 while the stream's undelivered events keep the full journal from purging (ingest answers 507 at the cap)."}, []string{"stream"}),
	}
	reg.MustRegister(m.Delivered, m.Failed, m.Retried, m.DeadLettered, m.Filtered, m.LagEvents, m.LagSeconds, m.Latency,
		m.DroppedByRetention, m.RetentionBlocking)
	return m
}

// forget removes a deleted stream's series.
func (m *Metrics) forget(id string) {
	supervise.ForgetSeries("stream", id, m.Delivered, m.Failed, m.Retried, m.DeadLettered, m.Filtered,
		m.LagEvents, m.LagSeconds, m.Latency, m.DroppedByRetention, m.RetentionBlocking)
}
