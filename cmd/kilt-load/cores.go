package main

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// each runs body on one goroutine per core of c, each bound to c's cores, and waits for
// them. It returns where they ran: c's cores, or "any" when a binding was refused (the
// server's cores outside this process's cpuset) and that goroutine ran wherever the
// scheduler put it.
func (c rawCores) each(body func()) string {
	n := c.workers()
	if p := runtime.GOMAXPROCS(0); p < n {
		// This tool may itself be bound to fewer cores than the server: a P per worker
		// all the same, each worker's thread on the server's cores.
		runtime.GOMAXPROCS(n)
		defer runtime.GOMAXPROCS(p)
	}
	var (
		wg      sync.WaitGroup
		unbound atomic.Bool
	)
	for range n {
		wg.Go(func() {
			if !c.enter() {
				unbound.Store(true)
			}
			body()
		})
	}
	wg.Wait()
	if unbound.Load() {
		return "any"
	}
	return c.String()
}
