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

// Vecs makes the per-definition metrics of one kind: each vector is
// labelled first by the definition's id (label), registered with the
// Registerer at once, and remembered so that Forget can delete a deleted
// definition's series from all of them.
type Vecs struct {
	reg   prometheus.Registerer
	label string
	vecs  []SeriesVec
}

// NewVecs returns a Vecs whose vectors are labelled by label ("stream")
// and registered with reg.
func NewVecs(reg prometheus.Registerer, label string) *Vecs {
	return &Vecs{reg: reg, label: label}
}

func (v *Vecs) add(c interface {
	prometheus.Collector
	SeriesVec
}) {
	v.reg.MustRegister(c)
	v.vecs = append(v.vecs, c)
}

// Counter makes a counter vector; more are labels after the id's.
func (v *Vecs) Counter(name, help string, more ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append([]string{v.label}, more...))
	v.add(c)
	return c
}

// Gauge makes a gauge vector.
func (v *Vecs) Gauge(name, help string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{v.label})
	v.add(g)
	return g
}

// Histogram makes a histogram vector with buckets.
func (v *Vecs) Histogram(name, help string, buckets []float64) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, []string{v.label})
	v.add(h)
	return h
}

// Forget deletes the series of definition id from every vector made.
func (v *Vecs) Forget(id string) { ForgetSeries(v.label, id, v.vecs...) }
