package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssInterval is how often the server's memory is sampled.
const rssInterval = 100 * time.Millisecond

// rssSampler records the peak resident memory of a process from
// /proc/<pid>/status: the largest VmRSS sampled, and the kernel's own
// high-water mark VmHWM (which covers the process's whole life, including
// moments between samples and before the run).
type rssSampler struct {
	path string
	mu   sync.Mutex
	peak int64 // bytes
	hwm  int64 // bytes
	done <-chan struct{}
}

// startRSS samples pid until ctx ends; it fails when pid cannot be read.
func startRSS(ctx context.Context, pid int) (*rssSampler, error) {
	s := &rssSampler{path: fmt.Sprintf("/proc/%d/status", pid)}
	if err := s.sample(); err != nil {
		return nil, fmt.Errorf("--pid %d: %w", pid, err)
	}
	s.done = every(ctx, rssInterval, func() {
		_ = s.sample() // the server may have exited; keep what we have
	})
	return s, nil
}

func (s *rssSampler) sample() error {
	rss, hwm, err := readStatus(s.path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak = max(s.peak, rss)
	s.hwm = max(s.hwm, hwm)
	return nil
}

// result waits for the sampler to stop (its ctx must be done) and returns
// the peak sampled VmRSS and the last VmHWM, in bytes.
func (s *rssSampler) result() (peak, hwm int64) {
	<-s.done
	_ = s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.hwm
}

// readStatus reads VmRSS and VmHWM (in bytes) from a /proc status file.
func readStatus(path string) (rss, hwm int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := parseKB(v)
		if err != nil {
			return 0, 0, fmt.Errorf("%s %s: %w", path, k, err)
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if rss == 0 && hwm == 0 {
		return 0, 0, fmt.Errorf("%s: no VmRSS (a kernel thread or a zombie?)", path)
	}
	return rss, hwm, nil
}

// parseKB reads "  12345 kB" as bytes.
func parseKB(v string) (int64, error) {
	f := strings.Fields(v)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("unexpected value %q", v)
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	return n * 1024, err
}
