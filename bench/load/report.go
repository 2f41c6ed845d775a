package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/auditstream/auditstream/internal/client"
)

// maxMissingRequests bounds Report.MissingByRequest.
const maxMissingRequests = 10

// Report is the outcome of one run.
type Report struct {
	// Sink is the destination type measured: http or s3.
	Sink string `json:"sink"`
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
	// IngestAnswers counts the answers to ingest requests by HTTP status,
	// retries included ("transport error": none came).
	IngestAnswers map[string]int `json:"ingestAnswers"`
	// IngestSeconds runs from the first request sent to the last answer.
	IngestSeconds   float64 `json:"ingestSeconds"`
	IngestPerSecond float64 `json:"ingestEventsPerSecond"`
	// Received counts distinct events of this run the receiver got.
	Received int64 `json:"received"`
	// DeliverSeconds runs from the first receipt to the last.
	DeliverSeconds     float64 `json:"deliverSeconds"`
	DeliveredPerSecond float64 `json:"deliveredEventsPerSecond"`
	// EndToEndPerSecond is Received over the CPU window, first request
	// sent to last receipt: the rate the whole pipeline sustained (the
	// one to read for s3, whose few objects make DeliveredPerSecond coarse).
	EndToEndPerSecond float64 `json:"endToEndEventsPerSecond"`
	// Latency is receipt time minus the time the event's request was sent.
	Latency Latency `json:"latencyMs"`
	// Missing counts sent events never received; Duplicates counts
	// receipts of an event after its first.
	Missing    int64 `json:"missing"`
	Duplicates int64 `json:"duplicates"`
	// MissingByRequest counts the missing events of the first requests
	// that have any (request index → missing events), to tell whole lost
	// requests from scattered losses.
	MissingByRequest map[int]int `json:"missingByRequest,omitempty"`
	// Foreign counts events received that this run did not send.
	Foreign int64 `json:"foreign"`
	// Misrouted counts events of this run delivered by a stream whose
	// filter does not select them.
	Misrouted int64 `json:"misrouted"`
	// BadDeliveries counts deliveries (or s3 objects) the tool could not
	// decode.
	BadDeliveries int64 `json:"badDeliveries"`
	// IngestOnly says the run created no stream (--streams 0): nothing
	// was to be delivered, and the CPU window ends with the last answer.
	IngestOnly bool `json:"ingestOnly,omitempty"`
	// Streams holds each stream's filter and counts, in creation order.
	Streams []StreamResult `json:"streams"`
	// Objects counts the event objects the s3 stream wrote.
	Objects int `json:"objects,omitempty"`
	// CPUWindowSeconds runs from the first request sent until the last
	// event was delivered (or the timeout): the window of the CPU figures.
	CPUWindowSeconds float64 `json:"cpuWindowSeconds"`
	// ServerCPUSeconds is utime+stime of --pid over the window, from
	// /proc/<pid>/stat at ClockTicks per second; ServerCPUPerMillion is
	// that per million events sent.
	ServerCPUSeconds    float64 `json:"serverCpuSeconds,omitempty"`
	ServerCPUPerMillion float64 `json:"serverCpuSecondsPerMillionEvents,omitempty"`
	// ToolCPUSeconds is this tool's own CPU over the window (sender,
	// receiver, s3 reader); S3ServerCPUSeconds the run's versitygw's.
	ToolCPUSeconds     float64 `json:"toolCpuSeconds"`
	S3ServerCPUSeconds float64 `json:"s3ServerCpuSeconds,omitempty"`
	// ClockTicks is USER_HZ, the unit of /proc/<pid>/stat's times.
	ClockTicks int64 `json:"clockTicks"`
	// PeakRSSBytes is the largest VmRSS sampled of --pid; HWMBytes its
	// VmHWM at the end (the kernel's peak over the process's life).
	PeakRSSBytes int64 `json:"peakRSSBytes,omitempty"`
	HWMBytes     int64 `json:"hwmBytes,omitempty"`
	// TimedOut is true when --timeout ended the wait for deliveries.
	TimedOut bool `json:"timedOut"`
	// Errors holds the first send errors.
	Errors []string `json:"errors,omitempty"`
}

