package supervise

import "github.com/prometheus/client_golang/prometheus"

// SeriesVec is a Prometheus vector whose series can be deleted by label;
// *prometheus.CounterVec, GaugeVec and HistogramVec are.
type SeriesVec interface {
	DeletePartialMatch(labels prometheus.Labels) int
}

// ForgetSeries deletes every series of vecs whose label is id: what a
// deleted definition leaves in the per-definition metrics.
func ForgetSeries(label, id string, vecs ...SeriesVec) {
	l := prometheus.Labels{label: id}
	for _, v := range vecs {
		v.DeletePartialMatch(l)
	}
}
