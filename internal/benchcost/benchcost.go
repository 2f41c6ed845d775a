// Package benchcost measures what a benchmark's events cost: CPU time per
// event and events per CPU second, besides the wall clock. The process's
// user and system CPU time (getrusage, so the garbage collector's work
// counts) is disturbed less by the other processes of a shared, loaded
// machine than the wall clock, so it is the steadier number to compare.
//
// Use:
//
//	func BenchmarkMatch(b *testing.B) {
//		cpu0 := benchcost.CPU(b)
//		for b.Loop() {
//			… one event …
//		}
//		benchcost.ReportRates(b, cpu0) // events/s and events/cpu-s
//	}
package benchcost

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// CPU is the process's user and system CPU time so far; tb fails when
// the kernel does not answer.
func CPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPURate reports b.N events over the CPU time used since cpu0 as
// events/cpu-s (nothing when no CPU time was counted).
func ReportCPURate(b *testing.B, cpu0 time.Duration) {
	b.Helper()
	if cpu := CPU(b) - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}

// ReportRates reports b.N events over the wall clock as events/s and over
// the CPU time used since cpu0 as events/cpu-s.
func ReportRates(b *testing.B, cpu0 time.Duration) {
	b.Helper()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	ReportCPURate(b, cpu0)
}

// PerEvent starts counting for a benchmark whose every iteration handles
// n events; the function it returns, called after the loop, reports ns,
// cpu-ns, B and allocs per event (B/op and allocs/op stay per iteration).
func PerEvent(b *testing.B, n int) (done func()) {
	b.Helper()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := CPU(b)
	return func() {
		cpu := CPU(b) - cpu0
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		evs := float64(b.N) * float64(n)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/evs, "ns/event")
		b.ReportMetric(float64(cpu.Nanoseconds())/evs, "cpu-ns/event")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/evs, "B/event")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/evs, "allocs/event")
	}
}
