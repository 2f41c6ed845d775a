package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Report is the outcome of one run.
type Report struct {
	// Events is the number of events the run was asked to send.
	Events int `json:"events"`
	// Sent counts events in requests the server answered 2xx.
	Sent int64 `json:"sent"`
	// Accepted and ServerDuplicates are the server's own counts.
	Accepted         int64 `json:"accepted"`
	ServerDuplicates int64 `json:"serverDuplicates"`
	// NotSent counts events in requests that failed after retries.
	NotSent  int64 `json:"notSent"`
	Requests int   `json:"requests"`
	// IngestSeconds runs from the first request sent to the last answer.
	IngestSeconds   float64 `json:"ingestSeconds"`
	IngestPerSecond float64 `json:"ingestEventsPerSecond"`
	// Received counts distinct events of this run the receiver got.
	Received int64 `json:"received"`
	// DeliverSeconds runs from the first receipt to the last.
	DeliverSeconds     float64 `json:"deliverSeconds"`
	DeliveredPerSecond float64 `json:"deliveredEventsPerSecond"`
	// Latency is receipt time minus the time the event's request was sent.
	Latency Latency `json:"latencyMs"`
	// Missing counts sent events never received; Duplicates counts
	// receipts of an event after its first.
	Missing    int64 `json:"missing"`
	Duplicates int64 `json:"duplicates"`
	// Foreign counts events received that this run did not send.
	Foreign int64 `json:"foreign"`
	// BadDeliveries counts deliveries the receiver could not decode.
	BadDeliveries int64 `json:"badDeliveries"`
	// PeakRSSBytes is the largest VmRSS sampled of --pid; HWMBytes its
	// VmHWM at the end (the kernel's peak over the process's life).
	PeakRSSBytes int64 `json:"peakRSSBytes,omitempty"`
	HWMBytes     int64 `json:"hwmBytes,omitempty"`
	// TimedOut is true when --timeout ended the wait for deliveries.
	TimedOut bool `json:"timedOut"`
	// Errors holds the first send errors.
	Errors []string `json:"errors,omitempty"`
}

// Latency holds end-to-end latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// OK reports whether every event was sent and delivered.
func (r *Report) OK() bool {
	return r.Missing == 0 && r.NotSent == 0 && !r.TimedOut && r.Sent == int64(r.Events)
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, or 0 for an empty slice: the smallest value with at least p% of
// the values at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencies sorts ds in place and summarises it.
func latencies(ds []time.Duration) Latency {
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var l Latency
	if len(ds) > 0 {
		l = Latency{
			P50: ms(percentile(ds, 50)),
			P90: ms(percentile(ds, 90)),
			P99: ms(percentile(ds, 99)),
			Max: ms(ds[len(ds)-1]),
		}
	}
	return l
}

// rate is n per second over d, 0 when d is not positive.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "events sent        %d of %d in %d requests (accepted %d, server duplicates %d, not sent %d)\n",
		r.Sent, r.Events, r.Requests, r.Accepted, r.ServerDuplicates, r.NotSent)
	fmt.Fprintf(w, "ingest             %.0f events/s over %.2fs\n", r.IngestPerSecond, r.IngestSeconds)
	fmt.Fprintf(w, "delivered          %d, %.0f events/s over %.2fs (first to last receipt)\n", r.Received, r.DeliveredPerSecond, r.DeliverSeconds)
	fmt.Fprintf(w, "latency ms         p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	fmt.Fprintf(w, "missing            %d\n", r.Missing)
	fmt.Fprintf(w, "duplicates         %d (foreign events %d, unreadable deliveries %d)\n", r.Duplicates, r.Foreign, r.BadDeliveries)
	if r.PeakRSSBytes > 0 || r.HWMBytes > 0 {
		fmt.Fprintf(w, "server peak RSS    %.1f MiB sampled, VmHWM %.1f MiB\n", float64(r.PeakRSSBytes)/(1<<20), float64(r.HWMBytes)/(1<<20))
	}
	if r.TimedOut {
		fmt.Fprintln(w, "timed out          yes: not every event was delivered before --timeout")
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error              %s\n", e)
	}
}
