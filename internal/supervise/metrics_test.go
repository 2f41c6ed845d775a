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
