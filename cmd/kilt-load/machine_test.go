package main

import (
	"math"
	"testing"
	"time"
)

func TestParseMachineStat(t *testing.T) {
	const stat = "cpu  1000 10 300 5000 20 5 15 0 0 0\n" +
		"cpu0 500 5 150 2500 10 3 7 0 0 0\n" +
		"cpu1 500 5 150 2500 10 2 8 0 0 0\n" +
		"intr 12345 0 0\nctxt 999\nbtime 1764900000\nprocesses 42\n"
	got, err := parseMachineStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	want := machineStat{User: 1000, Nice: 10, System: 300, Idle: 5000, IOWait: 20, IRQ: 5, SoftIRQ: 15, Cores: 2}
	if got != want {
		t.Errorf("parseMachineStat = %+v, want %+v", got, want)
	}
	for name, bad := range map[string]string{
		"empty":           "",
		"no total":        "cpu0 1 2 3 4 5 6 7 8\n",
		"no cores":        "cpu 1 2 3 4 5 6 7 8\n",
		"too few counts":  "cpu 1 2 3 4\ncpu0 1 2 3 4\n",
		"not a count":     "cpu 1 2 x 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n",
		"odd cpu line":    "cpu 1 2 3 4 5 6 7 8\ncpuX 1 2 3 4 5 6 7 8\n",
		"negative number": "cpu 1 2 -3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n",
	} {
		if _, err := parseMachineStat([]byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMachineStatSelf(t *testing.T) {
	m, err := readMachineStat()
	if err != nil {
		t.Fatal(err)
	}
	if m.Cores < 1 || m.total() == 0 {
		t.Errorf("readMachineStat = %+v, want cores and time", m)
	}
}

func TestMachineUsage(t *testing.T) {
	// Two cores for 10 s (2000 ticks): 1200 user, 400 system, 100 softirq, 250 idle, 50 iowait.
	before := machineStat{User: 1000, System: 500, Idle: 3000, IOWait: 10, SoftIRQ: 20, Cores: 2}
	after := machineStat{User: 2200, System: 900, Idle: 3250, IOWait: 60, SoftIRQ: 120, Cores: 2}
	server := 12 * time.Second
	u, err := machineUsage(before, after, &server, 2*time.Second, 1000)
	if err != nil {
		t.Fatal(err)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("busy", u.Busy, 1.7)
	near("user", u.User, 1.2)
	near("kernel", u.Kernel, 0.5)
	near("idle", u.Idle, 0.25)
	near("iowait", u.IOWait, 0.05)
	near("client per 2xx", u.ClientMS, 2)
	if u.OtherMS == nil {
		t.Fatal("no other per 2xx with the server's time")
	}
	// Busy 17 s − server 12 s − tool 2 s = 3 s over 1000 answers.
	near("other per 2xx", *u.OtherMS, 3)

	if u, err := machineUsage(before, after, nil, 2*time.Second, 1000); err != nil || u.OtherMS != nil {
		t.Errorf("without the server: %+v, %v; want no other", u, err)
	}
	if _, err := machineUsage(after, before, nil, 0, 1); err == nil {
		t.Error("counts going backwards: no error")
	}
	if _, err := machineUsage(before, before, nil, 0, 1); err == nil {
		t.Error("no time passed: no error")
	}
	three := after
	three.Cores = 3
	if _, err := machineUsage(before, three, nil, 0, 1); err == nil {
		t.Error("cores changed: no error")
	}
}
