package server

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"kilt/internal/config"
)

func TestTuneGC(t *testing.T) {
	// Restore the test binary's own settings afterwards.
	oldLimit, oldPercent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(oldPercent)
	t.Cleanup(func() {
		debug.SetMemoryLimit(oldLimit)
		debug.SetGCPercent(oldPercent)
	})

	cfg := &config.Config{HashWorkers: 4, Argon2Memory: 19456}
	got := TuneGC(cfg, func(string) string { return "" })
	want := int64(64<<20 + 3*4*19456<<10)
	if limit := debug.SetMemoryLimit(-1); limit != want {
		t.Errorf("memory limit %d, want %d (64 MiB + 3 × 4 workers × 19456 KiB)", limit, want)
	}
	if p := debug.SetGCPercent(gcPercent); p != gcPercent {
		t.Errorf("GOGC %d, want %d", p, gcPercent)
	}
	if !strings.Contains(got, "GOGC=400") || !strings.Contains(got, "memory limit 292 MiB") {
		t.Errorf("TuneGC says %q", got)
	}

	// An operator's GOGC or GOMEMLIMIT wins: nothing is changed.
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetMemoryLimit(math.MaxInt64)
		debug.SetGCPercent(100)
		got := TuneGC(cfg, func(k string) string {
			if k == env {
				return "200"
			}
			return ""
		})
		if limit, p := debug.SetMemoryLimit(-1), debug.SetGCPercent(100); limit != math.MaxInt64 || p != 100 {
			t.Errorf("%s set: limit %d and GOGC %d changed", env, limit, p)
		}
		if !strings.Contains(got, "from the environment") {
			t.Errorf("%s set: TuneGC says %q", env, got)
		}
	}
}
