package server

import (
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestTuneGC(t *testing.T) {
	// Restore the test binary's own settings afterwards.
	oldLimit, oldPercent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(oldPercent)
	t.Cleanup(func() {
		debug.SetMemoryLimit(oldLimit)
		debug.SetGCPercent(oldPercent)
	})

	got := tuneGC(4, 19456, func(string) string { return "" })
	want := int64(64<<20 + 5*4*19456<<10)
	if limit := debug.SetMemoryLimit(-1); limit != want {
		t.Errorf("memory limit %d, want %d (64 MiB + 5 × 4 workers × 19456 KiB)", limit, want)
	}
	if p := debug.SetGCPercent(oldPercent); p != oldPercent {
		t.Errorf("GOGC %d, want it left at %d", p, oldPercent)
	}
	if !strings.Contains(got, "memory limit 444 MiB") {
		t.Errorf("tuneGC says %q", got)
	}

	// An app's budget is that of its own pool (devApp: 8192 KiB a hash).
	app := devApp(t, io.Discard)
	said := app.TuneGC(func(string) string { return "" })
	if kib := app.Hasher.KeptMemory(); kib != uint64(app.Pool.Stats().Size)*8192 {
		t.Errorf("app: the hasher keeps %d KiB after TuneGC, want %d × 8192 reserved", kib, app.Pool.Stats().Size)
	}
	if want := fmt.Sprintf("hashing memory reserved %d MiB", app.Pool.Stats().Size*8); !strings.Contains(said, want) {
		t.Errorf("app: TuneGC says %q, want %q in it", said, want)
	}
	if limit, want := debug.SetMemoryLimit(-1), int64(64<<20+5*app.Pool.Stats().Size*8192<<10); limit != want {
		t.Errorf("app: memory limit %d, want %d for a pool of %d", limit, want, app.Pool.Stats().Size)
	}

	// An operator's GOGC or GOMEMLIMIT wins: nothing is changed.
	for _, env := range []string{"GOGC", "GOMEMLIMIT"} {
		debug.SetMemoryLimit(math.MaxInt64)
		debug.SetGCPercent(100)
		got := tuneGC(4, 19456, func(k string) string {
			if k == env {
				return "200"
			}
			return ""
		})
		if limit, p := debug.SetMemoryLimit(-1), debug.SetGCPercent(100); limit != math.MaxInt64 || p != 100 {
			t.Errorf("%s set: limit %d and GOGC %d changed", env, limit, p)
		}
		if !strings.Contains(got, "from the environment") {
			t.Errorf("%s set: tuneGC says %q", env, got)
		}
	}
}
