package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is the unit of utime and stime in /proc/PID/stat. It is USER_HZ, which Linux
// fixes at 100 for user space on every architecture Go runs the tool on (amd64, arm64, …),
// whatever the kernel's internal HZ; reading it with sysconf(_SC_CLK_TCK) would need cgo
// for the same answer.
const clockTicks = 100

// cpuStat is a process's CPU time so far, user and system apart, and its minor page faults
// (a page mapped in without reading a disk: for a Go server, mostly memory the runtime
// handed back to the system and touched again, each one zeroed by the kernel).
type cpuStat struct {
	User, System time.Duration
	MinorFaults  uint64
}

// Total is user plus system time.
func (c cpuStat) Total() time.Duration { return c.User + c.System }

// minus is what c counts beyond an earlier reading of the same process.
func (c cpuStat) minus(before cpuStat) cpuStat {
	return cpuStat{User: c.User - before.User, System: c.System - before.System, MinorFaults: c.MinorFaults - before.MinorFaults}
}

// procCPU returns the CPU time and minor faults process pid has had so far.
func procCPU(pid int) (cpuStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuStat{}, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads minflt, utime and stime (fields 10, 14 and 15) from the contents of
// /proc/PID/stat. Field 2, the command name, is in parentheses and may itself contain
// spaces and parentheses, so the fields are counted from the last ')'.
func parseStatCPU(b []byte) (cpuStat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return cpuStat{}, errors.New("/proc stat: no command name")
	}
	// After ')' come field 3 (state) onwards: minflt is the 8th of them, utime the 12th,
	// stime the 13th.
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return cpuStat{}, errors.New("/proc stat: too few fields")
	}
	var n [3]uint64
	for i, s := range []string{f[7], f[11], f[12]} {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return cpuStat{}, fmt.Errorf("/proc stat: %q is not a count", s)
		}
		n[i] = v
	}
	tick := time.Second / clockTicks
	return cpuStat{MinorFaults: n[0], User: time.Duration(n[1]) * tick, System: time.Duration(n[2]) * tick}, nil
}

// procMemory returns the resident set size of process pid now (VmRSS) and the highest it
// has been in the process's life (VmHWM), in bytes.
func procMemory(pid int) (rss, hwm uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStatusMemory(b)
}

// parseStatusMemory reads VmRSS and VmHWM from the contents of /proc/PID/status.
func parseStatusMemory(b []byte) (rss, hwm uint64, err error) {
	var haveRSS, haveHWM bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("/proc status: %s: unexpected %q", key, val)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc status: %s: %q is not a number", key, f[0])
		}
		if key == "VmRSS" {
			rss, haveRSS = n*1024, true
		} else {
			hwm, haveHWM = n*1024, true
		}
	}
	if !haveRSS || !haveHWM {
		// Kernel threads and zombies have no memory lines.
		return 0, 0, errors.New("/proc status: no VmRSS/VmHWM (not a live user process?)")
	}
	return rss, hwm, nil
}

// rssInterval is how often a run samples the server's resident set size.
const rssInterval = 50 * time.Millisecond

// watch follows one process during a run: its CPU time from start to stop, and the largest
// resident set size seen when sampled every rssInterval. VmHWM alone is not enough: it is
// the peak over the process's whole life, so it may come from before the run; and the
// kernel updates it lazily (and keeps RSS in per-CPU counters), so it can even read a little
// below a VmRSS sampled earlier. Sampling misses peaks shorter than the interval: the report
// gives both.
type watch struct {
	pid      int
	cpuStart cpuStat
	start    time.Time

	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	maxRSS   uint64
	samples  int
}

// usage is what a watch measured.
type usage struct {
	CPU        cpuStat
	Wall       time.Duration
	MaxRSS     uint64 // largest VmRSS sampled during the run, bytes
	HWM        uint64 // VmHWM at the end: peak over the process's whole life, bytes
	RSSSamples int
}

// startWatch reads the process's CPU time and starts sampling its memory.
func startWatch(pid int) (*watch, error) {
	cpu, err := procCPU(pid)
	if err != nil {
		return nil, err
	}
	rss, _, err := procMemory(pid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{pid: pid, cpuStart: cpu, start: time.Now(), cancel: cancel, done: make(chan struct{}),
		maxRSS: rss, samples: 1}
	go w.sample(ctx)
	return w, nil
}

func (w *watch) sample(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(rssInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.record()
		}
	}
}

func (w *watch) record() {
	rss, _, err := procMemory(w.pid)
	if err != nil {
		return // a process that is gone is reported by stop
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	w.maxRSS = max(w.maxRSS, rss)
}

// stop ends the sampling (after one last sample) and returns what was measured.
func (w *watch) stop() (usage, error) {
	w.stopOnce.Do(func() {
		w.cancel()
		<-w.done
		w.record()
	})
	wall := time.Since(w.start)
	cpu, err := procCPU(w.pid)
	if err != nil {
		return usage{}, fmt.Errorf("process %d: %w", w.pid, err)
	}
	_, hwm, err := procMemory(w.pid)
	if err != nil {
		return usage{}, fmt.Errorf("process %d: %w", w.pid, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return usage{CPU: cpu.minus(w.cpuStart), Wall: wall, MaxRSS: w.maxRSS, HWM: hwm, RSSSamples: w.samples}, nil
}
