package server

import (
	"fmt"
	"runtime/debug"
)

// Garbage collection for password hashing. Each Argon2id hash allocates its whole memory
// cost (19 MiB by default) at once, while the rest of what kilt keeps live is about 10 MiB.
// Paced by the default GOGC=100, the collector therefore runs every two or three hashes, and
// each run marks everything live again: 4–6 % of the CPU under sign-in load, CPU taken from
// hashing. The hashing pool already bounds how much of that memory is in use at once
// (workers × cost), so the collector is given a budget that holds it instead: a soft memory
// limit of 64 MiB plus three times the pool's memory, and a GOGC of 400 below it. Sign-in
// load then collects about half as often (measured in docs/performance.md), and memory
// stays bounded by the limit rather than by the pace of hashing.
//
// An operator who sets GOGC or GOMEMLIMIT keeps the runtime's own handling of them.

// gcPercent is the GOGC kilt serve runs with when the operator sets none.
const gcPercent = 400

// memoryBudget is the soft memory limit for a hashing pool of workers at argon2KiB each.
func memoryBudget(workers int, argon2KiB uint32) int64 {
	return 64<<20 + 3*int64(workers)*int64(argon2KiB)<<10
}

// TuneGC sets the runtime's collector for the app's hashing pool, unless getenv names GOGC
// or GOMEMLIMIT. It returns what it did, for the log.
func (a *App) TuneGC(getenv func(string) string) string {
	return tuneGC(a.Pool.Stats().Size, a.Config.Argon2Memory, getenv)
}

// tuneGC is TuneGC for a pool of workers hashing at argon2KiB each.
func tuneGC(workers int, argon2KiB uint32, getenv func(string) string) string {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return "GOGC and GOMEMLIMIT from the environment"
	}
	limit := memoryBudget(workers, argon2KiB)
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(gcPercent)
	return fmt.Sprintf("GOGC=%d, memory limit %d MiB", gcPercent, limit>>20)
}
