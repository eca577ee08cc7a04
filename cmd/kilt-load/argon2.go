package main

import (
	"context"
	"crypto/rand"
	"os"
	"sync/atomic"
	"time"

	"kilt/internal/password"
	"kilt/internal/password/argon2"
)

// rawRate is the machine's raw Argon2id rate.
type rawRate struct {
	Params  password.Params
	Workers int
	Cores   string // where the workers ran: rawCores.each
	Hashes  int64
	Wall    time.Duration
	// CPU is this process's CPU time and page faults during the window: the bare loop's.
	CPU cpuStat
}

// PerSecond returns the hashes per second.
func (r rawRate) PerSecond() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Hashes) / r.Wall.Seconds()
}

// measureArgon2 computes Argon2id at cost p on one goroutine per core of cores, calling the
// implementation the server uses directly (kilt/internal/password/argon2, each goroutine
// in a Memory of its own as each of the server's hashing workers; no pool, no HTTP, no
// database), with the salt and key sizes the service uses. Each goroutine starts a hash while the window is open and finishes the one it
// is on; the rate is all finished hashes over the time until the last one finished, so no
// hash is counted half. ctx ending stops it early with what was measured.
func measureArgon2(ctx context.Context, p password.Params, cores rawCores, window time.Duration) rawRate {
	var hashes atomic.Int64
	pw := []byte("Raw-Argon2id-rate-01!")
	cpu0, _ := procCPU(os.Getpid())
	start := time.Now()
	deadline := start.Add(window)
	where := cores.each(func() {
		salt := make([]byte, password.SaltLen)
		var mem argon2.Memory
		for ctx.Err() == nil && time.Now().Before(deadline) {
			rand.Read(salt)
			mem.IDKey(pw, salt, p.Time, p.Memory, p.Threads, password.KeyLen)
			hashes.Add(1)
		}
	})
	wall := time.Since(start)
	cpu1, _ := procCPU(os.Getpid())
	return rawRate{Params: p, Workers: cores.workers(), Cores: where, Hashes: hashes.Load(), Wall: wall, CPU: cpu1.minus(cpu0)}
}
