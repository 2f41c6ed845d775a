package main

import (
	"encoding/binary"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    cpuTicks
		wantErr bool
	}{
		{
			name: "plain name",
			line: "4242 (auditstream) S 1 4242 4242 0 -1 4194560 9120 0 3 0 1234 567 0 0 20 0 14 0 100 2000000000 30000 18446744073709551615\n",
			want: cpuTicks{User: 1234, System: 567},
		},
		{
			name: "name with spaces and parentheses",
			line: "77 (my (odd) ) proc) R 1 77 77 0 -1 4194304 5 0 0 0 250 75 0 0 20 0 1 0 42 1000 10 18446744073709551615",
			want: cpuTicks{User: 250, System: 75},
		},
		{
			name: "name that looks like fields",
			line: "9 (x) S 1 2 3 4 5 6 7 8 9 10 11 12) S 1 9 9 0 -1 0 0 0 0 0 8 9 0 0 20 0 1 0 1 1 1",
			want: cpuTicks{User: 8, System: 9},
		},
		{name: "no command name", line: "12 auditstream S 1 2 3", wantErr: true},
		{name: "too few fields", line: "12 (a) S 1 2 3 4 5 6 7 8 9 10", wantErr: true},
		{name: "utime not a number", line: "12 (a) S 1 2 3 4 5 6 7 8 9 10 x 5 0 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestReadCPUSelf reads this process's /proc/<pid>/stat after burning CPU
// and checks it against getrusage, which the kernel accounts the same way.
func TestReadCPUSelf(t *testing.T) {
	m, err := startCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until getrusage shows at least 0.2s more CPU (10s at most).
	before := rusageSeconds(t)
	deadline := time.Now().Add(10 * time.Second)
	x := uint64(1)
	for rusageSeconds(t) < before+0.2 && time.Now().Before(deadline) {
		for i := range 100000 {
			x = x*6364136223846793005 + uint64(i)
		}
	}
	_ = x
	lo := rusageSeconds(t)
	cur, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	hi := rusageSeconds(t)
	// Ticks are whole: allow two of them, plus rounding between the two views.
	slack := 2/float64(ClockTicks()) + 0.02
	if s := cur.Seconds(ClockTicks()); s < lo-slack || s > hi+slack {
		t.Errorf("got %.3f CPU-s from /proc/self/stat, want %.3f..%.3f (getrusage)", s, lo, hi)
	}
	used, err := m.seconds()
	if err != nil {
		t.Fatal(err)
	}
	if used < 0.15 {
		t.Errorf("got %.3f CPU-s used while spinning, want at least 0.15", used)
	}
	if _, err := startCPU(1 << 30); err == nil {
		t.Error("reading a missing pid: got nil error")
	}
}

func rusageSeconds(t *testing.T) float64 {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func TestClockTicks(t *testing.T) {
	var auxv []byte
	for _, kv := range [][2]uint64{{6, 4096}, {atClkTck, 250}, {0, 0}, {atClkTck, 999}} {
		auxv = binary.NativeEndian.AppendUint64(auxv, kv[0])
		auxv = binary.NativeEndian.AppendUint64(auxv, kv[1])
	}
	if got, ok := auxvValue(auxv, atClkTck); !ok || got != 250 {
		t.Errorf("got %d, %v, want 250, true", got, ok)
	}
	if got, ok := auxvValue(auxv[:16], atClkTck); ok {
		t.Errorf("got %d, true from a vector without AT_CLKTCK, want false", got)
	}
	// This machine's vector holds AT_CLKTCK (Linux always passes it).
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		t.Fatal(err)
	}
	hz, ok := auxvValue(b, atClkTck)
	if !ok || hz == 0 || int64(hz) != ClockTicks() {
		t.Errorf("got AT_CLKTCK %d, %v and ClockTicks %d, want the same positive value", hz, ok, ClockTicks())
	}
}
