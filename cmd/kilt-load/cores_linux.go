package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// rawCores is where the raw loops (--argon2, --rs256) run: on the cores the server may run
// on, read from its affinity (--pid), one goroutine per core. A raw rate is then what
// Kilt's own cores can do, even when the server is given cores of its own and the database
// and this tool others (taskset): the rate is not taken from the tool's cores. The zero
// value, without --pid, is wherever this process may run, GOMAXPROCS goroutines.
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
			s += strconv.Itoa(i)
		}
	}
	return s
}

// move puts every thread of this process on c's cores and returns what puts them back on
// the cores the process had. Threads started meanwhile inherit their starter's cores and
// are put back too. (Binding only the workers' threads, with runtime.LockOSThread, cost
// the loop a quarter of its rate: each preemption of a locked goroutine hands its P
// between two threads.)
func (c rawCores) move() (restore func(), err error) {
	if c.n == 0 {
		return func() {}, nil
	}
	var had unix.CPUSet
	if err := unix.SchedGetaffinity(0, &had); err != nil {
		return nil, err
	}
	if err := eachThread(&c.set); err != nil {
		eachThread(&had)
		return nil, err
	}
	return func() { eachThread(&had) }, nil
}

// eachThread sets the cores of every thread of this process.
func eachThread(set *unix.CPUSet) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
			return fmt.Errorf("thread %d onto cores: %v", tid, err)
		}
	}
	return nil
}
