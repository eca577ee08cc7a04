package main

import (
	"crypto/sha256"
	"os"
	"testing"
	"time"
)

// burnCPU works until the process has used at least one clock tick, so that its CPU time
// cannot read zero; it gives up after a bounded amount of work.
func burnCPU(t *testing.T) {
	t.Helper()
	sum := sha256.Sum256(nil)
	for range 200 {
		if d, err := procCPU(os.Getpid()); err == nil && d.Total() > 0 {
			return
		}
		for range 20000 {
			sum = sha256.Sum256(sum[:])
		}
	}
}

func TestProcSelf(t *testing.T) {
	burnCPU(t)
	pid := os.Getpid()
	cpu, err := procCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	if cpu.Total() <= 0 || cpu.MinorFaults == 0 {
		t.Errorf("CPU time of this process = %v, minor faults %d, want both > 0", cpu.Total(), cpu.MinorFaults)
	}
	rss, hwm, err := procMemory(pid)
	if err != nil {
		t.Fatal(err)
	}
	if rss == 0 || hwm == 0 {
		t.Errorf("VmRSS = %d, VmHWM = %d, want both > 0", rss, hwm)
	}
	if hwm < rss {
		t.Errorf("VmHWM = %d < VmRSS = %d, want the peak at least the current size", hwm, rss)
	}
}

func TestWatchSelf(t *testing.T) {
	w, err := startWatch(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	burnCPU(t)
	u, err := w.stop()
	if err != nil {
		t.Fatal(err)
	}
	if u.MaxRSS == 0 || u.HWM < u.MaxRSS || u.RSSSamples < 2 {
		t.Errorf("usage = %+v, want RSS > 0, VmHWM ≥ it, at least 2 samples", u)
	}
	if u.Wall <= 0 || u.CPU.Total() < 0 {
		t.Errorf("usage = %+v, want wall > 0 and CPU ≥ 0", u)
	}
}

func TestWatchGoneProcess(t *testing.T) {
	if _, err := startWatch(1 << 30); err == nil {
		t.Error("startWatch of a process that does not exist: no error")
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    cpuStat
		wantErr bool
	}{
		{
			name: "plain",
			stat: "4242 (kilt) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 100 0 0",
			want: cpuStat{User: 2500 * time.Millisecond, System: 750 * time.Millisecond, MinorFaults: 1000},
		},
		{
			name: "command name with spaces and parentheses",
			stat: "7 (a) b (c) R 1 7 7 0 -1 0 42 0 0 0 1 2 0 0 20 0 1 0 5 0 0",
			want: cpuStat{User: 10 * time.Millisecond, System: 20 * time.Millisecond, MinorFaults: 42},
		},
		{name: "truncated", stat: "7 (x) R 1 2 3", wantErr: true},
		{name: "no command name", stat: "7 x R", wantErr: true},
		{name: "not a number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 ab 2 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatCPU error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseStatCPU = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	tests := []struct {
		name     string
		status   string
		rss, hwm uint64
		wantErr  bool
	}{
		{
			name:   "both",
			status: "Name:\tkilt\nVmPeak:\t  900 kB\nVmHWM:\t   2048 kB\nVmRSS:\t    1024 kB\nThreads:\t9\n",
			rss:    1 << 20, hwm: 2 << 20,
		},
		{name: "kernel thread has none", status: "Name:\tkthreadd\nThreads:\t1\n", wantErr: true},
		{name: "unexpected unit", status: "VmHWM:\t1 MB\nVmRSS:\t1 kB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseStatusMemory([]byte(tt.status))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatusMemory error = %v, want error %v", err, tt.wantErr)
			}
			if rss != tt.rss || hwm != tt.hwm {
				t.Errorf("parseStatusMemory = %d, %d, want %d, %d", rss, hwm, tt.rss, tt.hwm)
			}
		})
	}
}
