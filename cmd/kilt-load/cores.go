package main

import (
	"runtime"
	"sync"
)

// each moves this process onto c's cores, runs body on one goroutine per core, waits for
// them and moves the process back. It returns where they ran: c's cores, or "any" when the
// move was refused (the server's cores outside this process's cpuset) and the loop ran
// where the process may.
func (c rawCores) each(body func()) string {
	where := c.String()
	if restore, err := c.move(); err != nil {
		where = "any"
	} else {
		defer restore()
	}
	n := c.workers()
	if p := runtime.GOMAXPROCS(0); p != n {
		// This tool may itself be bound to fewer or more cores than the server: a P per
		// worker, for the window.
		runtime.GOMAXPROCS(n)
		defer runtime.GOMAXPROCS(p)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(body)
	}
	wg.Wait()
	return where
}