// StreamResult is one stream's share of the run.
type StreamResult struct {
	// Filter is the stream's EventBridge pattern (none: every event).
	Filter json.RawMessage `json:"filter,omitempty"`
	// Expected counts the sent events the filter selects; Received those
	// the stream delivered; Missing the difference.
	Expected int64 `json:"expected"`
	Received int64 `json:"received"`
	Missing  int64 `json:"missing"`
	// ID is the stream's id; Status what the server said of it at the
	// end of the run (nil when it could not be read).
	ID     string               `json:"id,omitempty"`
	Status *client.StreamStatus `json:"status,omitempty"`
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
	return r.Missing == 0 && r.Misrouted == 0 && r.NotSent == 0 && !r.TimedOut && r.Sent == int64(r.Events)
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

// Summary is the report's key figures on one line, for comparing runs:
// server CPU-s per million events, ingest, delivered and end-to-end
// events/s, latency p50/p99 in ms, peak sampled RSS in MiB, and missing,
// duplicate and misrouted events.
func (r *Report) Summary() string {
	return fmt.Sprintf("cpu-s/M=%.1f ingest/s=%.0f delivered/s=%.0f e2e/s=%.0f p50ms=%.1f p99ms=%.1f rssMiB=%.0f missing=%d dup=%d misrouted=%d",
		r.ServerCPUPerMillion, r.IngestPerSecond, r.DeliveredPerSecond, r.EndToEndPerSecond,
		r.Latency.P50, r.Latency.P99, float64(r.PeakRSSBytes)/(1<<20), r.Missing, r.Duplicates, r.Misrouted)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "events sent        %d of %d in %d requests (accepted %d, server duplicates %d, not sent %d)\n",
		r.Sent, r.Events, r.Requests, r.Accepted, r.ServerDuplicates, r.NotSent)
	fmt.Fprintf(w, "ingest             %.0f events/s over %.2fs (answers by status %v)\n", r.IngestPerSecond, r.IngestSeconds, r.IngestAnswers)
	if r.IngestOnly {
		fmt.Fprintf(w, "delivered          no stream (--streams 0): ingest only\n")
	} else {
		fmt.Fprintf(w, "delivered          %d, %.0f events/s over %.2fs (first to last receipt)\n", r.Received, r.DeliveredPerSecond, r.DeliverSeconds)
	}
	fmt.Fprintf(w, "end to end         %.0f events/s (first request to last receipt)\n", r.EndToEndPerSecond)
	fmt.Fprintf(w, "latency ms         p50 %.1f  p90 %.1f  p99 %.1f  max %.1f\n", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	fmt.Fprintf(w, "missing            %d\n", r.Missing)
	fmt.Fprintf(w, "duplicates         %d (foreign events %d, misrouted %d, unreadable deliveries %d)\n", r.Duplicates, r.Foreign, r.Misrouted, r.BadDeliveries)
	if len(r.MissingByRequest) > 0 {
		fmt.Fprintf(w, "missing by request %v (request index: events; first %d requests with any)\n", r.MissingByRequest, maxMissingRequests)
	}
	for i, s := range r.Streams {
		if len(r.Streams) > 1 {
			fmt.Fprintf(w, "stream %-2d          %d of %d received, missing %d  %s\n", i, s.Received, s.Expected, s.Missing, s.Filter)
		}
		if st := s.Status; st != nil && (s.Missing > 0 || st.Failed > 0 || st.DeadLettered > 0) {
			fmt.Fprintf(w, "  server status    %s: state %s, delivered %d, failed %d, retried %d, dead-lettered %d, lag %d events; last error %q\n",
				s.ID, st.State, st.Delivered, st.Failed, st.Retried, st.DeadLettered, st.LagEvents, st.LastError)
		}
	}
	if r.Sink == "s3" {
		fmt.Fprintf(w, "s3 objects         %d\n", r.Objects)
	}
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "server CPU         %.2f s = %.1f CPU-s per million events (over %.2fs, first request to last delivery)\n",
			r.ServerCPUSeconds, r.ServerCPUPerMillion, r.CPUWindowSeconds)
	}
	fmt.Fprintf(w, "other CPU          load tool %.2f s", r.ToolCPUSeconds)
	if r.Sink == "s3" {
		fmt.Fprintf(w, ", versitygw %.2f s", r.S3ServerCPUSeconds)
	}
	fmt.Fprintf(w, " (clock ticks %d/s)\n", r.ClockTicks)
	if r.PeakRSSBytes > 0 || r.HWMBytes > 0 {
		fmt.Fprintf(w, "server peak RSS    %.1f MiB sampled, VmHWM %.1f MiB\n", float64(r.PeakRSSBytes)/(1<<20), float64(r.HWMBytes)/(1<<20))
	}
	fmt.Fprintf(w, "summary            %s\n", r.Summary())
	if r.TimedOut {
		fmt.Fprintln(w, "timed out          yes: not every event was delivered before --timeout")
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error              %s\n", e)
	}
}
