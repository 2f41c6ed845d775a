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
	// Stalls counts times the runner found events pending in the journal
	// but none arriving, and recreated its journal reader.
	Stalls *prometheus.CounterVec
	// AckFailures counts journal messages whose acknowledgement the
	// server did not confirm: their events may be delivered again.
	AckFailures *prometheus.CounterVec
	// Resyncs counts times a journal consumer skipped messages (a pull's
	// answer was lost) and the runner reset it to its ack floor to keep
	// order.
	Resyncs *prometheus.CounterVec
	// DigestFailures counts signed digests of exported objects (S3 and
	// file streams) that could not be written: the objects wait, unproven,
	// for the next attempt.
	DigestFailures *prometheus.CounterVec

	vecs *supervise.Vecs
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	v := supervise.NewVecs(reg, "stream")
	return &Metrics{vecs: v,
		Delivered:    v.Counter("auditstream_stream_delivered_events_total", "Events delivered to the stream's destination."),
		Failed:       v.Counter("auditstream_stream_failed_writes_total", "Batch writes that failed."),
		Retried:      v.Counter("auditstream_stream_retried_writes_total", "Batch writes retried after a failure."),
		DeadLettered: v.Counter("auditstream_stream_dead_lettered_events_total", "Events moved to the stream's dead letters."),
		Filtered:     v.Counter("auditstream_stream_filtered_events_total", "Events skipped because the stream's filter did not match."),
		LagEvents:    v.Gauge("auditstream_stream_lag_events", "Events in the journal not yet delivered or skipped by the stream."),
		LagSeconds:   v.Gauge("auditstream_stream_lag_seconds", "Age of the oldest event the stream has not yet delivered."),
		Latency: v.Histogram("auditstream_stream_delivery_latency_seconds", "Time from an event's arrival in the journal to its delivery.",
			[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}),
		DroppedByRetention: v.Counter("auditstream_stream_dropped_by_retention_total",
			"Events the journal removed (retention at the cap, maxAge, loss) before the stream delivered them."),
		RetentionBlocking: v.Gauge("auditstream_stream_retention_blocking",
			"1 while the stream's undelivered events keep the full journal from purging (ingest answers 507 at the cap)."),
		Stalls: v.Counter("auditstream_stream_stalls_total",
			"Times events were pending in the journal but none arrived for several heartbeats, so the runner recreated its reader."),
		AckFailures: v.Counter("auditstream_stream_ack_failures_total",
			"Journal messages whose acknowledgement the server did not confirm; their events may be delivered again."),
		Resyncs: v.Counter("auditstream_stream_resyncs_total",
			"Times the stream's journal consumer skipped messages (a pull's answer was lost) and was reset to its ack floor to keep order."),
		DigestFailures: v.Counter("auditstream_export_digest_failures_total",
			"Signed digests of the stream's exported objects that could not be written; the objects wait for the next attempt (docs/integrity-exports.md)."),
	}
}

// forget removes a deleted stream's series.
func (m *Metrics) forget(id string) { m.vecs.Forget(id) }
