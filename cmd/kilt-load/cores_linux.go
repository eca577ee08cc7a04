package main

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// rawCores is where the raw loops (--argon2, --rs256) run: on the cores the server may run
// on, read from its affinity (--pid), one goroutine per core, each on a thread bound to
// those cores. A raw rate is then what Kilt's own cores can do, even when the server is
// given cores of its own and the database and this tool others (taskset): the rate is not
// taken from the tool's cores. The zero value, without --pid, is wherever this process may
// run, GOMAXPROCS goroutines.
type rawCores struct {
	set unix.CPUSet
	n   int
}

// serverCores reads the cores process pid may run on.
func serverCores(pid int) (rawCores, error) {
	var c rawCores
	if pid <= 0 {
		return c, nil
	}
	if err := unix.SchedGetaffinity(pid, &c.set); err != nil {
		return c, fmt.Errorf("the cores of process %d: %v", pid, err)
	}
	c.n = c.set.Count()
	return c, nil
}

// workers is how many goroutines a raw loop runs: one per core.
func (c rawCores) workers() int {
	if c.n == 0 {
		return runtime.GOMAXPROCS(0)
	}
	return c.n
}

// String names the cores, as taskset does ("0,1"), or "any".
func (c rawCores) String() string {
	if c.n == 0 {
		return "any"
	}
	s := ""
	for i := range 1024 {
		if c.set.IsSet(i) {
			if s != "" {
				s += ","
			}
			s += fmt.Sprint(i)
		}
	}
	return s
}

// enter binds the calling goroutine's thread to the cores. It is called first thing in a
// goroutine that then ends: the thread stays locked to it and leaves with it, so no other
// goroutine ever runs bound. It reports whether the binding took.
func (c rawCores) enter() bool {
	if c.n == 0 {
		return true
	}
	runtime.LockOSThread()
	return unix.SchedSetaffinity(0, &c.set) == nil
}
