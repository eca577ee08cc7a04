package main

import (
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRawLoopsRunOnTheServersCores: with the server bound to one core (as taskset -c binds
// it), the raw loops run one goroutine, on that core only, whatever cores this process has;
// afterwards the process is back on its own cores.
func TestRawLoopsRunOnTheServersCores(t *testing.T) {
	var mine unix.CPUSet
	if err := unix.SchedGetaffinity(0, &mine); err != nil {
		t.Fatal(err)
	}
	last := -1
	for i := range 1024 {
		if mine.IsSet(i) {
			last = i
		}
	}
	server := exec.Command("sleep", "30")
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Process.Kill(); server.Wait() })
	var one unix.CPUSet
	one.Set(last)
	if err := unix.SchedSetaffinity(server.Process.Pid, &one); err != nil {
		t.Fatal(err)
	}

	cores, err := serverCores(server.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if cores.workers() != 1 {
		t.Fatalf("workers for a server on core %d: %d, want 1", last, cores.workers())
	}
	var (
		mu  sync.Mutex
		ran []unix.CPUSet
	)
	where := cores.each(func() {
		var s unix.CPUSet
		if err := unix.SchedGetaffinity(0, &s); err != nil {
			t.Error(err)
		}
		mu.Lock()
		ran = append(ran, s)
		mu.Unlock()
	})
	if len(ran) != 1 || ran[0] != one {
		t.Errorf("the loop ran %d times, on %v; want once, on core %d only", len(ran), ran, last)
	}
	if want := cores.String(); where != want || want == "any" {
		t.Errorf("each reported cores %q, want %q (core %d)", where, want, last)
	}

	// Without --pid: GOMAXPROCS goroutines, wherever this process may run.
	free, err := serverCores(0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if where := free.each(func() { mu.Lock(); n++; mu.Unlock() }); where != "any" || n != free.workers() {
		t.Errorf("without a server: %d goroutines on %q, want %d on any", n, where, free.workers())
	}
	// Every thread of the process is back where it was.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		var after unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &after); err == nil && after != mine {
			t.Errorf("thread %d after the loops: on %v, want %v", tid, after, mine)
		}
	}
}
