package server

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// Garbage collection for password hashing. Each Argon2id hash needs its whole memory cost
// (19 MiB by default) at once, and the hashing pool bounds how many are in use at once
// (workers × cost). kilt serve leaves the collector's pace at the runtime's default
// (GOGC=100) and gives it a soft memory limit only as a ceiling that the steady state does not
// reach: 64 MiB plus five times the pool's memory (254 MiB for two workers at 19 MiB).
//
// Why not a lower limit that paces the collector (the earlier budget, 64 MiB + 3 × the pool
// with GOGC=400): a heap that lives at its memory limit makes the runtime hand memory back
// to the system to stay under it, and every hash then faults its 19 MiB in again — about
// 400 page faults and 3 ms of system time per sign-in against 0.7–1.3 ms without the limit
// binding (docs/performance.md, "Sign-in"). Collecting more often costs less than that.
//
// Since the hasher reuses its Argon2 memory (internal/password/argon2), a hash at the
// configured cost allocates nothing large and the collector runs about once every 500
// sign-ins (0.002 a sign-in) instead of every third; the ceiling still bounds a burst of costlier
// legacy hashes, which allocate their memory per hash as before.
//
// The hasher keeps one working memory per pool slot for the server's life, and TuneGC has it
// allocate them at start (password.Hasher.Reserve; not written, so not resident until a hash
// uses them). The collector's pace is set by the heap it finds live: a server that has not
// hashed yet — one answering only single sign-on calls or recovery requests after a start —
// would otherwise run it with a heap of a few MiB, a collection every few hundred requests
// and a tenth of its CPU in the collector, where a server that has hashed (any server after
// its first sign-ins) collects every few thousand (docs/performance.md, session 12).
//
// Kept memories are not kept resident: after a minute without a hash their pages go back to
// the system (releaseIdleHashMemory), still allocated, and the next hash faults them in.
//
// An operator who sets GOGC or GOMEMLIMIT keeps the runtime's own handling of them; the
// memories are reserved either way.

// hashMemoryIdle is how long the hasher goes without a hash before the pages of its kept
// memories go back to the system (password.Hasher.ReleaseIdle): an idle server's RSS returns
// to what it started with, and nothing of the last passwords' computations stays in memory.
const hashMemoryIdle = time.Minute

// releaseIdleHashMemory releases the hasher's memories whenever it has been idle for
// hashMemoryIdle, until ctx ends.
func (a *App) releaseIdleHashMemory(ctx context.Context) {
	t := time.NewTicker(hashMemoryIdle / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.Hasher.ReleaseIdle(hashMemoryIdle)
		}
	}
}

// memoryCeiling is the soft memory limit for a hashing pool of workers at argon2KiB each.
func memoryCeiling(workers int, argon2KiB uint32) int64 {
	return 64<<20 + 5*int64(workers)*int64(argon2KiB)<<10
}

// TuneGC reserves the hasher's working memories and sets the runtime's memory limit for the
// app's hashing pool, unless getenv names GOGC or GOMEMLIMIT. It returns what it did, for
// the log.
func (a *App) TuneGC(getenv func(string) string) string {
	kib := a.Hasher.Reserve()
	return fmt.Sprintf("%s, hashing memory reserved %d MiB", tuneGC(a.Pool.Stats().Size, a.Config.Argon2Memory, getenv), kib>>10)
}

// tuneGC is TuneGC for a pool of workers hashing at argon2KiB each.
func tuneGC(workers int, argon2KiB uint32, getenv func(string) string) string {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return "GOGC and GOMEMLIMIT from the environment"
	}
	limit := memoryCeiling(workers, argon2KiB)
	debug.SetMemoryLimit(limit)
	return fmt.Sprintf("GOGC at the runtime's default, memory limit %d MiB", limit>>20)
}
