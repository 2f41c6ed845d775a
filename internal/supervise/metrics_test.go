package supervise

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// count is how many series c has.
func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 64)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// TestForgetSeries: every series of the forgotten id goes, in every vector
// and whatever its other labels; other ids' series stay.
func TestForgetSeries(t *testing.T) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"source", "kind"})
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "g"}, []string{"source"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h"}, []string{"source"})
	for _, id := range []string{"a", "b"} {
		c.WithLabelValues(id, "auth").Inc()
		c.WithLabelValues(id, "network").Inc()
		g.WithLabelValues(id).Set(1)
		h.WithLabelValues(id).Observe(1)
	}
	ForgetSeries("source", "a", c, g, h)
	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want int
	}{{"counter", c, 2}, {"gauge", g, 1}, {"histogram", h, 1}} {
		if got := count(tc.c); got != tc.want {
			t.Errorf("%s series left: got %d, want %d (b's only)", tc.name, got, tc.want)
		}
	}
	if n := g.DeletePartialMatch(prometheus.Labels{"source": "b"}); n != 1 {
		t.Errorf("b's gauge series: got %d, want 1", n)
	}
}

// TestVecs: every vector Vecs makes is registered, labelled by the id
// first, and forgotten together.
func TestVecs(t *testing.T) {
	reg := prometheus.NewRegistry()
	v := NewVecs(reg, "stream")
	c := v.Counter("c_total", "c", "kind")
	g := v.Gauge("g", "g")
	h := v.Histogram("h", "h", []float64{1})
	for _, id := range []string{"a", "b"} {
		c.WithLabelValues(id, "x").Inc()
		g.WithLabelValues(id).Set(1)
		h.WithLabelValues(id).Observe(1)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 3 {
		t.Fatalf("got %d metric families registered, want 3", len(mfs))
	}
	if l := mfs[0].GetMetric()[0].GetLabel(); len(l) != 2 || l[0].GetName() != "kind" || l[1].GetName() != "stream" {
		t.Fatalf("got labels %v, want kind and stream", l)
	}
	v.Forget("a")
	for _, tc := range []struct {
		name string
		c    prometheus.Collector
	}{{"counter", c}, {"gauge", g}, {"histogram", h}} {
		if got := count(tc.c); got != 1 {
			t.Errorf("%s series left: got %d, want 1 (b's)", tc.name, got)
		}
	}
}
