package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
)

// defaultClockTicks is USER_HZ on Linux (the unit of utime and stime in
// /proc/<pid>/stat) when the auxiliary vector does not say: 100 on every
// mainstream architecture.
const defaultClockTicks = 100

// atClkTck is AT_CLKTCK, the auxiliary vector entry with the kernel's
// USER_HZ (what sysconf(_SC_CLK_TCK) returns).
const atClkTck = 17

var (
	clockTicksOnce sync.Once
	clockTicks     int64
)

// ClockTicks is USER_HZ: read from /proc/self/auxv (AT_CLKTCK), else
// defaultClockTicks.
func ClockTicks() int64 {
	clockTicksOnce.Do(func() {
		clockTicks = defaultClockTicks
		if b, err := os.ReadFile("/proc/self/auxv"); err == nil {
			if hz, ok := auxvValue(b, atClkTck); ok && hz > 0 {
				clockTicks = int64(hz)
			}
		}
	})
	return clockTicks
}

// auxvValue finds key in an auxiliary vector of native-endian 64-bit
// (key, value) pairs.
func auxvValue(auxv []byte, key uint64) (uint64, bool) {
	for i := 0; i+16 <= len(auxv); i += 16 {
		k := binary.NativeEndian.Uint64(auxv[i:])
		if k == 0 { // AT_NULL ends the vector
			break
		}
		if k == key {
			return binary.NativeEndian.Uint64(auxv[i+8:]), true
		}
	}
	return 0, false
}

// cpuTicks is a process's user and system CPU time, in clock ticks.
type cpuTicks struct {
	User, System int64
}

// Seconds is the total at hz ticks per second.
func (c cpuTicks) Seconds(hz int64) float64 {
	return float64(c.User+c.System) / float64(hz)
}

// readCPU reads utime and stime of pid from /proc/<pid>/stat.
func readCPU(pid int) (cpuTicks, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTicks{}, err
	}
	return parseStat(b)
}

// parseStat reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat
// line. The second field, the command name in parentheses, may itself hold
// spaces and parentheses, so the fields are counted from the last ')'.
func parseStat(b []byte) (cpuTicks, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return cpuTicks{}, errors.New("/proc stat: no command name")
	}
	// After ") ": state (field 3), ppid, pgrp, session, tty_nr, tpgid,
	// flags, minflt, cminflt, majflt, cmajflt, utime (14), stime (15).
	f := bytes.Fields(b[end+1:])
	if len(f) < 13 {
		return cpuTicks{}, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	user, err := strconv.ParseInt(string(f[11]), 10, 64)
	if err != nil {
		return cpuTicks{}, fmt.Errorf("/proc stat utime: %w", err)
	}
	sys, err := strconv.ParseInt(string(f[12]), 10, 64)
	if err != nil {
		return cpuTicks{}, fmt.Errorf("/proc stat stime: %w", err)
	}
	return cpuTicks{User: user, System: sys}, nil
}

// cpuMeter measures the CPU a process uses between start and stop.
type cpuMeter struct {
	pid   int
	start cpuTicks
}

// startCPU reads pid's CPU time now.
func startCPU(pid int) (*cpuMeter, error) {
	t, err := readCPU(pid)
	if err != nil {
		return nil, fmt.Errorf("pid %d: %w", pid, err)
	}
	return &cpuMeter{pid: pid, start: t}, nil
}

// seconds returns the CPU seconds pid used since startCPU.
func (m *cpuMeter) seconds() (float64, error) {
	t, err := readCPU(m.pid)
	if err != nil {
		return 0, fmt.Errorf("pid %d: %w", m.pid, err)
	}
	d := cpuTicks{User: t.User - m.start.User, System: t.System - m.start.System}
	return d.Seconds(ClockTicks()), nil
}
